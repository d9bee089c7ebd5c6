-- A column list returning object rows: vehicles of any kind in the first 30 seconds, with their box sizes.
-- shape: select-rows
SELECT frame, timestamp, class, score, width, height, area
FROM traffic
WHERE class IN ('car', 'bus', 'truck') -- vehicles
  AND timestamp < 30
ORDER BY frame, score DESC
