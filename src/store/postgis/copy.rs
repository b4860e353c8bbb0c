//! Binary `COPY` into the two tables written as appends at the highest rates: event transitions
//! (about five steps per event, tens of millions of rows at city scale; written after the
//! event's old steps are removed) and GPS fixes (a city's workers send thousands a second).

use bytes::{BufMut, BytesMut};
use deadpool_postgres::Transaction;
use futures::pin_mut;
use geo_types::Geometry;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{to_sql_checked, IsNull, ToSql, Type};

use super::error::write_error;
use super::rows::ewkb;
use crate::model::{Event, WorkerFix};
use crate::store::StoreError;

const COPY_TRANSITIONS: &str = "COPY event_transition \
     (event_code, seq, at, from_status, to_status, actor, level, department, note) \
     FROM STDIN (FORMAT binary)";

const TRANSITION_TYPES: [Type; 9] = [
    Type::TEXT,
    Type::INT4,
    Type::TIMESTAMPTZ,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
];

/// Writes the transitions of `events`, numbered from 1 in log order. The caller has deleted the
/// events' previous transitions in the same transaction.
pub(crate) async fn transitions(tx: &Transaction<'_>, events: &[&Event]) -> Result<(), StoreError> {
    if events.iter().all(|e| e.transitions.is_empty()) {
        return Ok(());
    }
    let sink = tx
        .copy_in(COPY_TRANSITIONS)
        .await
        .map_err(|e| write_error("event transition", &e))?;
    let writer = BinaryCopyInWriter::new(sink, &TRANSITION_TYPES);
    pin_mut!(writer);
    for event in events {
        for (i, step) in event.transitions.iter().enumerate() {
            let seq = i32::try_from(i + 1).map_err(|_| {
                StoreError::Data(format!("event {} has too many transitions", event.code))
            })?;
            writer
                .as_mut()
                .write(&[
                    &event.code,
                    &seq,
                    &step.at,
                    &step.from.map(|s| s.as_str()),
                    &step.to.as_str(),
                    &step.actor,
                    &step.level.as_str(),
                    &step.department,
                    &step.note,
                ])
                .await
                .map_err(|e| write_error("event transition", &e))?;
        }
    }
    writer
        .finish()
        .await
        .map_err(|e| write_error("event transition", &e))?;
    Ok(())
}

const COPY_FIXES: &str = "COPY worker_fix \
     (worker_code, at, geom, accuracy_m, speed_mps, heading_deg, source_crs) \
     FROM STDIN (FORMAT binary)";

/// Writes fixes with distinct (worker, time) keys, routed to their day partitions. A fix
/// stored before fails the whole copy with a unique violation, which the caller looks for.
pub(crate) async fn fixes(
    tx: &Transaction<'_>,
    fixes: &[&WorkerFix],
) -> Result<(), tokio_postgres::Error> {
    let geometry = tx
        .prepare_cached("SELECT $1::geometry")
        .await?
        .params()
        .first()
        .cloned()
        .unwrap_or(Type::BYTEA);
    let types = [
        Type::TEXT,
        Type::TIMESTAMPTZ,
        geometry,
        Type::FLOAT4,
        Type::FLOAT4,
        Type::FLOAT4,
        Type::TEXT,
    ];
    let sink = tx.copy_in(COPY_FIXES).await?;
    let writer = BinaryCopyInWriter::new(sink, &types);
    pin_mut!(writer);
    for fix in fixes {
        writer
            .as_mut()
            .write(&[
                &fix.worker_code,
                &fix.at,
                &GeometryParam(Geometry::Point(fix.position)),
                &fix.accuracy_m,
                &fix.speed_mps,
                &fix.heading_deg,
                &fix.source_crs,
            ])
            .await?;
    }
    writer.finish().await?;
    Ok(())
}

/// A geometry sent in PostGIS's binary form (EWKB with the storage SRID), which is what a
/// binary `COPY` into a `geometry` column takes.
#[derive(Debug)]
struct GeometryParam(Geometry<f64>);

impl ToSql for GeometryParam {
    fn to_sql(
        &self,
        _: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        out.put_slice(&ewkb(self.0.clone())?);
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        ty.name() == "geometry"
    }

    to_sql_checked!();
}
