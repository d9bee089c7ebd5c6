-- EXPLAIN ANALYZE runs the query and adds what was measured to the plan.
-- shape: aggregate
EXPLAIN ANALYZE SELECT FCOUNT(*) FROM traffic WHERE class = 'car' ERROR WITHIN 0.1 AT CONFIDENCE 0.95
