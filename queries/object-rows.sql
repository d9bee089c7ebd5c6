-- Object rows: every confident bus, most confident first.
-- shape: select-rows
SELECT * FROM traffic WHERE class = 'bus' AND score >= 0.6 ORDER BY score DESC LIMIT 20
