//! The area statistics of `GET /api/stats/areas/{code}` written as one SQL query on the PostGIS
//! schema: the reference `tests/stats.rs` compares the service with, and the anchor of
//! `benches/stats.rs`.

use gridmap::model::{CareCounts, EventStatus, HouseUse};

/// What the statistics of the area with jurisdiction prefix `$1` are in SQL, in the API's shape
/// (rates left out: they follow from the counts): events reported from `$2` to before `$3`,
/// overdue judged at `$4`.
pub fn area_sql() -> String {
    let uses: Vec<String> = HouseUse::ALL
        .iter()
        .map(|u| {
            format!(
                "'{0}', (SELECT count(*) FROM h WHERE house_use = '{0}')",
                u.as_str()
            )
        })
        .collect();
    let care: Vec<String> = CareCounts::FIELDS
        .iter()
        .map(|c| format!("'{c}', (SELECT coalesce(sum({c}), 0) FROM p)"))
        .collect();
    let statuses: Vec<String> = EventStatus::ALL
        .iter()
        .map(|s| {
            format!(
                "'{0}', (SELECT count(*) FROM e WHERE status = '{0}')",
                s.as_str()
            )
        })
        .collect();
    format!(
        "WITH b AS (SELECT code FROM building WHERE grid_code LIKE $1 || '%'),
              h AS (SELECT house.* FROM house JOIN b ON b.code = house.building_code),
              p AS (SELECT population.* FROM population JOIN h ON h.code = population.house_code),
              e AS (SELECT * FROM event WHERE area_code LIKE $1 || '%'
                    AND reported_at >= $2 AND reported_at < $3)
         SELECT json_build_object(
            'buildings', (SELECT count(*) FROM b),
            'houses', (SELECT count(*) FROM h),
            'houses_by_use', json_build_object({uses}),
            'households', (SELECT coalesce(sum(households), 0) FROM h),
            'registered', (SELECT coalesce(sum(registered), 0) FROM p),
            'floating', (SELECT coalesce(sum(floating), 0) FROM p),
            'overseas', (SELECT coalesce(sum(overseas), 0) FROM p),
            'residents', (SELECT coalesce(sum(registered + floating + overseas), 0) FROM p),
            'care', json_build_object({care}),
            'events', json_build_object(
                'total', (SELECT count(*) FROM e),
                'by_status', json_build_object({statuses}),
                'by_category', (SELECT coalesce(json_object_agg(category, n), '{{}}')
                                FROM (SELECT category, count(*) AS n FROM e GROUP BY category) c),
                'open', (SELECT count(*) FROM e WHERE status NOT IN ('closed', 'evaluated')),
                'overdue', (SELECT count(*) FROM e WHERE status NOT IN ('closed', 'evaluated')
                            AND deadline < $4),
                'closed', (SELECT count(*) FROM e WHERE status IN ('closed', 'evaluated')),
                'closed_on_time', (SELECT count(*) FROM e WHERE status IN ('closed', 'evaluated')
                    AND (deadline IS NULL OR closed_at IS NULL
                         OR date_trunc('second', closed_at) <= date_trunc('second', deadline)))
            ))::text",
        uses = uses.join(", "),
        care = care.join(", "),
        statuses = statuses.join(", "),
    )
}
