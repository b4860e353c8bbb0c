//! The schema migrations of `migrations/`, embedded in the binary and applied at connect time.
//!
//! A small runner rather than a migration crate: we need the PostGIS extension check, an
//! advisory lock (several gridmap instances may start at once) and all pending files in one
//! transaction, and refinery/sqlx would each bring a second database driver or their own
//! connection handling for what is some forty lines here. Applied versions are recorded in
//! `gridmap_migrations (version, name, checksum, applied_at)`; an edited, already applied file is
//! refused instead of silently diverging.

use deadpool_postgres::Transaction;

use super::error::describe;
use crate::store::StoreError;

/// One versioned SQL file.
struct Migration {
    version: i32,
    name: &'static str,
    sql: &'static str,
}

/// Every migration, oldest first. Append new files here; never edit an applied one.
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "0001_schema.sql",
        sql: include_str!("../../../migrations/0001_schema.sql"),
    },
    Migration {
        version: 2,
        name: "0002_basemap.sql",
        sql: include_str!("../../../migrations/0002_basemap.sql"),
    },
    Migration {
        version: 3,
        name: "0003_event_code_day.sql",
        sql: include_str!("../../../migrations/0003_event_code_day.sql"),
    },
    Migration {
        version: 4,
        name: "0004_event_idempotency_scope.sql",
        sql: include_str!("../../../migrations/0004_event_idempotency_scope.sql"),
    },
    Migration {
        version: 5,
        name: "0005_worker_alert.sql",
        sql: include_str!("../../../migrations/0005_worker_alert.sql"),
    },
    Migration {
        version: 6,
        name: "0006_fix_partition_race.sql",
        sql: include_str!("../../../migrations/0006_fix_partition_race.sql"),
    },
];

/// The advisory-lock key that serializes migrations across instances ("gridmap" in ASCII).
const LOCK_KEY: i64 = 0x0067_7269_646d_6170;

/// Creates PostGIS if missing and applies every pending migration, all in one transaction under
/// the advisory lock. Returns how many migrations were applied.
pub(crate) async fn migrate(client: &mut deadpool_postgres::Client) -> Result<usize, StoreError> {
    let tx = client.transaction().await.map_err(migration_error)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_KEY])
        .await
        .map_err(migration_error)?;
    ensure_postgis(&tx).await?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS gridmap_migrations (
             version    integer PRIMARY KEY,
             name       text NOT NULL,
             checksum   text NOT NULL,
             applied_at timestamptz NOT NULL DEFAULT now()
         )",
    )
    .await
    .map_err(migration_error)?;
    let applied = applied_versions(&tx).await?;
    let mut count = 0;
    for migration in MIGRATIONS {
        match applied.iter().find(|(v, _)| *v == migration.version) {
            Some((_, checksum)) => check_unchanged(migration, checksum)?,
            None => {
                apply_one(&tx, migration).await?;
                count += 1;
            }
        }
    }
    tx.commit().await.map_err(migration_error)?;
    Ok(count)
}

/// The recorded (version, checksum) pairs; refuses a database migrated by a newer gridmap.
async fn applied_versions(tx: &Transaction<'_>) -> Result<Vec<(i32, String)>, StoreError> {
    let rows = tx
        .query(
            "SELECT version, checksum FROM gridmap_migrations ORDER BY version",
            &[],
        )
        .await
        .map_err(migration_error)?;
    let applied: Vec<(i32, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    let known = MIGRATIONS.iter().map(|m| m.version).max().unwrap_or(0);
    if let Some((newest, _)) = applied.iter().find(|(v, _)| *v > known) {
        return Err(StoreError::Migration(format!(
            "the database schema is at version {newest}, newer than this gridmap knows ({known}): run a newer gridmap"
        )));
    }
    Ok(applied)
}

fn check_unchanged(migration: &Migration, recorded: &str) -> Result<(), StoreError> {
    if checksum(migration.sql) == recorded {
        Ok(())
    } else {
        Err(StoreError::Migration(format!(
            "migration {} was changed after it was applied to this database; add a new migration instead of editing an applied one",
            migration.name
        )))
    }
}

async fn apply_one(tx: &Transaction<'_>, migration: &Migration) -> Result<(), StoreError> {
    tx.batch_execute(migration.sql)
        .await
        .map_err(|e| StoreError::Migration(format!("{}: {}", migration.name, describe(&e))))?;
    tx.execute(
        "INSERT INTO gridmap_migrations (version, name, checksum) VALUES ($1, $2, $3)",
        &[
            &migration.version,
            &migration.name,
            &checksum(migration.sql),
        ],
    )
    .await
    .map_err(migration_error)?;
    tracing::info!(
        version = migration.version,
        name = migration.name,
        "applied migration"
    );
    Ok(())
}

/// Creates the PostGIS extension when the database lacks it, with an actionable error when the
/// server has no PostGIS package installed.
async fn ensure_postgis(tx: &Transaction<'_>) -> Result<(), StoreError> {
    let present = tx
        .query_opt("SELECT 1 FROM pg_extension WHERE extname = 'postgis'", &[])
        .await
        .map_err(migration_error)?;
    if present.is_some() {
        return Ok(());
    }
    let available = tx
        .query_opt(
            "SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'",
            &[],
        )
        .await
        .map_err(migration_error)?;
    if available.is_none() {
        let major = server_major_version(tx).await?;
        return Err(StoreError::Migration(format!(
            "the PostGIS extension is not installed on the database server: install it there \
             (Debian/Ubuntu: apt-get install postgresql-{major}-postgis-3) and start gridmap again"
        )));
    }
    tx.batch_execute("CREATE EXTENSION IF NOT EXISTS postgis")
        .await
        .map_err(|e| {
            StoreError::Migration(format!(
                "cannot create the PostGIS extension: {}; ask a superuser to run CREATE EXTENSION postgis in this database",
                describe(&e)
            ))
        })
}

async fn server_major_version(tx: &Transaction<'_>) -> Result<i32, StoreError> {
    let row = tx
        .query_one(
            "SELECT current_setting('server_version_num')::int / 10000",
            &[],
        )
        .await
        .map_err(migration_error)?;
    Ok(row.get(0))
}

fn migration_error(e: tokio_postgres::Error) -> StoreError {
    StoreError::Migration(describe(&e))
}

/// FNV-1a (64 bit) of a migration's text, in hex: enough to notice an edited file.
fn checksum(sql: &str) -> String {
    let hash = sql.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_of_empty_text_is_the_fnv_offset() {
        assert_eq!(checksum(""), "cbf29ce484222325");
    }

    #[test]
    fn checksum_changes_with_one_byte() {
        assert_ne!(
            checksum("CREATE TABLE a ();"),
            checksum("CREATE TABLE b ();")
        );
    }

    #[test]
    fn versions_increase_from_one() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version as usize, i + 1, "{}", m.name);
            assert!(
                m.name.starts_with(&format!("{:04}_", m.version)),
                "{}",
                m.name
            );
        }
    }
}
