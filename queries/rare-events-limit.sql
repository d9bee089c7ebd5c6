-- Rare events (BlazeIt's limit query): 10 frames with at least 3 cars and a bus, at least 300 frames apart.
-- shape: grouped-limit
SELECT timestamp FROM traffic GROUP BY timestamp
  HAVING SUM(class = 'car') >= 3 AND SUM(class = 'bus') >= 1 LIMIT 10 GAP 300
