//! Typed reading of a feature's properties, collecting every problem with a message that
//! names the field, the value and what is accepted.
//!
//! Properties come from GeoJSON (typed JSON), GeoPackage columns (typed) or CSV cells (text),
//! so numbers are accepted as JSON numbers or as numeric text, and empty text counts as absent.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Map, Value};

/// The properties of one feature and the problems found while reading them.
pub struct Fields<'a> {
    props: &'a Map<String, Value>,
    /// Every problem found so far, in reading order.
    pub problems: Vec<String>,
}

impl<'a> Fields<'a> {
    /// Starts reading `props`.
    pub fn new(props: &'a Map<String, Value>) -> Fields<'a> {
        Fields {
            props,
            problems: Vec::new(),
        }
    }

    /// Records a problem found outside the field readers (cross checks, geometry).
    pub fn problem(&mut self, message: impl Into<String>) {
        self.problems.push(message.into());
    }

    /// The raw value of the first of `names` that is present and not empty.
    fn raw(&self, names: &[&str]) -> Option<(&'a str, &'a Value)> {
        names.iter().find_map(|name| {
            let (key, value) = self.props.get_key_value(*name)?;
            match value {
                Value::Null => None,
                Value::String(s) if s.trim().is_empty() => None,
                v => Some((key.as_str(), v)),
            }
        })
    }

    /// Whether the field is present and not empty.
    pub fn has(&self, name: &str) -> bool {
        self.raw(&[name]).is_some()
    }

    /// Optional text (numbers are given as their text form).
    pub fn text(&mut self, name: &str) -> Option<String> {
        self.text_any(&[name])
    }

    /// Optional text from the first present of several accepted names.
    pub fn text_any(&mut self, names: &[&str]) -> Option<String> {
        let (key, value) = self.raw(names)?;
        match value {
            Value::String(s) => Some(s.trim().to_string()),
            Value::Number(n) => Some(n.to_string()),
            other => {
                self.problems
                    .push(format!("field {key} must be text, found {other}"));
                None
            }
        }
    }

    /// Required text.
    pub fn required_text(&mut self, name: &str) -> Option<String> {
        self.required_text_any(&[name])
    }

    /// Required text from the first present of several accepted names.
    pub fn required_text_any(&mut self, names: &[&str]) -> Option<String> {
        if self.raw(names).is_none() {
            self.problems.push(missing(names));
            return None;
        }
        self.text_any(names)
    }

    /// Optional number.
    pub fn number(&mut self, name: &str) -> Option<f64> {
        let (key, value) = self.raw(&[name])?;
        let parsed = match value {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse::<f64>().ok(),
            _ => None,
        };
        match parsed.filter(|v| v.is_finite()) {
            Some(v) => Some(v),
            None => {
                self.problems
                    .push(format!("field {key} must be a number, found {value}"));
                None
            }
        }
    }

    /// Optional whole number within `min..=max`.
    pub fn integer(&mut self, name: &str, min: i64, max: i64) -> Option<i64> {
        let value = self.number(name)?;
        if value.fract() != 0.0 || value < min as f64 || value > max as f64 {
            self.problems.push(format!(
                "field {name} must be a whole number from {min} to {max}, found {value}"
            ));
            return None;
        }
        Some(value as i64)
    }

    /// Required whole number within `min..=max`.
    pub fn required_integer(&mut self, name: &str, min: i64, max: i64) -> Option<i64> {
        if self.raw(&[name]).is_none() {
            self.problems.push(format!("missing required field {name}"));
            return None;
        }
        self.integer(name, min, max)
    }

    /// Optional value of an enumeration, parsed by `parse`; the error lists `accepted`.
    pub fn choice<T>(
        &mut self,
        names: &[&str],
        parse: impl Fn(&str) -> Option<T>,
        accepted: &[&str],
    ) -> Option<T> {
        let text = self.text_any(names)?;
        let parsed = parse(&text);
        if parsed.is_none() {
            self.problems.push(format!(
                "unknown {} {text:?}: accepted are {}",
                names[0],
                accepted.join(", ")
            ));
        }
        parsed
    }

    /// Required value of an enumeration.
    pub fn required_choice<T>(
        &mut self,
        names: &[&str],
        parse: impl Fn(&str) -> Option<T>,
        accepted: &[&str],
    ) -> Option<T> {
        if self.raw(names).is_none() {
            self.problems.push(format!(
                "missing required field {} (accepted values: {})",
                names[0],
                accepted.join(", ")
            ));
            return None;
        }
        self.choice(names, parse, accepted)
    }

    /// Optional calendar date, `YYYY-MM-DD`.
    pub fn date(&mut self, name: &str) -> Option<NaiveDate> {
        let text = self.text(name)?;
        let parsed = NaiveDate::parse_from_str(&text, "%Y-%m-%d").ok();
        if parsed.is_none() {
            self.problems.push(format!(
                "field {name} must be a date YYYY-MM-DD, found {text:?}"
            ));
        }
        parsed
    }

    /// Optional instant: RFC 3339 (`2024-05-01T08:30:00+08:00`), or `YYYY-MM-DD HH:MM:SS`
    /// read as China Standard Time (UTC+8), the clock of every source system.
    pub fn datetime(&mut self, name: &str) -> Option<DateTime<Utc>> {
        let text = self.text(name)?;
        let parsed = parse_instant(&text);
        if parsed.is_none() {
            self.problems.push(format!(
                "field {name} must be a time like 2024-05-01T08:30:00+08:00 or 2024-05-01 08:30:00 (UTC+8), found {text:?}"
            ));
        }
        parsed
    }
}

/// "missing required field a" or "missing required field a (or b, c)".
fn missing(names: &[&str]) -> String {
    match names {
        [first, rest @ ..] if !rest.is_empty() => {
            format!("missing required field {first} (or {})", rest.join(", "))
        }
        _ => format!("missing required field {}", names.join("")),
    }
}

fn parse_instant(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    let china = crate::model::event_code::china_offset();
    ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]
        .iter()
        .find_map(|format| {
            let naive = chrono::NaiveDateTime::parse_from_str(text, format).ok()?;
            naive
                .and_local_timezone(china)
                .single()
                .map(|t| t.with_timezone(&Utc))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn props(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn empty_text_counts_as_missing() {
        let p = props(json!({"name": "  ", "other": null}));
        let mut f = Fields::new(&p);
        assert_eq!(f.text("name"), None);
        assert_eq!(f.required_text("other"), None);
        assert_eq!(f.problems, vec!["missing required field other".to_string()]);
    }

    #[test]
    fn aliases_are_named_in_the_missing_message() {
        let p = props(json!({}));
        let mut f = Fields::new(&p);
        f.required_text_any(&["building_use", "use"]);
        assert_eq!(
            f.problems,
            vec!["missing required field building_use (or use)".to_string()]
        );
    }

    #[test]
    fn numbers_from_text_and_json() {
        let p = props(json!({"a": "12", "b": 3.0, "c": 2.5, "d": "x", "e": -1}));
        let mut f = Fields::new(&p);
        assert_eq!(f.integer("a", 0, 100), Some(12));
        assert_eq!(f.integer("b", 0, 100), Some(3));
        assert_eq!(f.integer("c", 0, 100), None);
        assert_eq!(f.number("d"), None);
        assert_eq!(f.integer("e", 0, 100), None);
        assert_eq!(f.problems.len(), 3);
        assert!(f.problems[0].contains("whole number from 0 to 100, found 2.5"));
        assert!(f.problems[1].contains("field d must be a number"));
    }

    #[test]
    fn enumerations_list_what_is_accepted() {
        let p = props(json!({"source": "fax"}));
        let mut f = Fields::new(&p);
        let parsed = f.choice(
            &["source"],
            crate::model::EventSource::parse,
            &["patrol", "hotline"],
        );
        assert_eq!(parsed, None);
        assert_eq!(
            f.problems,
            vec!["unknown source \"fax\": accepted are patrol, hotline".to_string()]
        );
    }

    #[test]
    fn times_in_rfc3339_or_china_local() {
        let p = props(
            json!({"a": "2024-05-01T08:30:00+08:00", "b": "2024-05-01 08:30:00", "c": "May 1"}),
        );
        let mut f = Fields::new(&p);
        let a = f.datetime("a").unwrap();
        assert_eq!(a.to_rfc3339(), "2024-05-01T00:30:00+00:00");
        assert_eq!(f.datetime("b"), Some(a));
        assert_eq!(f.datetime("c"), None);
        assert_eq!(f.problems.len(), 1);
    }
}
