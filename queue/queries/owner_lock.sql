-- Serialises the admissions of owner $1 until the end of the transaction, so
-- two submissions cannot both fit in the room left for one. The two-key form
-- (class 7450164, the owner's hash) cannot collide with the one-key job locks;
-- a hash collision between owners only serialises them.
SELECT pg_advisory_xact_lock(7450164, hashtext($1))
