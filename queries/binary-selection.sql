-- Frames that contain a car (NoScope's binary query); accuracy targets optional.
-- shape: select-frames
SELECT timestamp FROM traffic WHERE class = 'car' FNR WITHIN 0.01 FPR WITHIN 0.01
