-- EXPLAIN prints the chosen cascade with its estimated cost and accuracy, without running it.
-- shape: select-frames
EXPLAIN SELECT timestamp FROM traffic WHERE class = 'bus' FNR WITHIN 0.05 FPR WITHIN 0.05
