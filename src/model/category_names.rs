//! 事件分类: the names of event category codes, from `events/categories.toml` (extendable in
//! the config file). Codes are what is stored and filtered on; names are what people read on
//! the wall map and in exports.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The catalog built into the binary.
pub const CATEGORIES_TOML: &str = include_str!("../../events/categories.toml");

/// Names by category code: 2-digit majors and 4-digit minors.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CategoryNames {
    #[serde(default)]
    pub names: BTreeMap<String, String>,
}

/// One catalog entry as the API lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NamedCategory {
    pub code: String,
    pub name: String,
    /// The 2-digit major class the code belongs to.
    pub major: String,
    /// The major class's name, when the catalog has one.
    pub major_name: Option<String>,
}

impl CategoryNames {
    /// Parses a catalog in the shape of `events/categories.toml`.
    pub fn parse(text: &str) -> Result<CategoryNames, String> {
        toml::from_str(text).map_err(|e| format!("invalid event category table: {e}"))
    }

    /// The built-in catalog with `over`'s names added or replacing ours.
    pub fn with_overrides(over: &CategoryNames) -> Result<CategoryNames, String> {
        let mut catalog = CategoryNames::parse(CATEGORIES_TOML)?;
        catalog
            .names
            .extend(over.names.iter().map(|(k, v)| (k.clone(), v.clone())));
        Ok(catalog)
    }

    /// The built-in catalog.
    pub fn builtin() -> CategoryNames {
        CategoryNames::parse(CATEGORIES_TOML).unwrap_or_default()
    }

    /// The name of `code` itself (no fallback to its major: a minor without a name is unnamed).
    pub fn name(&self, code: &str) -> Option<&str> {
        self.names.get(code).map(String::as_str)
    }

    /// Every entry, in code order, with its major class.
    pub fn list(&self) -> Vec<NamedCategory> {
        self.names
            .iter()
            .map(|(code, name)| {
                let major = code.get(..2).unwrap_or(code).to_string();
                NamedCategory {
                    code: code.clone(),
                    name: name.clone(),
                    major_name: self.name(&major).map(str::to_string),
                    major,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_catalog_parses_and_names_majors_and_minors() {
        let c = CategoryNames::parse(CATEGORIES_TOML).expect("builtin");
        assert_eq!(c.name("01"), Some("市政设施"));
        assert_eq!(c.name("0102"), Some("井盖缺失"));
        assert_eq!(c.name("0199"), None);
        assert_eq!(c.name(""), None);
        let listed = c.list();
        let cover = listed.iter().find(|e| e.code == "0102").expect("listed");
        assert_eq!(
            (cover.major.as_str(), cover.major_name.as_deref()),
            ("01", Some("市政设施"))
        );
    }

    #[test]
    fn the_config_file_adds_and_renames() {
        let text = "[event_categories.names]\n\"0102\" = \"井盖\"\n\"1001\" = \"电梯故障\"\n";
        let file: crate::config::FileConfig = toml::from_str(text).expect("config");
        let c =
            CategoryNames::with_overrides(&file.event_categories.expect("table")).expect("merged");
        assert_eq!(c.name("0102"), Some("井盖"));
        assert_eq!(c.name("1001"), Some("电梯故障"));
        assert_eq!(c.name("0101"), Some("道路破损"));
        let orphan = c
            .list()
            .into_iter()
            .find(|e| e.code == "1001")
            .expect("listed");
        assert_eq!(orphan.major_name, None);
    }

    #[test]
    fn a_bad_catalog_is_an_error() {
        assert!(CategoryNames::parse("[names]\n\"01\" = 3\n").is_err());
        assert!(CategoryNames::parse("[other]\n").is_err());
    }
}
