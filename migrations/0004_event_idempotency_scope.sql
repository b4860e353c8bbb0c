-- Idempotency keys are scoped by jurisdiction. (source, external_id) used to be unique across
-- the city, so a poster in one district reusing another district's key got that district's
-- event code back and its own event was never stored. The key is now
-- (idempotency_scope, source, external_id), where idempotency_scope is the jurisdiction (an
-- area code) of the poster: the token's scope for POST /api/events, the city (the root base
-- area) for imports and generated data. Rows stored before this migration were written by
-- imports, the generator or posters whose scope was not recorded: they join the city's key
-- space. Rows other systems write without the column get '' (a key space of their own).
SELECT set_config('gridmap.silent', 'on', true);

ALTER TABLE event ADD COLUMN idempotency_scope text NOT NULL DEFAULT '';

UPDATE event SET idempotency_scope = coalesce(
    (SELECT code FROM area WHERE layer = 'base' AND parent_code IS NULL ORDER BY code LIMIT 1), '');

ALTER TABLE event DROP CONSTRAINT event_external_id_unique;
ALTER TABLE event ADD CONSTRAINT event_external_id_unique
    UNIQUE (idempotency_scope, source, external_id);
