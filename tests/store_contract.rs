//! Runs every case of the store contract (`tests/store_contract/cases.rs`) against both stores:
//! the embedded GeoPackage, each case in its own temporary file, and PostGIS, each case in its
//! own database. Test names are `gpkg::<case>` and `postgis::<case>`.

#[path = "store_contract/cases.rs"]
mod cases;
mod common;

use gridmap::store::gpkg::GpkgStore;
use gridmap::store::postgis::PostgisStore;

/// A GeoPackage store in a new file, with the folder that holds it (removed when dropped).
fn fresh_gpkg() -> (GpkgStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = GpkgStore::open(&dir.path().join("contract.gpkg")).expect("open a new GeoPackage");
    (store, dir)
}

/// A PostGIS store on a new database made from the template.
async fn fresh_postgis() -> PostgisStore {
    let url = common::fresh_postgis_url().await;
    PostgisStore::connect(&url)
        .await
        .expect("connect and migrate")
}

/// One `#[tokio::test]` per (case, store).
macro_rules! contract {
    ($($case:ident),+ $(,)?) => {
        mod gpkg {
            $(
                #[tokio::test]
                async fn $case() {
                    let (store, _dir) = super::fresh_gpkg();
                    super::cases::$case(&store).await;
                }
            )+
        }
        mod postgis {
            $(
                #[tokio::test]
                async fn $case() {
                    let store = super::fresh_postgis().await;
                    super::cases::$case(&store).await;
                }
            )+
        }
    };
}

contract!(
    an_empty_store_holds_nothing,
    every_record_kind_round_trips,
    upserts_update_in_place,
    a_batch_applies_in_order_and_deletes_are_idempotent,
    a_failing_batch_writes_nothing,
    references_and_keys_are_checked,
    deletions_keep_references_whole,
    events_stream_oldest_first,
    a_large_event_batch_is_written_and_streamed_back,
    the_sample_city_round_trips,
    ingest_stores_the_same_events_once,
    an_unknown_event_is_none,
    a_transition_is_checked_against_the_steps_read,
    fixes_are_stored_once_and_need_their_worker,
    worker_state_and_alerts_round_trip,
    retention_deletes_the_fixes_before_the_cut,
    a_worker_s_fixes_are_read_in_a_window_oldest_first,
);
