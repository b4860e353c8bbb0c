//! Helpers the benchmarks share: their environment, PostgreSQL connections and the figures a
//! side of a comparison is measured by (WAL written, CPU seconds, resident memory).
//!
//! Each benchmark is its own crate and uses a part of this module, so unused items are allowed.
#![allow(dead_code)]

pub mod pg;
pub mod process;

use anyhow::Context;

/// A count from the environment, or `default` when the variable is unset.
pub fn env_number(name: &str, default: usize) -> anyhow::Result<usize> {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .with_context(|| format!("{name}={v:?} is not a number")),
        Err(_) => Ok(default),
    }
}

/// The `q` quantile (0..=1) of sorted values by the nearest-rank rule; NaN when empty.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1]
}

/// POSTs a JSON body with a bearer token; the answer's text when it is 2xx, else an error
/// naming `what` and the start of the answer.
pub async fn post_json(
    http: &reqwest::Client,
    endpoint: &str,
    token: &str,
    body: impl Into<reqwest::Body>,
    what: &str,
) -> anyhow::Result<String> {
    let response = http
        .post(endpoint)
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await?;
    let status = response.status();
    let text = response.text().await?;
    if !status.is_success() {
        anyhow::bail!("POST {what} answered {status}: {}", preview(&text));
    }
    Ok(text)
}

/// The start of an answer, for error messages.
pub fn preview(text: &str) -> String {
    text.chars().take(300).collect()
}
