-- gridmap schema, version 1: the system of record for areas, buildings, houses, population
-- counts, events with their transitions, workers and their GPS fixes.
--
-- Coordinates: every geometry column is longitude/latitude in CGCS2000, SRID 4490
-- (model::STORAGE_SRID), treated as equal to WGS84 at the centimetre level. Every geometry must be
-- valid (ST_IsValid) and lie inside the accepted range of the People's Republic of China
-- (longitude 73..136, latitude 3..54; model::CHINA_LON_RANGE / CHINA_LAT_RANGE).
--
-- Change feed: rows edited by other clients (psql, QGIS, the workflow system) are announced with
-- pg_notify('gridmap_change', '{"table": ..., "op": ..., "code": ...}'). The gridmap service sets
-- `SET LOCAL gridmap.silent = 'on'` in its own write transactions, because it applies its own
-- changes to its engine itself and bulk loads must not flood the notification queue.
-- Deletes made by other clients are also kept in gridmap_tombstone so that a listener that was
-- disconnected can replay them; `updated_at` (set by a trigger) lets it re-fetch the rows that
-- changed while it was away.
--
-- The PostGIS extension is created by the migration runner before this file runs.

-- ---------------------------------------------------------------------------------------------
-- Shared rules
-- ---------------------------------------------------------------------------------------------

