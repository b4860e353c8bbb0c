//! A GPS fix as a device or gateway posts it, checked one by one: every refusal names its
//! reason with a stable code, so that one bad fix never fails the rest of its batch.
//!
//! Rules:
//! - `worker` (a worker code) or `device` (its registered device id) names the worker;
//! - `at` is required (RFC 3339), at most [`FUTURE_SKEW`] ahead of the service clock and not
//!   older than the retention;
//! - `lon`/`lat` are in `crs` (`wgs84`, the default, `gcj02` or `bd09`) and must convert to a
//!   point inside China's accepted range (`model::lonlat_in_range`);
//! - `accuracy` and `speed` are at least 0, `heading` in 0..=360;
//! - a fix implying a move faster than the configured maximum from the worker's previous fix
//!   (its latest stored one, or the one before it in the batch) is refused as
//!   `impossible_speed`; the accuracies of both fixes are forgiven first (GPS jitter is not
//!   movement).

use chrono::{DateTime, Duration, Utc};
use geo::{Distance, Haversine};
use geo_types::Point;
use serde::Deserialize;

use super::{lonlat_in_range, WorkerFix};
use crate::crs::{self, Crs};

/// How far ahead of the service clock a fix may be dated (phone clocks drift).
pub const FUTURE_SKEW: Duration = Duration::seconds(60);

/// One fix as posted.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixInput {
    /// The worker's code; or give `device`.
    pub worker: Option<String>,
    /// The device id the worker is registered with.
    pub device: Option<String>,
    /// When the fix was taken (RFC 3339).
    pub at: Option<String>,
    pub lon: Option<f64>,
    pub lat: Option<f64>,
    /// `wgs84` (default), `gcj02` or `bd09`.
    pub crs: Option<String>,
    /// Horizontal accuracy, metres.
    pub accuracy: Option<f32>,
    /// Ground speed, metres per second.
    pub speed: Option<f32>,
    /// Course over ground, degrees clockwise from north.
    pub heading: Option<f32>,
}

/// Why a fix was refused: a stable code and a message a person can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixRefusal {
    pub code: &'static str,
    pub message: String,
}

/// A refusal with its code and message.
pub fn refuse(code: &'static str, message: impl Into<String>) -> FixRefusal {
    FixRefusal {
        code,
        message: message.into(),
    }
}

/// The bounds a fix's time must lie in.
#[derive(Debug, Clone, Copy)]
pub struct TimeWindow {
    /// The service clock's now.
    pub now: DateTime<Utc>,
    /// The oldest time kept (now minus the retention).
    pub oldest: DateTime<Utc>,
}

/// Checks a posted fix's fields and converts its position to storage longitude/latitude;
/// `worker_code` is the worker it was resolved to.
pub fn build_fix(
    input: &FixInput,
    worker_code: &str,
    window: TimeWindow,
) -> Result<WorkerFix, FixRefusal> {
    let at = fix_time(input.at.as_deref(), window)?;
    let (source_crs, crs) = fix_crs(input.crs.as_deref())?;
    let (Some(x), Some(y)) = (input.lon, input.lat) else {
        return Err(refuse("missing_position", "lon and lat are required"));
    };
    let (lon, lat) = crs::to_storage(crs, x, y)
        .map_err(|e| refuse("outside_china", format!("position {x}, {y}: {e}")))?;
    if !lonlat_in_range(lon, lat) {
        return Err(refuse(
            "outside_china",
            format!("position {x}, {y} ({source_crs}) is outside China (longitude 73..136, latitude 3..54)"),
        ));
    }
    check_measure(
        "accuracy",
        input.accuracy,
        |v| v >= 0.0,
        "at least 0 metres",
    )?;
    check_measure("speed", input.speed, |v| v >= 0.0, "at least 0 m/s")?;
    check_measure(
        "heading",
        input.heading,
        |v| (0.0..=360.0).contains(&v),
        "between 0 and 360 degrees",
    )?;
    Ok(WorkerFix {
        worker_code: worker_code.to_string(),
        at,
        position: Point::new(lon, lat),
        accuracy_m: input.accuracy,
        speed_mps: input.speed,
        heading_deg: input.heading,
        source_crs: source_crs.to_string(),
    })
}

fn fix_time(text: Option<&str>, window: TimeWindow) -> Result<DateTime<Utc>, FixRefusal> {
    let text = text.ok_or_else(|| refuse("bad_time", "at is required (RFC 3339)"))?;
    let at = DateTime::parse_from_rfc3339(text)
        .map_err(|e| {
            refuse(
                "bad_time",
                format!("at {text:?} is not an RFC 3339 time: {e}"),
            )
        })?
        .with_timezone(&Utc);
    // Both stores keep milliseconds.
    let at = DateTime::from_timestamp_millis(at.timestamp_millis()).unwrap_or(at);
    if at > window.now + FUTURE_SKEW {
        return Err(refuse(
            "future_time",
            format!(
                "at {text} is in the future (the service clock says {}): check the device clock",
                window.now.to_rfc3339()
            ),
        ));
    }
    if at < window.oldest {
        return Err(refuse(
            "too_old",
            format!(
                "at {text} is older than the fixes kept (since {})",
                window.oldest.to_rfc3339()
            ),
        ));
    }
    Ok(at)
}

