-- gridmap_ensure_fix_partition, again: its second look for the partition, after waiting for a
-- concurrent caller to create it, missed it. Waiting on an advisory lock does not make a backend
-- take in the catalog changes of the transaction it waited for (acquiring a relation lock does),
-- so the look answered from the stale catalog cache of the first one, and CREATE TABLE failed
-- with "relation worker_fix_YYYYMMDD already exists": of two batches holding a day's first
-- fixes, stored at once, one failed (a 503 to the poster, each new UTC day). The callers now
-- queue on the lock ATTACH PARTITION takes on worker_fix anyway (SHARE UPDATE EXCLUSIVE, on the
-- parent only: inserts into the partitions go on), which brings the catalog up to date before
-- the second look.
CREATE OR REPLACE FUNCTION gridmap_ensure_fix_partition(day date) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    part text := format('worker_fix_%s', to_char(day, 'YYYYMMDD'));
    lo timestamptz := day::timestamp AT TIME ZONE 'UTC';
    hi timestamptz := (day + 1)::timestamp AT TIME ZONE 'UTC';
BEGIN
    IF to_regclass(part) IS NOT NULL THEN
        RETURN;
    END IF;
    LOCK TABLE ONLY worker_fix IN SHARE UPDATE EXCLUSIVE MODE;
    IF to_regclass(part) IS NOT NULL THEN
        RETURN;
    END IF;
    EXECUTE format('CREATE TABLE %I (LIKE worker_fix INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part);
    EXECUTE format(
        'WITH moved AS (DELETE FROM worker_fix_default WHERE at >= %L AND at < %L RETURNING *) '
        'INSERT INTO %I SELECT * FROM moved', lo, hi, part);
    EXECUTE format('ALTER TABLE worker_fix ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', part, lo, hi);
END
$$;
