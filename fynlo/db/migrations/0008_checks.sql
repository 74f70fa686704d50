-- A check made by the statement itself: when `ok` is not true the statement fails with
-- SQLSTATE `code`, so the transaction can never commit. This lets a unit of work send COMMIT
-- together with its writes instead of reading their answers first (fynlo/db/pool.py).
CREATE FUNCTION fynlo_check(ok boolean, code text, message text) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    IF ok IS NOT TRUE THEN
        RAISE EXCEPTION USING ERRCODE = code, MESSAGE = message;
    END IF;
    RETURN true;
END
$$;
