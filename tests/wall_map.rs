//! The wall map at `/` in headless Chromium: `web/tests/wall_map.mjs` (playwright-core driving
//! Debian's chromium, both installed by `scripts/test`) against a server on a sample city whose
//! history ends now, so the page's default window holds events, with the satellite basemap
//! configured on a local stand-in for Tianditu. The checks themselves are in the script (the
//! workers' out-of-grid check learns the dwell time from `GRIDMAP_DWELL_S`); this test starts the
//! server, runs it and fails with its output.

mod common;

use std::path::Path;
use std::process::Command;

use gridmap::access::Role;
use gridmap::config::StoreLocation;
use gridmap::generate::GenerateOptions;
use gridmap::store::gpkg::GpkgStore;

/// The street the scoped token is for (410611001 金山街道).
const STREET: &str = "410611001";

#[tokio::test]
async fn the_wall_map_works_in_chromium() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("city.gpkg");
    {
        let store = GpkgStore::open(&path).expect("open gpkg");
        let opts = GenerateOptions {
            as_of: Some(chrono::Utc::now()),
            ..common::sample_options()
        };
        gridmap::generate::generate_into(&store, &opts)
            .await
            .expect("generate a current sample city");
    }
    let upstream = common::satellite_upstream::start().await;
    let mut config = common::test_config(StoreLocation::Gpkg(path));
    config.satellite = Some(upstream.config(common::satellite_upstream::KEY));
    let server = gridmap::serve::start(&config).await.expect("server");
    let web = Path::new(env!("CARGO_MANIFEST_DIR")).join("web");
    let artifacts = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/wall-map");
    let url = server.url();
    let dwell_s = config.workers.dwell_s;
    let output = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg("tests/wall_map.mjs")
            .current_dir(&web)
            .env("GRIDMAP_URL", url)
            .env("GRIDMAP_TOKEN", common::token("410600", &[Role::Admin]))
            .env("GRIDMAP_STREET", STREET)
            .env(
                "GRIDMAP_STREET_TOKEN",
                common::token(STREET, &[Role::Viewer]),
            )
            .env("GRIDMAP_ARTIFACTS", &artifacts)
            .env("GRIDMAP_SATELLITE_KEY", common::satellite_upstream::KEY)
            .env("GRIDMAP_DWELL_S", dwell_s.to_string())
            .output()
    })
    .await
    .expect("join")
    .expect("node must be installed (scripts/test installs it, chromium and web/node_modules)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "the wall-map checks failed:\n{stdout}\n{stderr}"
    );
    assert!(
        upstream.asked() > 0,
        "the satellite tiles came from the upstream"
    );
    server.stop().await.expect("stop");
}
