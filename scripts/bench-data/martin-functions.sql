-- Martin function sources for `scripts/bench tiles`: the two tilesets of tiles/tilesets.toml
-- (boundaries, buildings) as a Martin user would publish them from gridmap's own tables.
--
-- Same layers, zoom ranges and attributes as gridmap's tilesets; geometry transformed from
-- CGCS2000 (SRID 4490) to Web Mercator, simplified by the same tolerance in pixels of a 256-pixel
-- tile (ST_Simplify, collapsed features kept), then clipped and quantized by ST_AsMVTGeom at
-- extent 4096 with a 4-pixel (64-unit) buffer. Layers with min_size_px drop features whose
-- projected envelope is smaller than that in both directions. Rows are found with the GiST
-- index on the stored geometry (the tile envelope plus buffer transformed to SRID 4490).
-- Martin calls fn(z, x, y) and serves the bytea; an empty result is an empty tile.

-- One polygon layer of area rows: those of `layer_like` (LIKE pattern) and, when `levels` is not
-- NULL, of those levels. `with_urban_rural` adds the urban_rural attribute (base layers only).
CREATE OR REPLACE FUNCTION gridmap_bench_area_layer(
    z integer, x integer, y integer, layer_name text, layer_like text, levels smallint[],
    simplify_px double precision, min_size_px double precision, with_urban_rural boolean
) RETURNS bytea
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
DECLARE
    px double precision := 40075016.685578488 / (256 * 2 ^ z);
    tile geometry := ST_TileEnvelope(z, x, y);
    query geometry := ST_Transform(ST_TileEnvelope(z, x, y, margin => 64.0 / 4096), 4490);
    mvt bytea;
BEGIN
    SELECT ST_AsMVT(t, layer_name, 4096, 'geom') INTO mvt FROM (
        SELECT ST_AsMVTGeom(ST_Simplify(m.geom, simplify_px * px, true), tile, 4096, 64, true) AS geom,
               m.code, m.name,
               (ARRAY['city', 'district', 'street', 'community', 'grid', 'microgrid'])[m.level] AS level,
               m.layer, m.parent_code, m.leader_name,
               CASE WHEN with_urban_rural THEN m.urban_rural END AS urban_rural
        FROM (
            SELECT a.code, a.name, a.level, a.layer, a.parent_code, a.leader_name, a.urban_rural,
                   ST_Transform(a.geom, 3857) AS geom
            FROM area a
            WHERE a.geom && query
              AND a.layer LIKE layer_like
              AND (levels IS NULL OR a.level = ANY (levels))
        ) AS m
        WHERE min_size_px = 0
           OR ST_XMax(m.geom) - ST_XMin(m.geom) >= min_size_px * px
           OR ST_YMax(m.geom) - ST_YMin(m.geom) >= min_size_px * px
    ) AS t
    WHERE t.geom IS NOT NULL;
    RETURN coalesce(mvt, ''::bytea);
END
$$;

-- The `label` layer: one point per base area at its management center, for the levels whose
-- label starts at or below zoom z (district 8, street 11, community 13, grid 14).
CREATE OR REPLACE FUNCTION gridmap_bench_labels(z integer, x integer, y integer) RETURNS bytea
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
DECLARE
    tile geometry := ST_TileEnvelope(z, x, y);
    query geometry := ST_Transform(ST_TileEnvelope(z, x, y, margin => 64.0 / 4096), 4490);
    mvt bytea;
BEGIN
    SELECT ST_AsMVT(t, 'label', 4096, 'geom') INTO mvt FROM (
        SELECT ST_AsMVTGeom(ST_Transform(a.center, 3857), tile, 4096, 64, true) AS geom,
               a.code, a.name,
               (ARRAY['city', 'district', 'street', 'community', 'grid', 'microgrid'])[a.level] AS level
        FROM area a
        WHERE a.center && query
          AND a.layer = 'base'
          AND ((a.level = 2 AND z >= 8) OR (a.level = 3 AND z >= 11)
               OR (a.level = 4 AND z >= 13) OR (a.level = 5 AND z >= 14))
    ) AS t
    WHERE t.geom IS NOT NULL;
    RETURN coalesce(mvt, ''::bytea);
END
$$;

-- Tileset `boundaries` (z8–16): the base levels, special and business grids, and labels.
CREATE OR REPLACE FUNCTION gridmap_bench_boundaries(z integer, x integer, y integer) RETURNS bytea
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
BEGIN
    IF z < 8 OR z > 16 THEN
        RETURN ''::bytea;
    END IF;
    RETURN gridmap_bench_area_layer(z, x, y, 'district', 'base', '{2}', 0.5, 0, true)
        || CASE WHEN z >= 10 THEN gridmap_bench_area_layer(z, x, y, 'street', 'base', '{3}', 0.5, 0, true) ELSE '' END
        || CASE WHEN z >= 11 THEN gridmap_bench_area_layer(z, x, y, 'community', 'base', '{4}', 0.5, 0, true) ELSE '' END
        || CASE WHEN z >= 12 THEN gridmap_bench_area_layer(z, x, y, 'grid', 'base', '{5}', 0.5, 0, true) ELSE '' END
        || CASE WHEN z >= 14 THEN gridmap_bench_area_layer(z, x, y, 'microgrid', 'base', '{6}', 0.5, 0, true) ELSE '' END
        || CASE WHEN z >= 13 THEN gridmap_bench_area_layer(z, x, y, 'special', 'special', NULL, 0.5, 1.0, false) ELSE '' END
        || CASE WHEN z >= 11 THEN gridmap_bench_area_layer(z, x, y, 'business', 'business:%', NULL, 0.5, 0, false) ELSE '' END
        || gridmap_bench_labels(z, x, y);
END
$$;

-- Tileset `buildings` (z14–16): footprints with floors, height and use.
CREATE OR REPLACE FUNCTION gridmap_bench_buildings(z integer, x integer, y integer) RETURNS bytea
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
DECLARE
    px double precision := 40075016.685578488 / (256 * 2 ^ z);
    tile geometry := ST_TileEnvelope(z, x, y);
    query geometry := ST_Transform(ST_TileEnvelope(z, x, y, margin => 64.0 / 4096), 4490);
    mvt bytea;
BEGIN
    IF z < 14 OR z > 16 THEN
        RETURN ''::bytea;
    END IF;
    SELECT ST_AsMVT(t, 'building', 4096, 'geom') INTO mvt FROM (
        SELECT ST_AsMVTGeom(ST_Simplify(m.geom, 0.25 * px, true), tile, 4096, 64, true) AS geom,
               m.code, m.name, m.floors, m.height_m AS height, m.building_use AS "use", m.grid_code
        FROM (
            SELECT b.code, b.name, b.floors, b.height_m, b.building_use, b.grid_code,
                   ST_Transform(b.geom, 3857) AS geom
            FROM building b
            WHERE b.geom && query
        ) AS m
        WHERE ST_XMax(m.geom) - ST_XMin(m.geom) >= 0.5 * px
           OR ST_YMax(m.geom) - ST_YMin(m.geom) >= 0.5 * px
    ) AS t
    WHERE t.geom IS NOT NULL;
    RETURN coalesce(mvt, ''::bytea);
END
$$;
