-- How many car objects in total, over all frames.
-- shape: aggregate
SELECT COUNT(*) FROM traffic WHERE class = 'car'
