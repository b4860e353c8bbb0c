//! Posting fixes as a gateway does: `POST /api/fixes` with a bearer token, one batch per
//! request, each answer checked to have stored every fix of its batch.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::bail;
use bytes::Bytes;
use serde::Deserialize;

/// The counts of an answer of `POST /api/fixes` (its per-fix results are not read).
#[derive(Deserialize)]
struct Answer {
    stored: usize,
    duplicates: usize,
    refused: usize,
}

/// An HTTP client of one server's fix endpoint.
#[derive(Clone)]
pub struct Poster {
    http: reqwest::Client,
    endpoint: Arc<str>,
    token: Arc<str>,
}

impl Poster {
    pub fn new(url: &str, token: &str) -> Poster {
        Poster {
            http: reqwest::Client::new(),
            endpoint: format!("{url}/api/fixes").into(),
            token: token.into(),
        }
    }

    /// Posts one batch of `fixes` fixes; fails unless the answer is 200 with all of them
    /// stored (a duplicate or a refusal means the benchmark did not measure what it meant to).
    pub async fn post(&self, body: Bytes, fixes: usize) -> anyhow::Result<()> {
        let text =
            crate::common::post_json(&self.http, &self.endpoint, &self.token, body, "/api/fixes")
                .await?;
        let answer: Answer = serde_json::from_str(&text)?;
        if answer.stored != fixes {
            bail!(
                "a batch of {fixes} fixes was not stored whole ({} stored, {} duplicates, {} refused): {}",
                answer.stored,
                answer.duplicates,
                answer.refused,
                first_refusal(&text)
            );
        }
        Ok(())
    }

    /// Posts every body (each of [`crate::BATCH`] fixes) from `clients` concurrent clients, each
    /// taking the next body when its answer came; the time from the first request to the last
    /// answer.
    pub async fn post_all(&self, bodies: &[Bytes], clients: usize) -> anyhow::Result<Duration> {
        let bodies: Arc<Vec<Bytes>> = Arc::new(bodies.to_vec());
        let next = Arc::new(AtomicUsize::new(0));
        let started = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..clients {
            let (poster, bodies, next) = (self.clone(), bodies.clone(), next.clone());
            tasks.push(tokio::spawn(async move {
                while let Some(body) = bodies.get(next.fetch_add(1, Ordering::Relaxed)) {
                    poster.post(body.clone(), crate::BATCH).await?;
                }
                Ok::<(), anyhow::Error>(())
            }));
        }
        for task in tasks {
            task.await??;
        }
        Ok(started.elapsed())
    }
}

/// The first refused fix's error in an answer, for the failure message.
fn first_refusal(text: &str) -> String {
    serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| {
            v["results"]
                .as_array()?
                .iter()
                .find(|r| r["status"] != "stored")
                .map(|r| r.to_string())
        })
        .unwrap_or_else(|| crate::common::preview(text))
}
