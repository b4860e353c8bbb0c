-- Alerts about grid workers (for now: out of the home area for longer than the dwell time).
-- Written by the service when an alert is raised and again when it is cleared; other systems
-- may read them. Geometry in SRID 4490 like every other column.
CREATE TABLE worker_alert (
    id          text PRIMARY KEY CONSTRAINT worker_alert_id_present CHECK (id <> ''),
    worker_code text NOT NULL CONSTRAINT worker_alert_worker_present CHECK (worker_code <> ''),
    kind        text NOT NULL CONSTRAINT worker_alert_kind_known CHECK (kind IN ('out_of_grid')),
    home_code   text NOT NULL CONSTRAINT worker_alert_home_code_format CHECK (gridmap_is_area_code(home_code)),
    raised_at   timestamptz NOT NULL,
    cleared_at  timestamptz CONSTRAINT worker_alert_cleared_after_raised CHECK (cleared_at >= raised_at),
    geom        geometry(Point, 4490) NOT NULL CONSTRAINT worker_alert_geom_valid CHECK (gridmap_geom_ok(geom)),
    distance_m  double precision NOT NULL CONSTRAINT worker_alert_distance_range CHECK (distance_m >= 0)
);

CREATE INDEX worker_alert_raised_at_idx ON worker_alert (raised_at);
CREATE INDEX worker_alert_open_idx ON worker_alert (worker_code) WHERE cleared_at IS NULL;
