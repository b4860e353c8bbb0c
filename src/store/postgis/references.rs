//! The reference rules of [`crate::store::Store::apply`] that the schema leaves to the writer:
//! checked inside the batch's transaction, one query per run of changes, with the same words
//! as the GeoPackage store. (The schema's foreign keys cover a house's building and a
//! population's house; plain SQL writers get the schema's rules only.)

use deadpool_postgres::Transaction;

use super::error::query_error;
use crate::model::Level;
use crate::store::StoreError;

/// The first `sql` row of two text columns, if any; `sql` takes one `text[]` parameter.
async fn first_pair(
    tx: &Transaction<'_>,
    sql: &str,
    codes: &[&str],
) -> Result<Option<(String, String)>, StoreError> {
    let row = tx
        .query_opt(sql, &[&codes])
        .await
        .map_err(|e| query_error("cannot check the references of a batch", &e))?;
    Ok(row.map(|r| (r.get(0), r.get(1))))
}

/// A rule broken by the batch; nothing of it is stored.
fn broken(message: String) -> StoreError {
    StoreError::Data(format!("{message}; nothing of the batch was stored"))
}

/// Every building's community (its first 12 code digits) is a stored area.
pub(crate) async fn communities_stored(
    tx: &Transaction<'_>,
    buildings: &[&str],
) -> Result<(), StoreError> {
    let community_len = Level::Community.base_code_len();
    if let Some(short) = buildings.iter().find(|c| c.len() <= community_len) {
        return Err(broken(format!(
            "building code {short:?} does not start with a 12-digit community code: expected community + 5 digits"
        )));
    }
    let missing = first_pair(
        tx,
        "SELECT b, left(b, 12) FROM unnest($1::text[]) AS b \
         WHERE NOT EXISTS (SELECT 1 FROM area WHERE code = left(b, 12)) LIMIT 1",
        buildings,
    )
    .await?;
    match missing {
        Some((building, community)) => Err(broken(format!(
            "building {building}: its community {community} is not stored: add that area first"
        ))),
        None => Ok(()),
    }
}

/// Every fix's worker is stored.
pub(crate) async fn workers_stored(
    tx: &Transaction<'_>,
    workers: &[&str],
) -> Result<(), StoreError> {
    let missing = first_pair(
        tx,
        "SELECT w, w FROM unnest($1::text[]) AS w \
         WHERE NOT EXISTS (SELECT 1 FROM worker WHERE code = w) LIMIT 1",
        workers,
    )
    .await?;
    match missing {
        Some((worker, _)) => Err(broken(format!(
            "the fix of worker {worker}: the worker is not stored: add the worker first"
        ))),
        None => Ok(()),
    }
}

/// No area about to be deleted keeps a child area or (a community) a building, unless that
/// child is deleted by the same run.
pub(crate) async fn areas_deletable(
    tx: &Transaction<'_>,
    areas: &[&str],
) -> Result<(), StoreError> {
    let child = first_pair(
        tx,
        "SELECT parent_code, code FROM area \
         WHERE parent_code = ANY($1) AND code <> ALL($1) ORDER BY parent_code, code LIMIT 1",
        areas,
    )
    .await?;
    if let Some((area, child)) = child {
        return Err(broken(format!(
            "area {area} still has child areas (e.g. {child}): delete or re-parent them first"
        )));
    }
    let building = first_pair(
        tx,
        "SELECT left(code, 12), code FROM building \
         WHERE left(code, 12) = ANY($1) ORDER BY code LIMIT 1",
        areas,
    )
    .await?;
    match building {
        Some((community, building)) => Err(broken(format!(
            "community {community} still has buildings (e.g. {building}): delete them first"
        ))),
        None => Ok(()),
    }
}

/// No building about to be deleted keeps a house.
pub(crate) async fn buildings_deletable(
    tx: &Transaction<'_>,
    buildings: &[&str],
) -> Result<(), StoreError> {
    let house = first_pair(
        tx,
        "SELECT building_code, code FROM house \
         WHERE building_code = ANY($1) ORDER BY code LIMIT 1",
        buildings,
    )
    .await?;
    match house {
        Some((building, house)) => Err(broken(format!(
            "building {building} still has houses (e.g. {house}): delete them first"
        ))),
        None => Ok(()),
    }
}