-- The area-code format of model::validate_code: 6 digits (city/district), 9 (street),
-- 12 (community), 15 (grid) or 17–18 (micro-grid), optionally followed by one upper-case layer
-- letter and pairs of digits (special and business grids).
CREATE FUNCTION gridmap_is_area_code(code text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT code ~ '^[0-9]{6}(?:(?:[0-9]{3}){0,2}|[0-9]{9}(?:[0-9]{2,3})?)(?:[A-Z][0-9]{2}(?:[0-9]{2})*)?$'
$$;

-- Whether a geometry is non-empty, valid and inside the accepted longitude/latitude range
-- (NULL stays NULL, so a CHECK accepts a missing optional geometry).
CREATE FUNCTION gridmap_geom_ok(g geometry) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT NOT ST_IsEmpty(g) AND ST_IsValid(g)
       AND ST_XMin(g) >= 73 AND ST_XMax(g) <= 136
       AND ST_YMin(g) >= 3 AND ST_YMax(g) <= 54
$$;

-- ---------------------------------------------------------------------------------------------
-- Tables
-- ---------------------------------------------------------------------------------------------

-- Every boundary of every layer (base grids and their parents, special grids, business grids).
CREATE TABLE area (
    code             text PRIMARY KEY CONSTRAINT area_code_format CHECK (gridmap_is_area_code(code)),
    layer            text NOT NULL
                     CONSTRAINT area_layer_known CHECK (layer ~ '^(base|special|business:[a-z0-9_]+)$'),
    -- 1 city, 2 district, 3 street, 4 community, 5 grid, 6 micro-grid (model::Level).
    level            smallint NOT NULL CONSTRAINT area_level_range CHECK (level BETWEEN 1 AND 6),
    name             text NOT NULL,
    parent_code      text CONSTRAINT area_parent_code_format CHECK (gridmap_is_area_code(parent_code)),
    geom             geometry(MultiPolygon, 4490) NOT NULL
                     CONSTRAINT area_geom_valid CHECK (gridmap_geom_ok(geom)),
    -- The management center (管理中心) shown on the grid's public sign.
    center           geometry(Point, 4490) CONSTRAINT area_center_valid CHECK (gridmap_geom_ok(center)),
    leader_name      text,
    leader_phone     text,
    leader_photo_url text,
    -- 城乡分类代码: 111 main urban area … 220 village.
    urban_rural      smallint CONSTRAINT area_urban_rural_range CHECK (urban_rural BETWEEN 111 AND 220),
    valid_from       date,
    valid_to         date,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT area_validity_order CHECK (valid_to IS NULL OR valid_from IS NULL OR valid_to >= valid_from)
);

-- Building footprints (楼栋). Code: community code (12 digits) + 5 digits.
CREATE TABLE building (
    code         text PRIMARY KEY CONSTRAINT building_code_format CHECK (code ~ '^[0-9]{17}$'),
    name         text NOT NULL,
    address      text,
    -- 小区 (residential compound).
    compound     text,
    building_use text NOT NULL CONSTRAINT building_use_known
                 CHECK (building_use IN ('residential', 'commercial', 'mixed', 'public', 'industrial')),
    floors       smallint NOT NULL CONSTRAINT building_floors_range CHECK (floors >= 0),
    height_m     double precision NOT NULL CONSTRAINT building_height_range CHECK (height_m >= 0),
    geom         geometry(Polygon, 4490) NOT NULL CONSTRAINT building_geom_valid CHECK (gridmap_geom_ok(geom)),
    -- The base grid containing the footprint (kept current by the service).
    grid_code    text CONSTRAINT building_grid_code_format CHECK (gridmap_is_area_code(grid_code)),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- Houses (实有房屋). Code: building code + unit (2) + floor (3) + room (2) = 24 digits.
CREATE TABLE house (
    code          text PRIMARY KEY,
    building_code text NOT NULL REFERENCES building (code) ON DELETE CASCADE,
    unit          smallint NOT NULL CONSTRAINT house_unit_range CHECK (unit >= 0),
    floor         smallint NOT NULL,
    room          text NOT NULL,
    house_use     text NOT NULL CONSTRAINT house_use_known
                  CHECK (house_use IN ('owner_occupied', 'rented', 'vacant', 'business')),
    households    smallint NOT NULL CONSTRAINT house_households_range CHECK (households >= 0),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT house_code_format CHECK (code ~ '^[0-9]{24}$' AND left(code, 17) = building_code)
);

-- Population (实有人口) as counts per house: no names, no ID numbers. One column per
-- model::CareCounts::FIELDS, in that order.
CREATE TABLE population (
    house_code           text PRIMARY KEY REFERENCES house (code) ON DELETE CASCADE,
    registered           integer NOT NULL DEFAULT 0,
    floating             integer NOT NULL DEFAULT 0,
    overseas             integer NOT NULL DEFAULT 0,
    elderly_alone        integer NOT NULL DEFAULT 0,
    left_behind_children integer NOT NULL DEFAULT 0,
    disabled             integer NOT NULL DEFAULT 0,
    low_income           integer NOT NULL DEFAULT 0,
    released_prisoners   integer NOT NULL DEFAULT 0,
    community_correction integer NOT NULL DEFAULT 0,
    severe_mental        integer NOT NULL DEFAULT 0,
    drug_users           integer NOT NULL DEFAULT 0,
    key_youth            integer NOT NULL DEFAULT 0,
    party_members        integer NOT NULL DEFAULT 0,
    updated_at           timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT population_counts_non_negative CHECK (
        registered >= 0 AND floating >= 0 AND overseas >= 0
        AND elderly_alone >= 0 AND left_behind_children >= 0 AND disabled >= 0
        AND low_income >= 0 AND released_prisoners >= 0 AND community_correction >= 0
        AND severe_mental >= 0 AND drug_users >= 0 AND key_youth >= 0 AND party_members >= 0
    )
);

-- Events (事件) with their current state; the log of steps is event_transition.
CREATE TABLE event (
    code               text PRIMARY KEY CONSTRAINT event_code_present CHECK (code <> ''),
    source             text NOT NULL
                       CONSTRAINT event_source_known CHECK (source IN ('patrol', 'hotline', 'wechat', 'app', 'video')),
    -- The source system's id; (source, external_id) makes retried submissions idempotent.
    external_id        text,
    title              text NOT NULL,
    category           text NOT NULL CONSTRAINT event_category_present CHECK (category <> ''),
    content            text NOT NULL,
    reporter_name      text,
    reporter_phone     text,
    geom               geometry(Point, 4490) NOT NULL CONSTRAINT event_geom_valid CHECK (gridmap_geom_ok(geom)),
    address            text,
    -- The deepest base area containing the location.
    area_code          text CONSTRAINT event_area_code_format CHECK (gridmap_is_area_code(area_code)),
    outside_grid       boolean NOT NULL DEFAULT false,
    status             text NOT NULL CONSTRAINT event_status_known CHECK (status IN
                       ('reported', 'registered', 'dispatched', 'handling', 'feedback', 'closed', 'evaluated')),
    level              text NOT NULL
                       CONSTRAINT event_level_known CHECK (level IN ('community', 'street', 'district', 'city')),
    department         text,
    reported_at        timestamptz NOT NULL,
    deadline           timestamptz,
    closed_at          timestamptz,
    evaluation_score   smallint CONSTRAINT event_evaluation_score_range CHECK (evaluation_score BETWEEN 1 AND 5),
    evaluation_comment text,
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT event_external_id_unique UNIQUE (source, external_id),
    CONSTRAINT event_evaluation_needs_score CHECK (evaluation_comment IS NULL OR evaluation_score IS NOT NULL)
);

-- The seven-step log of each event, numbered from 1.
CREATE TABLE event_transition (
    event_code  text NOT NULL REFERENCES event (code) ON DELETE CASCADE,
    seq         integer NOT NULL CONSTRAINT event_transition_seq_positive CHECK (seq >= 1),
    at          timestamptz NOT NULL,
    from_status text CONSTRAINT event_transition_from_known CHECK (from_status IN
                ('reported', 'registered', 'dispatched', 'handling', 'feedback', 'closed', 'evaluated')),
    to_status   text NOT NULL CONSTRAINT event_transition_to_known CHECK (to_status IN
                ('reported', 'registered', 'dispatched', 'handling', 'feedback', 'closed', 'evaluated')),
    actor       text NOT NULL,
    level       text NOT NULL
                CONSTRAINT event_transition_level_known CHECK (level IN ('community', 'street', 'district', 'city')),
    department  text,
    note        text,
    PRIMARY KEY (event_code, seq)
);

-- Grid workers.
CREATE TABLE worker (
    code       text PRIMARY KEY CONSTRAINT worker_code_present CHECK (code <> ''),
    name       text NOT NULL,
    phone      text,
    role       text NOT NULL CONSTRAINT worker_role_known CHECK (role IN
               ('grid_leader', 'grid_worker', 'full_time', 'police', 'urban_management', 'fire_safety')),
    -- The grid (or org area) the worker is responsible for.
    home_code  text NOT NULL CONSTRAINT worker_home_code_format CHECK (gridmap_is_area_code(home_code)),
    device     text,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- GPS fixes, partitioned by UTC day (gridmap_ensure_fix_partition creates a day's partition; rows
-- of days without one land in worker_fix_default). No foreign key to worker: fixes are an
-- append-only log that may outlive a worker record.
CREATE TABLE worker_fix (
    worker_code text NOT NULL CONSTRAINT worker_fix_worker_present CHECK (worker_code <> ''),
    at          timestamptz NOT NULL,
    geom        geometry(Point, 4490) NOT NULL CONSTRAINT worker_fix_geom_valid CHECK (gridmap_geom_ok(geom)),
    accuracy_m  real CONSTRAINT worker_fix_accuracy_range CHECK (accuracy_m >= 0),
    speed_mps   real CONSTRAINT worker_fix_speed_range CHECK (speed_mps >= 0),
    heading_deg real CONSTRAINT worker_fix_heading_range CHECK (heading_deg >= 0 AND heading_deg <= 360),
    -- The CRS the device reported in.
    source_crs  text NOT NULL CONSTRAINT worker_fix_source_crs_known CHECK (source_crs IN ('wgs84', 'gcj02', 'bd09')),
    PRIMARY KEY (worker_code, at)
) PARTITION BY RANGE (at);

CREATE TABLE worker_fix_default PARTITION OF worker_fix DEFAULT;

-- Deletes made by other clients, replayed by a listener after it reconnects. Pruned by the
-- service after a week.
CREATE TABLE gridmap_tombstone (
    table_name text NOT NULL,
    code       text NOT NULL,
    deleted_at timestamptz NOT NULL DEFAULT now()
);

-- ---------------------------------------------------------------------------------------------
-- Indexes
-- ---------------------------------------------------------------------------------------------

CREATE INDEX area_geom_idx ON area USING gist (geom);
CREATE INDEX area_center_idx ON area USING gist (center);
CREATE INDEX area_parent_code_idx ON area (parent_code);
CREATE INDEX building_geom_idx ON building USING gist (geom);
CREATE INDEX building_grid_code_idx ON building (grid_code);
CREATE INDEX house_building_code_idx ON house (building_code);
CREATE INDEX event_geom_idx ON event USING gist (geom);
CREATE INDEX event_area_code_idx ON event (area_code);
-- A btree rather than BRIN: load_events reads events in reported_at order, which needs the order.
CREATE INDEX event_reported_at_idx ON event (reported_at);
-- Cheap to maintain; lets a reconnecting listener find recently changed events.
CREATE INDEX event_updated_at_brin ON event USING brin (updated_at);
CREATE INDEX worker_home_code_idx ON worker (home_code);
CREATE INDEX worker_fix_geom_idx ON worker_fix USING gist (geom);
CREATE INDEX worker_fix_at_idx ON worker_fix (at);
CREATE INDEX gridmap_tombstone_deleted_at_idx ON gridmap_tombstone (deleted_at);

-- ---------------------------------------------------------------------------------------------
-- Day partitions of worker_fix
-- ---------------------------------------------------------------------------------------------

-- Creates the partition of worker_fix for one UTC day if it does not exist yet, moving any rows of
-- that day out of the default partition first. Safe to call concurrently (advisory lock).
CREATE FUNCTION gridmap_ensure_fix_partition(day date) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    part text := format('worker_fix_%s', to_char(day, 'YYYYMMDD'));
    lo timestamptz := day::timestamp AT TIME ZONE 'UTC';
    hi timestamptz := (day + 1)::timestamp AT TIME ZONE 'UTC';
BEGIN
    IF to_regclass(part) IS NOT NULL THEN
        RETURN;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('gridmap_ensure_fix_partition'));
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

-- ---------------------------------------------------------------------------------------------
-- Triggers: updated_at and the change feed
-- ---------------------------------------------------------------------------------------------

-- Whether the current transaction asked not to notify (the service's own writes). Every trigger
-- below tests it in its WHEN clause, so silent bulk writes pay no trigger call at all. The service
-- writes updated_at = '-infinity' on its own inserts and leaves it on its updates: updated_at is the
-- time of the last write by another client, which is all the change feed's catch-up must re-read.
CREATE FUNCTION gridmap_is_silent() RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT coalesce(current_setting('gridmap.silent', true), '') = 'on'
$$;

-- Keeps updated_at current on every insert and update by another client.
CREATE FUNCTION gridmap_touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END
$$;

-- Announces a change of a table keyed by `code` (population: `house_code`, named by the trigger's
-- argument); deletes are also recorded as tombstones.
CREATE FUNCTION gridmap_notify_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    key text;
BEGIN
    -- Separate statements: PL/pgSQL resolves a field only when its statement first runs.
    IF TG_OP = 'DELETE' AND TG_ARGV[0] = 'house_code' THEN
        key := OLD.house_code;
    ELSIF TG_OP = 'DELETE' THEN
        key := OLD.code;
    ELSIF TG_ARGV[0] = 'house_code' THEN
        key := NEW.house_code;
    ELSE
        key := NEW.code;
    END IF;
    IF TG_OP = 'DELETE' THEN
        INSERT INTO gridmap_tombstone (table_name, code) VALUES (TG_TABLE_NAME, key);
    END IF;
    PERFORM pg_notify('gridmap_change',
        json_build_object('table', TG_TABLE_NAME, 'op', TG_OP, 'code', key)::text);
    RETURN NULL;
END
$$;

-- A step written directly into event_transition by another client touches its event, so the
-- event's own triggers announce it and move its updated_at.
CREATE FUNCTION gridmap_touch_event() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        UPDATE event SET updated_at = now() WHERE code = OLD.event_code;
    ELSE
        UPDATE event SET updated_at = now() WHERE code = NEW.event_code;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER area_updated_at BEFORE INSERT OR UPDATE ON area
    FOR EACH ROW WHEN (NOT gridmap_is_silent()) EXECUTE FUNCTION gridmap_touch_updated_at();
CREATE TRIGGER building_updated_at BEFORE INSERT OR UPDATE ON building
    FOR EACH ROW WHEN (NOT gridmap_is_silent()) EXECUTE FUNCTION gridmap_touch_updated_at();
CREATE TRIGGER house_updated_at BEFORE INSERT OR UPDATE ON house
    FOR EACH ROW WHEN (NOT gridmap_is_silent()) EXECUTE FUNCTION gridmap_touch_updated_at();
CREATE TRIGGER population_updated_at BEFORE INSERT OR UPDATE ON population
    FOR EACH ROW WHEN (NOT gridmap_is_silent()) EXECUTE FUNCTION gridmap_touch_updated_at();
CREATE TRIGGER event_updated_at BEFORE INSERT OR UPDATE ON event
    FOR EACH ROW WHEN (NOT gridmap_is_silent()) EXECUTE FUNCTION gridmap_touch_updated_at();
CREATE TRIGGER worker_updated_at BEFORE INSERT OR UPDATE ON worker
    FOR EACH ROW WHEN (NOT gridmap_is_silent()) EXECUTE FUNCTION gridmap_touch_updated_at();
CREATE TRIGGER area_notify AFTER INSERT OR UPDATE OR DELETE ON area
    FOR EACH ROW WHEN (NOT gridmap_is_silent()) EXECUTE FUNCTION gridmap_notify_change('code');
CREATE TRIGGER building_notify AFTER INSERT OR UPDATE OR DELETE ON building
    FOR EACH ROW WHEN (NOT gridmap_is_silent()) EXECUTE FUNCTION gridmap_notify_change('code');
CREATE TRIGGER house_notify AFTER INSERT OR UPDATE OR DELETE ON house
    FOR EACH ROW WHEN (NOT gridmap_is_silent()) EXECUTE FUNCTION gridmap_notify_change('code');
CREATE TRIGGER population_notify AFTER INSERT OR UPDATE OR DELETE ON population
    FOR EACH ROW WHEN (NOT gridmap_is_silent()) EXECUTE FUNCTION gridmap_notify_change('house_code');
CREATE TRIGGER event_notify AFTER INSERT OR UPDATE OR DELETE ON event
    FOR EACH ROW WHEN (NOT gridmap_is_silent()) EXECUTE FUNCTION gridmap_notify_change('code');
CREATE TRIGGER worker_notify AFTER INSERT OR UPDATE OR DELETE ON worker
    FOR EACH ROW WHEN (NOT gridmap_is_silent()) EXECUTE FUNCTION gridmap_notify_change('code');
CREATE TRIGGER event_transition_touch_event AFTER INSERT OR UPDATE OR DELETE ON event_transition
    FOR EACH ROW WHEN (NOT gridmap_is_silent()) EXECUTE FUNCTION gridmap_touch_event();
