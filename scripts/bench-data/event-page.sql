-- pgbench script of `scripts/bench events` (the listing's anchor): the first page of
-- GET /api/events?limit=100 for a city-wide caller, straight from PostGIS. The 100 newest
-- events (report time, then code, descending) as a GeoJSON FeatureCollection with the listing's
-- properties; overdue as the service judges it (open and past its deadline). The card is left
-- out (the anchor does less work than the service, not more). The bench replaces STATUSES (a
-- comma list, empty for any) and CATEGORY (a code prefix, empty for any) before the run.
SELECT json_build_object('type', 'FeatureCollection', 'features', coalesce(json_agg(f), '[]'::json))
FROM (
    SELECT json_build_object(
        'type', 'Feature',
        'id', code,
        'geometry', ST_AsGeoJSON(geom)::json,
        'properties', json_build_object(
            'code', code, 'title', title, 'category', category, 'source', source,
            'status', status, 'level', level, 'department', department,
            'area_code', area_code, 'outside_grid', outside_grid, 'address', address,
            'reported_at', reported_at, 'deadline', deadline, 'closed_at', closed_at,
            'overdue', status NOT IN ('closed', 'evaluated') AND deadline < now())) AS f
    FROM event
    WHERE ('STATUSES' = '' OR status = ANY (string_to_array('STATUSES', ',')))
      AND category LIKE 'CATEGORY' || '%'
    ORDER BY reported_at DESC, code DESC
    LIMIT 100
) AS page;
