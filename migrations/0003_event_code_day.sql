-- Event codes (E + report day + 6 digits) are reserved per day from a counter in a short
-- transaction of their own, so concurrent ingests no longer hold one lock from their code
-- assignment to their commit and can write their rows at the same time. A reservation starts
-- after the higher of the counter and the highest stored code of the day, so codes written by
-- other writers (imports, generate) are never handed out again. A batch that fails after its
-- reservation leaves its codes unused (a gap), never a duplicate.
CREATE TABLE event_code_day (
    day_prefix text PRIMARY KEY CONSTRAINT event_code_day_format CHECK (day_prefix ~ '^E[0-9]{8}$'),
    last_seq   integer NOT NULL CONSTRAINT event_code_day_seq_range CHECK (last_seq BETWEEN 0 AND 999999)
);

-- Reserves counts[i] consecutive sequence numbers of day prefixes[i]; returns the first of each.
-- Fails (the CHECK above) when a day's 999 999 codes would be exceeded.
CREATE FUNCTION gridmap_reserve_event_codes(prefixes text[], counts integer[])
RETURNS TABLE (prefix text, first_seq integer)
LANGUAGE plpgsql AS $$
DECLARE
    i integer;
    stored integer;
BEGIN
    FOR i IN 1 .. coalesce(array_length(prefixes, 1), 0) LOOP
        SELECT right(e.code, 6)::integer INTO stored FROM event e
         WHERE e.code >= prefixes[i] || '000000' AND e.code <= prefixes[i] || '999999'
           AND e.code ~ '^E[0-9]{14}$'
         ORDER BY e.code DESC LIMIT 1;
        prefix := prefixes[i];
        INSERT INTO event_code_day AS d (day_prefix, last_seq)
        VALUES (prefixes[i], coalesce(stored, 0) + counts[i])
        ON CONFLICT (day_prefix) DO UPDATE
            SET last_seq = greatest(d.last_seq, coalesce(stored, 0)) + counts[i]
        RETURNING d.last_seq - counts[i] + 1 INTO first_seq;
        RETURN NEXT;
    END LOOP;
END
$$;
