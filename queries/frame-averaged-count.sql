-- Frame-averaged count of cars (BlazeIt's aggregate); error bound optional.
-- shape: aggregate
SELECT FCOUNT(*) FROM traffic WHERE class = 'car' ERROR WITHIN 0.1 AT CONFIDENCE 95%
