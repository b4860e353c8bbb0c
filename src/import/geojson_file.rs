//! GeoJSON input: a FeatureCollection whose property names are the model's field names.
//!
//! The `crs` member of the 2008 GeoJSON spec (`{"type": "name", "properties": {"name":
//! "urn:ogc:def:crs:EPSG::4547"}}`, or the older `{"type": "EPSG", "properties": {"code":
//! 4547}}`) is honoured when present; RFC 7946 files have none and are WGS84. A feature's `id`
//! stands in for a missing `code` property.

use std::path::Path;

use serde_json::{Map, Value};

use super::error::ImportError;
use super::geometry::RawGeometry;
use super::source::{RawFeature, SourceFile};
use crate::crs::Crs;

/// Reads a GeoJSON FeatureCollection.
pub fn read(path: &Path) -> Result<SourceFile, ImportError> {
    let text = std::fs::read_to_string(path).map_err(|source| ImportError::Io {
        path: path.display().to_string(),
        source,
    })?;
    parse(&text).map_err(|reason| match reason {
        Problem::Format(reason) => ImportError::GeoJson {
            path: path.display().to_string(),
            reason,
        },
        Problem::Crs(reason) => ImportError::DeclaredCrs {
            path: path.display().to_string(),
            reason,
        },
    })
}

enum Problem {
    Format(String),
    Crs(String),
}

fn parse(text: &str) -> Result<SourceFile, Problem> {
    let root: Value = serde_json::from_str(text).map_err(|e| Problem::Format(e.to_string()))?;
    let kind = root.get("type").and_then(Value::as_str);
    if kind != Some("FeatureCollection") {
        return Err(Problem::Format(format!(
            "expected a FeatureCollection, found {}",
            kind.map_or("no \"type\"".to_string(), |k| format!("type {k:?}"))
        )));
    }
    let declared_crs = root
        .get("crs")
        .map(declared_crs)
        .transpose()
        .map_err(Problem::Crs)?;
    let features = root
        .get("features")
        .and_then(Value::as_array)
        .ok_or_else(|| Problem::Format("the FeatureCollection has no \"features\" array".into()))?;
    let features = features
        .iter()
        .enumerate()
        .map(|(index, f)| feature(index, f))
        .collect();
    Ok(SourceFile {
        declared_crs,
        features,
    })
}

fn declared_crs(crs: &Value) -> Result<Crs, String> {
    let props = crs.get("properties");
    let name = props
        .and_then(|p| p.get("name"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| {
            props
                .and_then(|p| p.get("code"))
                .map(|c| format!("EPSG:{}", c.as_str().map_or(c.to_string(), str::to_string)))
        });
    let name = name.ok_or_else(|| {
        format!("crs member {crs} has neither properties.name nor properties.code")
    })?;
    Crs::parse(&name).map_err(|e| e.to_string())
}

fn feature(index: usize, value: &Value) -> RawFeature {
    let mut properties: Map<String, Value> = value
        .get("properties")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    if !properties.contains_key("code") {
        if let Some(id) = value
            .get("id")
            .filter(|id| id.is_string() || id.is_number())
        {
            properties.insert(
                "code".into(),
                id.as_str().map_or(id.to_string(), |s| s.to_string()).into(),
            );
        }
    }
    let geometry = value
        .get("geometry")
        .filter(|g| !g.is_null())
        .map(RawGeometry::from_json);
    RawFeature {
        index,
        properties,
        geometry,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> SourceFile {
        parse(text).unwrap_or_else(|_| panic!("parse failed"))
    }

    #[test]
    fn refuses_what_is_not_a_feature_collection() {
        for bad in [
            "",
            "[]",
            r#"{"type": "Feature"}"#,
            r#"{"type": "FeatureCollection"}"#,
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn empty_collection() {
        let file = parsed(r#"{"type": "FeatureCollection", "features": []}"#);
        assert!(file.features.is_empty() && file.declared_crs.is_none());
    }

    #[test]
    fn honours_the_old_crs_member() {
        let file = parsed(
            r#"{"type": "FeatureCollection", "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4547"}}, "features": []}"#,
        );
        assert_eq!(file.declared_crs, Some(Crs::GaussKruger(4547)));
        let file = parsed(
            r#"{"type": "FeatureCollection", "crs": {"type": "EPSG", "properties": {"code": 4490}}, "features": []}"#,
        );
        assert_eq!(file.declared_crs, Some(Crs::Cgcs2000));
        assert!(matches!(
            parse(
                r#"{"type": "FeatureCollection", "crs": {"type": "name", "properties": {"name": "EPSG:2000"}}, "features": []}"#
            ),
            Err(Problem::Crs(_))
        ));
    }

    #[test]
    fn id_stands_in_for_code_and_null_geometry_is_none() {
        let file = parsed(
            r#"{"type": "FeatureCollection", "features": [{"type": "Feature", "id": 410611, "geometry": null, "properties": null}]}"#,
        );
        assert_eq!(file.features[0].code().as_deref(), Some("410611"));
        assert!(file.features[0].geometry.is_none());
    }
}