/// The stored name and the CRS of a fix's `crs` field.
fn fix_crs(text: Option<&str>) -> Result<(&'static str, Crs), FixRefusal> {
    let crs = match text {
        None => Crs::Wgs84,
        Some(t) => Crs::parse(t).map_err(|e| refuse("bad_crs", e.to_string()))?,
    };
    match crs {
        Crs::Wgs84 | Crs::Cgcs2000 => Ok(("wgs84", crs)),
        Crs::Gcj02 => Ok(("gcj02", crs)),
        Crs::Bd09 => Ok(("bd09", crs)),
        other => Err(refuse(
            "bad_crs",
            format!("a fix's crs must be wgs84, gcj02 or bd09, not {other}"),
        )),
    }
}

fn check_measure(
    name: &str,
    value: Option<f32>,
    ok: impl Fn(f32) -> bool,
    rule: &str,
) -> Result<(), FixRefusal> {
    match value {
        Some(v) if !(v.is_finite() && ok(v)) => {
            Err(refuse("bad_value", format!("{name} {v} must be {rule}")))
        }
        _ => Ok(()),
    }
}

/// The speed in m/s a worker must have moved at from `from` to `to` (`to` later), after
/// forgiving both fixes' accuracy; `None` when `to` is not later.
pub fn implied_speed(from: &WorkerFix, to: &WorkerFix) -> Option<f64> {
    let seconds = (to.at - from.at).num_milliseconds() as f64 / 1000.0;
    if seconds <= 0.0 {
        return None;
    }
    let metres = Haversine.distance(from.position, to.position);
    let slack = f64::from(from.accuracy_m.unwrap_or(0.0) + to.accuracy_m.unwrap_or(0.0));
    Some((metres - slack).max(0.0) / seconds)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn window() -> TimeWindow {
        let now = Utc
            .with_ymd_and_hms(2026, 12, 6, 8, 0, 0)
            .single()
            .expect("now");
        TimeWindow {
            now,
            oldest: now - Duration::days(180),
        }
    }

    fn input(at: &str, lon: f64, lat: f64, crs: Option<&str>) -> FixInput {
        FixInput {
            worker: Some("w1".into()),
            device: None,
            at: Some(at.into()),
            lon: Some(lon),
            lat: Some(lat),
            crs: crs.map(str::to_string),
            accuracy: None,
            speed: None,
            heading: None,
        }
    }

    fn code_of(input: &FixInput) -> &'static str {
        build_fix(input, "w1", window()).expect_err("refused").code
    }

    #[test]
    fn missing_fields_are_named() {
        let mut fix = input("2026-12-06T07:59:00Z", 114.3, 35.7, None);
        fix.at = None;
        assert_eq!(code_of(&fix), "bad_time");
        let mut fix = input("2026-12-06T07:59:00Z", 114.3, 35.7, None);
        fix.lat = None;
        assert_eq!(code_of(&fix), "missing_position");
    }

    #[test]
    fn times_in_the_future_or_past_the_retention_are_refused() {
        assert_eq!(
            code_of(&input("2026-12-06T08:02:00Z", 114.3, 35.7, None)),
            "future_time"
        );
        assert_eq!(
            code_of(&input("2020-01-01T00:00:00Z", 114.3, 35.7, None)),
            "too_old"
        );
        assert_eq!(code_of(&input("yesterday", 114.3, 35.7, None)), "bad_time");
        // A minute of clock drift is accepted.
        assert!(build_fix(
            &input("2026-12-06T08:00:59Z", 114.3, 35.7, None),
            "w1",
            window()
        )
        .is_ok());
    }

    #[test]
    fn positions_outside_china_and_unknown_crs_are_refused() {
        assert_eq!(
            code_of(&input("2026-12-06T07:59:00Z", 2.35, 48.85, None)),
            "outside_china"
        );
        assert_eq!(
            code_of(&input(
                "2026-12-06T07:59:00Z",
                114.3,
                35.7,
                Some("EPSG:4547")
            )),
            "bad_crs"
        );
        assert_eq!(
            code_of(&input("2026-12-06T07:59:00Z", 114.3, 35.7, Some("mars"))),
            "bad_crs"
        );
    }

    #[test]
    fn a_gcj02_fix_is_stored_as_wgs84_with_its_source_crs() {
        let (lon, lat) = crate::crs::gcj02::wgs84_to_gcj02(114.3, 35.7);
        let fix = build_fix(
            &input("2026-12-06T07:59:00Z", lon, lat, Some("GCJ-02")),
            "w1",
            window(),
        )
        .expect("accepted");
        assert_eq!(fix.source_crs, "gcj02");
        let metres = Haversine.distance(fix.position, Point::new(114.3, 35.7));
        assert!(metres < 0.01, "{metres}");
    }

    #[test]
    fn negative_accuracy_and_a_heading_past_360_are_refused() {
        let mut fix = input("2026-12-06T07:59:00Z", 114.3, 35.7, None);
        fix.accuracy = Some(-1.0);
        assert_eq!(code_of(&fix), "bad_value");
        let mut fix = input("2026-12-06T07:59:00Z", 114.3, 35.7, None);
        fix.heading = Some(361.0);
        assert_eq!(code_of(&fix), "bad_value");
    }

    #[test]
    fn speed_forgives_the_accuracies_and_needs_a_later_fix() {
        let a = build_fix(
            &input("2026-12-06T07:59:00Z", 114.3, 35.7, None),
            "w1",
            window(),
        )
        .expect("a");
        let mut b = build_fix(
            &input("2026-12-06T07:59:10Z", 114.3, 35.701, None),
            "w1",
            window(),
        )
        .expect("b");
        let plain = implied_speed(&a, &b).expect("later");
        assert!((plain - 11.1).abs() < 0.1, "{plain}");
        b.accuracy_m = Some(200.0);
        assert_eq!(implied_speed(&a, &b), Some(0.0));
        assert_eq!(implied_speed(&b, &a), None);
    }
}
