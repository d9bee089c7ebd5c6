-- Content predicates on boxes, confidence and time ranges: confident, large people on the right, between 1 and 2 minutes.
-- shape: select-frames
SELECT timestamp FROM traffic
  WHERE class = 'person' AND score >= 0.5 AND xmin > 320 AND area > 2000
    AND timestamp BETWEEN 60 AND 120
