//! Shared helpers of the integration tests: fresh PostGIS databases, sample data, a started server.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, Ordering};

/// The PostgreSQL server the suite uses (set by `scripts/test`): a URL without a database name
/// part that the tests may replace, e.g. `postgres://postgres@127.0.0.1:5432`.
/// A missing variable fails the test: the suite never skips PostGIS.
pub fn pg_base_url() -> String {
    std::env::var("GRIDMAP_TEST_PG").expect(
        "GRIDMAP_TEST_PG is not set: run the suite with scripts/test, which installs PostGIS and sets it",
    )
}

/// Creates a new, empty database with the PostGIS extension (from the template database that
/// `scripts/test` prepares) and returns its URL. Each test gets its own, so tests run in parallel.
pub async fn fresh_postgis_url() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let base = pg_base_url();
    let name = format!(
        "gridmap_t_{}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0)
    );
    let (client, conn) = tokio_postgres::connect(&format!("{base}/postgres"), tokio_postgres::NoTls)
        .await
        .expect("connect to the test PostgreSQL server");
    tokio::spawn(conn);
    // CREATE DATABASE … TEMPLATE fails if another session is using the template at that moment;
    // tests create databases concurrently, so retry briefly.
    let mut last = None;
    for _ in 0..50 {
        match client
            .batch_execute(&format!("CREATE DATABASE {name} TEMPLATE gridmap_template"))
            .await
        {
            Ok(()) => return format!("{base}/{name}"),
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("cannot create test database {name}: {last:?}");
}
