-- The fixed tile list of `scripts/bench tiles`: about 10 000 tiles at z10–16 where the city's
-- data is, printed one a line as "tileset z x y" in a fixed shuffled order.
--
-- boundaries: every tile at z10–13 whose envelope touches the city (level-1 base area), and a
-- sample at z14–16; buildings: a sample at z14–16 of the tiles holding a building. Samples and
-- order come from md5 of the tile address with a fixed seed, so every run (and every server)
-- gets the same list for the same city.

WITH RECURSIVE
city AS (
    SELECT geom FROM area WHERE layer = 'base' AND level = 1
),
extent AS (
    SELECT ST_XMin(e) AS west, ST_YMin(e) AS south, ST_XMax(e) AS east, ST_YMax(e) AS north
    FROM (SELECT ST_Extent(geom) AS e FROM city) AS c
),
zooms(z) AS (
    SELECT generate_series(10, 16)
),
-- The block of tiles covering the city's extent at each zoom.
blocks AS (
    SELECT z,
           floor((west + 180) / 360 * 2 ^ z)::int AS min_x,
           floor((east + 180) / 360 * 2 ^ z)::int AS max_x,
           floor((1 - ln(tan(radians(north)) + 1 / cos(radians(north))) / pi()) / 2 * 2 ^ z)::int AS min_y,
           floor((1 - ln(tan(radians(south)) + 1 / cos(radians(south))) / pi()) / 2 * 2 ^ z)::int AS max_y
    FROM zooms, extent
),
tiles AS (
    SELECT b.z, x, y, ST_Transform(ST_TileEnvelope(b.z, x, y), 4490) AS env
    FROM blocks b,
         generate_series(b.min_x, b.max_x) AS x,
         generate_series(b.min_y, b.max_y) AS y
),
candidates AS (
    SELECT 'boundaries' AS tileset, t.z, t.x, t.y
    FROM tiles t
    WHERE EXISTS (SELECT 1 FROM city c WHERE ST_Intersects(c.geom, t.env))
    UNION ALL
    SELECT 'buildings', t.z, t.x, t.y
    FROM tiles t
    WHERE t.z >= 14 AND EXISTS (SELECT 1 FROM building b WHERE b.geom && t.env)
),
ranked AS (
    SELECT tileset, z, x, y,
           row_number() OVER (PARTITION BY tileset, z ORDER BY md5(concat_ws('/', 'gridmap-bench-1', tileset, z, x, y))) AS n
    FROM candidates
),
quota(tileset, z, n) AS (
    VALUES ('boundaries', 10, 1000), ('boundaries', 11, 1000), ('boundaries', 12, 1000),
           ('boundaries', 13, 1000), ('boundaries', 14, 1200), ('boundaries', 15, 2000),
           ('boundaries', 16, 2300),
           ('buildings', 14, 800), ('buildings', 15, 1500), ('buildings', 16, 2200)
)
SELECT concat_ws(' ', r.tileset, r.z, r.x, r.y)
FROM ranked r
JOIN quota q ON q.tileset = r.tileset AND q.z = r.z AND r.n <= q.n
ORDER BY md5(concat_ws('/', 'gridmap-bench-order', r.tileset, r.z, r.x, r.y));
