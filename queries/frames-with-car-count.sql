-- How many frames contain a car.
-- shape: aggregate
SELECT COUNT(DISTINCT frame) FROM traffic WHERE class = 'car'
