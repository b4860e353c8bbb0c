//! `GET /api/areas/{code}/neighbors` over real HTTP against PostGIS: for every area of the
//! sample city the neighbours equal `ST_Touches` on the server's own database, their kind of
//! touch equals the dimension of the shared boundary and their border length its geodesic
//! length; out-of-scope neighbours are listed by code, name and level only; an unknown code
//! answers 404 and an area outside the caller's jurisdiction 403.

mod common;

use std::collections::BTreeMap;

use gridmap::access::Role;
use serde_json::Value;

/// The reference rule, as `engine::area_neighbors` states it.
const TOUCHES_SQL: &str = "SELECT b.code FROM area a \
     JOIN area b ON b.level = a.level AND b.layer = a.layer AND b.code <> a.code \
                 AND ST_Touches(a.geom, b.geom) \
     WHERE a.code = $1";

/// How PostGIS sees one neighbour: the dimension of what the two share (1 a line, 0 points)
/// and its geodesic length in metres.
const SHARED_SQL: &str = "SELECT ST_Dimension(s), ST_Length(s::geography) \
     FROM (SELECT ST_Intersection(a.geom, b.geom) AS s FROM area a, area b \
           WHERE a.code = $1 AND b.code = $2) shared";

/// One neighbour as the endpoint lists it.
#[derive(Debug)]
struct Listed {
    touch: String,
    border_m: f64,
    in_scope: bool,
    has_geometry: bool,
}

/// The neighbours the endpoint lists for `code`, by code.
fn listed(answer: &Value) -> BTreeMap<String, Listed> {
    assert_eq!(answer["type"], "FeatureCollection", "{answer}");
    answer["features"]
        .as_array()
        .expect("features")
        .iter()
        .map(|f| {
            let p = &f["properties"];
            let code = p["code"].as_str().expect("code").to_string();
            assert_eq!(f["id"], code.as_str());
            let neighbour = Listed {
                touch: p["touch"].as_str().expect("touch").to_string(),
                border_m: p["border_m"].as_f64().expect("border_m"),
                in_scope: p["in_scope"].as_bool().expect("in_scope"),
                has_geometry: !f["geometry"].is_null(),
            };
            (code, neighbour)
        })
        .collect()
}

#[tokio::test]
async fn neighbours_equal_st_touches_for_every_area_of_the_sample_city() {
    let (db_url, server) = common::postgis_sample_server().await;
    let db = common::connect(&db_url).await;
    let city = common::token("410600", &[Role::Viewer]);
    let codes: Vec<String> = db
        .query("SELECT code FROM area ORDER BY code", &[])
        .await
        .expect("codes")
        .iter()
        .map(|r| r.get(0))
        .collect();
    let grids = codes.iter().filter(|c| c.len() == 15).count();
    assert!(grids > 100, "the sample city has {grids} grids");
    let (mut pairs, mut points) = (0, 0);
    for code in &codes {
        let (status, answer) = common::get_json(
            &format!("{}/api/areas/{code}/neighbors", server.url()),
            &city,
        )
        .await;
        assert_eq!(status, 200, "{code}: {answer}");
        let got = listed(&answer);
        let want: Vec<String> = db
            .query(TOUCHES_SQL, &[code])
            .await
            .expect("ST_Touches")
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            {
                let mut sorted: Vec<&String> = want.iter().collect();
                sorted.sort();
                sorted
            },
            "neighbours of {code}"
        );
        for (other, neighbour) in &got {
            let row = db
                .query_one(SHARED_SQL, &[code, other])
                .await
                .expect("shared boundary");
            let (dimension, length): (i32, f64) = (row.get(0), row.get(1));
            let touch = if dimension == 1 { "edge" } else { "point" };
            assert_eq!(neighbour.touch, touch, "{code} and {other}");
            assert!(
                (neighbour.border_m - length).abs() < 0.02,
                "{code} and {other}: border {} m, PostGIS {length} m",
                neighbour.border_m
            );
            assert!(neighbour.in_scope && neighbour.has_geometry);
            pairs += 1;
            points += usize::from(touch == "point");
        }
    }
    assert!(pairs > 2 * grids, "only {pairs} neighbour pairs");
    eprintln!(
        "{} areas, {pairs} neighbour pairs ({points} by a point only)",
        codes.len()
    );
    server.stop().await.expect("stop");
}

#[tokio::test]
async fn neighbours_across_the_jurisdiction_border_are_named_only_and_other_areas_refused() {
    let (db_url, server) = common::postgis_sample_server().await;
    let db = common::connect(&db_url).await;
    // A grid on the border of its street: one of its neighbours lies in another street.
    let row = db
        .query_one(
            "SELECT a.code, b.code FROM area a \
             JOIN area b ON b.level = a.level AND b.layer = a.layer AND b.code <> a.code \
                         AND ST_Touches(a.geom, b.geom) \
             WHERE a.layer = 'base' AND a.level = 5 AND left(b.code, 9) <> left(a.code, 9) \
             ORDER BY a.code, b.code LIMIT 1",
            &[],
        )
        .await
        .expect("a grid on a street border");
    let (grid, across): (String, String) = (row.get(0), row.get(1));
    let street = &grid[..9];
    let token = common::token(street, &[Role::Viewer]);
    let base = server.url();

    let (status, answer) =
        common::get_json(&format!("{base}/api/areas/{grid}/neighbors"), &token).await;
    assert_eq!(status, 200, "{answer}");
    let got = listed(&answer);
    for (code, neighbour) in &got {
        assert_eq!(neighbour.in_scope, code.starts_with(street), "{code}");
        assert_eq!(neighbour.has_geometry, neighbour.in_scope, "{code}");
    }
    let outside = answer["features"]
        .as_array()
        .expect("features")
        .iter()
        .find(|f| f["id"] == across.as_str())
        .expect("the neighbour across the street border is listed");
    let mut keys: Vec<&str> = outside["properties"]
        .as_object()
        .expect("properties")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        ["border_m", "code", "in_scope", "level", "name", "touch"],
        "{outside}"
    );
    let inside = answer["features"]
        .as_array()
        .expect("features")
        .iter()
        .find(|f| f["properties"]["in_scope"] == true);
    if let Some(inside) = inside {
        assert!(inside["properties"]["rollup"].is_object(), "{inside}");
    }

    // The neighbour's own neighbours are outside the caller's jurisdiction: 403, like /children.
    let (status, answer) =
        common::get_json(&format!("{base}/api/areas/{across}/neighbors"), &token).await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (403, Some("out_of_scope")),
        "{answer}"
    );
    // An unknown code inside the jurisdiction: 404.
    let unknown = format!("{street}999999");
    let (status, answer) =
        common::get_json(&format!("{base}/api/areas/{unknown}/neighbors"), &token).await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (404, Some("not_found")),
        "{answer}"
    );
    let anonymous = reqwest::get(format!("{base}/api/areas/{grid}/neighbors"))
        .await
        .expect("request");
    assert_eq!(anonymous.status().as_u16(), 401);
    server.stop().await.expect("stop");
}
