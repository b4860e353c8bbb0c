-- gridmap schema, version 2: the basemap (底图) — roads, rivers and water bodies drawn under the
-- grid boundaries, from the generator or from `gridmap import FILE --kind basemap`.
--
-- Same conventions as 0001_schema.sql: geometry is longitude/latitude in CGCS2000, SRID 4490,
-- valid and inside the accepted range (gridmap_geom_ok); `updated_at` records writes by other
-- clients; edits by other clients are announced on 'gridmap_change' and deletes are kept in
-- gridmap_tombstone, unless the transaction set `gridmap.silent = 'on'` (the service's own writes).

-- One basemap feature. code: a stable key of 1–64 characters (the generator numbers R001 roads,
-- V001 rivers, W001 water; see src/model/basemap.rs). Roads and rivers are LineStrings, water is a
-- MultiPolygon; the column holds either, and a CHECK ties the shape to the kind.
CREATE TABLE basemap (
    code       text PRIMARY KEY CONSTRAINT basemap_code_format CHECK (code ~ '^[A-Za-z0-9_.:-]{1,64}$'),
    kind       text NOT NULL
               CONSTRAINT basemap_kind_known CHECK (kind IN ('motorway', 'primary', 'secondary', 'river', 'water')),
    name       text NOT NULL,
    geom       geometry(Geometry, 4490) NOT NULL CONSTRAINT basemap_geom_valid CHECK (gridmap_geom_ok(geom)),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT basemap_shape_of_kind CHECK (
        CASE WHEN kind = 'water' THEN GeometryType(geom) IN ('POLYGON', 'MULTIPOLYGON')
             ELSE GeometryType(geom) = 'LINESTRING' END
    )
);

CREATE INDEX basemap_geom_idx ON basemap USING gist (geom);

CREATE TRIGGER basemap_updated_at BEFORE INSERT OR UPDATE ON basemap
    FOR EACH ROW WHEN (NOT gridmap_is_silent()) EXECUTE FUNCTION gridmap_touch_updated_at();
CREATE TRIGGER basemap_notify AFTER INSERT OR UPDATE OR DELETE ON basemap
    FOR EACH ROW WHEN (NOT gridmap_is_silent()) EXECUTE FUNCTION gridmap_notify_change('code');
