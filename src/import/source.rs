//! What every reader produces: the features of a file in a format-neutral shape.

use serde_json::{Map, Value};

use super::geometry::RawGeometry;
use crate::crs::Crs;

/// One feature (or CSV row, or table row) as read.
#[derive(Debug, Clone)]
pub struct RawFeature {
    /// Position in the file, from 0.
    pub index: usize,
    /// Attribute values by field name.
    pub properties: Map<String, Value>,
    /// The geometry, if the feature has one; `Err` when it could not be read.
    pub geometry: Option<Result<RawGeometry, String>>,
}

impl RawFeature {
    /// The feature's code if it has one (`code`, `house_code` for population rows, `id` for
    /// basemap features): used to name the feature in error messages.
    pub fn code(&self) -> Option<String> {
        ["code", "house_code", "id"]
            .iter()
            .find_map(|k| match self.properties.get(*k)? {
                Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
    }
}

/// A file's features and the CRS the file declares (if any).
#[derive(Debug, Clone, Default)]
pub struct SourceFile {
    pub declared_crs: Option<Crs>,
    pub features: Vec<RawFeature>,
}
