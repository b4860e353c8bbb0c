//! Binary `COPY` of event transitions: the largest table (about five steps per event, tens of
//! millions of rows at city scale), written as an append after the event's old steps are removed.

use deadpool_postgres::Transaction;
use futures::pin_mut;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::Type;

use super::error::write_error;
use crate::model::Event;
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
