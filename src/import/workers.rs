//! Grid workers (网格员 and the other roles on the ground).
//!
//! Fields: `code` (letters, digits, `-`, `_`; up to 40), `name`, `phone`, `role`, `home_code`
//! (the grid or org area they answer for, in the store), `device`.

use super::context::Context;
use super::fields::Fields;
use super::source::RawFeature;
use crate::model::{Change, Worker, WorkerRole};

/// Validates one worker row and returns its upsert.
pub fn build(feature: &RawFeature, ctx: &mut Context) -> Result<Change, Vec<String>> {
    let mut f = Fields::new(&feature.properties);
    let code = f.required_text("code");
    let name = f.required_text("name");
    let phone = f.text("phone");
    let roles: Vec<&str> = WorkerRole::ALL.iter().map(|r| r.as_str()).collect();
    let role = f.required_choice(&["role"], WorkerRole::parse, &roles);
    let home_code = f.required_text("home_code");
    let device = f.text("device");
    if let Some(code) = &code {
        if !is_worker_code(code) {
            f.problem(format!(
                "worker code {code:?} must be 1–40 letters, digits, '-' or '_'"
            ));
        }
        if let Err(e) = ctx.claim("code", code, feature.index) {
            f.problem(e);
        }
    }
    if let Some(home) = &home_code {
        if ctx.area_level(home).is_none() {
            f.problem(format!(
                "home_code {home}: no area with this code in the store; import the areas first"
            ));
        }
    }
    match (code, name, role, home_code) {
        (Some(code), Some(name), Some(role), Some(home_code)) if f.problems.is_empty() => {
            Ok(Change::UpsertWorker(Worker {
                code,
                name,
                phone,
                role,
                home_code,
                device,
            }))
        }
        _ => Err(f.problems),
    }
}

fn is_worker_code(code: &str) -> bool {
    (1..=40).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}
