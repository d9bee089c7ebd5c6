-- Reading a file directly instead of a catalog name (the path is relative to the working directory).
-- shape: select-frames
SELECT frame FROM '../shared/data/videos/road_polecam.mp4' WHERE class = 'bus' LIMIT 5 GAP 25;
