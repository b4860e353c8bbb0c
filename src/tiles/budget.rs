//! The per-tile budget: at most `max_bytes` gzip-compressed and `max_features` features.
//!
//! The rule: a tile over budget is thinned by size: the smallest features go first (by clipped
//! area; labels by the area they name), and features of `keep_small` layers (grids and their
//! parents) go only once every other feature is gone. Each round drops the share that the
//! overshoot suggests, with a 10% margin, and encodes again; the caller counts what was dropped.

use std::io::Write;

use flate2::write::GzEncoder;
use flate2::Compression;

use super::encode::{encode_tile, Encoded, TileLayer};
use super::tileset::Budget;

/// Rounds of thinning before the tile is given up as empty.
const MAX_ROUNDS: usize = 12;

/// A tile that fits the budget and how many features were dropped to make it fit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fitted {
    pub encoded: Encoded,
    pub thinned: usize,
}

/// Why a tile could not be fitted (encoding itself cannot fail; measuring the gzip size can).
#[derive(Debug, thiserror::Error)]
pub enum BudgetError {
    #[error("compressing the tile failed: {0}")]
    Compress(#[from] std::io::Error),
}

/// Encodes the layers, thinning them until the tile fits `budget`.
pub fn fit(mut layers: Vec<TileLayer<'_>>, budget: &Budget) -> Result<Fitted, BudgetError> {
    let total: usize = layers.iter().map(|l| l.features.len()).sum();
    for _ in 0..MAX_ROUNDS {
        let encoded = encode_tile(&layers);
        let count: usize = encoded.layer_counts.iter().map(|(_, n)| n).sum();
        let bytes = compressed_len(&encoded.bytes, budget.max_bytes)?;
        if bytes <= budget.max_bytes && count <= budget.max_features {
            let kept: usize = layers.iter().map(|l| l.features.len()).sum();
            return Ok(Fitted {
                encoded,
                thinned: total - kept,
            });
        }
        let ratio = (budget.max_bytes as f64 / bytes.max(1) as f64)
            .min(budget.max_features as f64 / count.max(1) as f64)
            * 0.9;
        let present: usize = layers.iter().map(|l| l.features.len()).sum();
        drop_smallest(
            &mut layers,
            present - (present as f64 * ratio).floor() as usize,
        );
    }
    layers.iter_mut().for_each(|l| l.features.clear());
    Ok(Fitted {
        encoded: encode_tile(&layers),
        thinned: total,
    })
}

/// The gzip size of a tile, computed only when the raw size could exceed `limit`.
fn compressed_len(bytes: &[u8], limit: usize) -> Result<usize, std::io::Error> {
    // gzip adds at most ~18 bytes of framing to incompressible input.
    if bytes.len() + 64 <= limit {
        return Ok(bytes.len());
    }
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(bytes)?;
    Ok(gz.finish()?.len())
}

/// Removes the `n` smallest features (droppable ones before `keep` ones).
fn drop_smallest(layers: &mut [TileLayer<'_>], n: usize) {
    let mut order: Vec<(bool, f64, usize, usize)> = layers
        .iter()
        .enumerate()
        .flat_map(|(li, l)| {
            l.features
                .iter()
                .enumerate()
                .map(move |(fi, f)| (f.keep, f.size, li, fi))
        })
        .collect();
    order.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
    let mut doomed: Vec<Vec<bool>> = layers
        .iter()
        .map(|l| vec![false; l.features.len()])
        .collect();
    for &(_, _, li, fi) in order.iter().take(n.max(1)) {
        doomed[li][fi] = true;
    }
    for (layer, doomed) in layers.iter_mut().zip(doomed) {
        let mut flags = doomed.into_iter();
        layer.features.retain(|_| !flags.next().unwrap_or(false));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tiles::encode::{TagValue, TileFeature, TileGeometry};
    use geo_types::coord;

    fn points(n: usize, keep_every: usize) -> TileLayer<'static> {
        TileLayer {
            name: "p".into(),
            features: (0..n)
                .map(|i| TileFeature {
                    id: i as u64,
                    geometry: TileGeometry::Points(vec![
                        coord! {x: (i % 4096) as f64, y: (i / 4096) as f64},
                    ]),
                    tags: vec![("code", TagValue::Text(format!("{i:015}").into()))],
                    size: i as f64,
                    keep: keep_every > 0 && i % keep_every == 0,
                })
                .collect(),
        }
    }

    #[test]
    fn an_empty_tile_fits() {
        let out = fit(vec![], &Budget::default()).unwrap();
        assert_eq!(out.thinned, 0);
        assert!(out.encoded.bytes.is_empty());
    }

    #[test]
    fn a_tile_within_budget_is_untouched() {
        let out = fit(vec![points(100, 0)], &Budget::default()).unwrap();
        assert_eq!(out.thinned, 0);
        assert_eq!(out.encoded.layer_counts[0].1, 100);
    }

    #[test]
    fn too_many_features_are_thinned_smallest_first_keeping_kept_ones() {
        let budget = Budget {
            max_bytes: 1 << 30,
            max_features: 50,
        };
        let out = fit(vec![points(200, 10)], &budget).unwrap();
        let kept = out.encoded.layer_counts[0].1;
        assert!((30..=50).contains(&kept), "{kept}");
        assert_eq!(out.thinned, 200 - kept);
    }

    #[test]
    fn too_many_bytes_are_thinned_until_they_fit() {
        let budget = Budget {
            max_bytes: 20_000,
            max_features: 1_000_000,
        };
        let out = fit(vec![points(20_000, 0)], &budget).unwrap();
        assert!(out.thinned > 0);
        assert!(compressed_len(&out.encoded.bytes, 0).unwrap() <= 20_000);
    }

    #[test]
    fn kept_features_go_last() {
        let mut layer = points(10, 0);
        layer.features[0].keep = true;
        drop_smallest(std::slice::from_mut(&mut layer), 9);
        assert_eq!(layer.features.len(), 1);
        assert!(layer.features[0].keep);
    }
}
