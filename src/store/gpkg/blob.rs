//! GeoPackage geometry blobs (GeoPackage 1.3 §2.1.3): a small header written by hand, then
//! standard ISO WKB written and read by geozero.
//!
//! Header: magic `GP`, version 0, a flags byte (bit 0: little-endian header, bits 1–3: envelope
//! code, bit 4: empty geometry, bit 5: extended type), the `srs_id` (int32) and the envelope as
//! `[minx, maxx, miny, maxy]`. We write little-endian headers, no envelope for points (as GDAL
//! does; a point is its own envelope), an xy envelope for everything else, and no envelope plus
//! the empty flag for an empty geometry.

use geo::{BoundingRect, CoordsIter};
use geo_types::Geometry;
use geozero::wkb::{Wkb, WkbDialect, WkbWriter};
use geozero::{GeozeroGeometry, ToGeo};

/// Why a blob could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("geometry blob is too short ({len} bytes) for its header")]
    Truncated { len: usize },
    #[error("geometry blob does not start with the GeoPackage magic `GP`")]
    Magic,
    #[error("geometry blob has version {0}; only GeoPackage binary version 0 is supported")]
    Version(u8),
    #[error("geometry blob has the invalid envelope code {0} (expected 0–4)")]
    EnvelopeCode(u8),
    #[error("geometry blob uses the extended GeoPackage binary type, which gridmap does not read")]
    Extended,
    #[error("geometry blob holds invalid WKB: {0}")]
    Wkb(String),
}

/// The bounding box of a geometry in GeoPackage order of meaning (min/max per axis).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Envelope {
    pub min_x: f64,
    pub max_x: f64,
    pub min_y: f64,
    pub max_y: f64,
}

impl Envelope {
    /// The smallest envelope holding both.
    pub fn union(self, other: Envelope) -> Envelope {
        Envelope {
            min_x: self.min_x.min(other.min_x),
            max_x: self.max_x.max(other.max_x),
            min_y: self.min_y.min(other.min_y),
            max_y: self.max_y.max(other.max_y),
        }
    }
}

/// The decoded header of a blob.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Header {
    pub srs_id: i32,
    /// `None` when the blob carries no envelope (envelope code 0).
    pub envelope: Option<Envelope>,
    /// The empty-geometry flag.
    pub empty: bool,
    /// Where the WKB starts.
    pub wkb_offset: usize,
}

const MAGIC: [u8; 2] = *b"GP";
const FLAG_LITTLE_ENDIAN: u8 = 0b0000_0001;
const FLAG_ENVELOPE_XY: u8 = 0b0000_0010;
const FLAG_EMPTY: u8 = 0b0001_0000;
const FLAG_EXTENDED: u8 = 0b0010_0000;

/// Encodes a geometry as a GeoPackage blob with the given `srs_id`.
pub fn encode(geometry: &Geometry<f64>, srs_id: i32) -> Result<Vec<u8>, BlobError> {
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(&MAGIC);
    out.push(0);
    let envelope = header_envelope(geometry);
    let mut flags = FLAG_LITTLE_ENDIAN;
    if geometry.coords_count() == 0 {
        flags |= FLAG_EMPTY;
    }
    if envelope.is_some() {
        flags |= FLAG_ENVELOPE_XY;
    }
    out.push(flags);
    out.extend_from_slice(&srs_id.to_le_bytes());
    if let Some(e) = envelope {
        for v in [e.min_x, e.max_x, e.min_y, e.max_y] {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
    let mut writer = WkbWriter::new(&mut out, WkbDialect::Wkb);
    geometry
        .process_geom(&mut writer)
        .map_err(|e| BlobError::Wkb(e.to_string()))?;
    Ok(out)
}

/// The envelope written into the header: none for points and empty geometries.
fn header_envelope(geometry: &Geometry<f64>) -> Option<Envelope> {
    if matches!(geometry, Geometry::Point(_)) {
        return None;
    }
    geometry.bounding_rect().map(|r| Envelope {
        min_x: r.min().x,
        max_x: r.max().x,
        min_y: r.min().y,
        max_y: r.max().y,
    })
}

/// Reads the header of a blob without touching its WKB.
pub fn header(blob: &[u8]) -> Result<Header, BlobError> {
    let truncated = || BlobError::Truncated { len: blob.len() };
    if blob.len() < 8 {
        return Err(truncated());
    }
    if blob[..2] != MAGIC {
        return Err(BlobError::Magic);
    }
    if blob[2] != 0 {
        return Err(BlobError::Version(blob[2]));
    }
    let flags = blob[3];
    if flags & FLAG_EXTENDED != 0 {
        return Err(BlobError::Extended);
    }
    let little_endian = flags & FLAG_LITTLE_ENDIAN != 0;
    let envelope_code = (flags >> 1) & 0b111;
    let envelope_len = match envelope_code {
        0 => 0,
        1 => 32,
        2 | 3 => 48,
        4 => 64,
        other => return Err(BlobError::EnvelopeCode(other)),
    };
    let wkb_offset = 8 + envelope_len;
    if blob.len() < wkb_offset {
        return Err(truncated());
    }
    let srs_bytes = [blob[4], blob[5], blob[6], blob[7]];
    let srs_id = if little_endian {
        i32::from_le_bytes(srs_bytes)
    } else {
        i32::from_be_bytes(srs_bytes)
    };
    let read_f64 = |at: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&blob[at..at + 8]);
        if little_endian {
            f64::from_le_bytes(b)
        } else {
            f64::from_be_bytes(b)
        }
    };
    let envelope = (envelope_code != 0).then(|| Envelope {
        min_x: read_f64(8),
        max_x: read_f64(16),
        min_y: read_f64(24),
        max_y: read_f64(32),
    });
    Ok(Header {
        srs_id,
        envelope,
        empty: flags & FLAG_EMPTY != 0,
        wkb_offset,
    })
}

/// Decodes a blob into its header and geometry.
pub fn decode(blob: &[u8]) -> Result<(Header, Geometry<f64>), BlobError> {
    let header = header(blob)?;
    let geometry = Wkb(&blob[header.wkb_offset..])
        .to_geo()
        .map_err(|e| BlobError::Wkb(e.to_string()))?;
    Ok((header, geometry))
}

/// The envelope of a blob's geometry: from the header when present, else computed from the
/// WKB (a fast path for points). `None` for an empty geometry.
pub fn envelope(blob: &[u8]) -> Result<Option<Envelope>, BlobError> {
    let header = header(blob)?;
    if header.empty {
        return Ok(None);
    }
    if let Some(e) = header.envelope {
        return Ok(Some(e));
    }
    if let Some((x, y)) = wkb_point(&blob[header.wkb_offset..]) {
        return Ok((!x.is_nan()).then_some(Envelope {
            min_x: x,
            max_x: x,
            min_y: y,
            max_y: y,
        }));
    }
    let (_, geometry) = decode(blob)?;
    Ok(header_envelope(&geometry).or_else(|| match geometry {
        Geometry::Point(p) => Some(Envelope {
            min_x: p.x(),
            max_x: p.x(),
            min_y: p.y(),
            max_y: p.y(),
        }),
        _ => None,
    }))
}

/// The coordinates of a 2D WKB point, read directly; `None` for any other WKB.
fn wkb_point(wkb: &[u8]) -> Option<(f64, f64)> {
    if wkb.len() != 21 {
        return None;
    }
    let little_endian = wkb[0] == 1;
    let word = |at: usize| -> [u8; 4] { [wkb[at], wkb[at + 1], wkb[at + 2], wkb[at + 3]] };
    let kind = if little_endian {
        u32::from_le_bytes(word(1))
    } else {
        u32::from_be_bytes(word(1))
    };
    if kind != 1 {
        return None;
    }
    let coord = |at: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&wkb[at..at + 8]);
        if little_endian {
            f64::from_le_bytes(b)
        } else {
            f64::from_be_bytes(b)
        }
    };
    Some((coord(5), coord(13)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo_types::{polygon, MultiPolygon, Point};

    #[test]
    fn too_short_and_foreign_blobs_are_refused() {
        assert!(matches!(
            header(b"GP\0"),
            Err(BlobError::Truncated { len: 3 })
        ));
        assert!(matches!(header(b"XX\0\x01\0\0\0\0"), Err(BlobError::Magic)));
        assert!(matches!(
            header(b"GP\x01\x01\0\0\0\0"),
            Err(BlobError::Version(1))
        ));
        assert!(matches!(
            header(b"GP\0\x21\0\0\0\0"),
            Err(BlobError::Extended)
        ));
        assert!(matches!(
            header(b"GP\0\x0b\0\0\0\0"),
            Err(BlobError::EnvelopeCode(5))
        ));
        assert!(matches!(
            header(b"GP\0\x03\0\0\0\0"),
            Err(BlobError::Truncated { len: 8 })
        ));
    }

    #[test]
    fn point_has_no_envelope_and_matches_gdal_bytes() {
        let blob = encode(&Point::new(114.1, 35.7).into(), 4490).unwrap();
        let gdal = "475000018A11000001010000006666666666865C409A99999999D94140";
        let hex: String = blob.iter().map(|b| format!("{b:02X}")).collect();
        assert_eq!(hex, gdal);
        let e = envelope(&blob).unwrap().unwrap();
        assert_eq!((e.min_x, e.max_y), (114.1, 35.7));
    }

    #[test]
    fn big_endian_header_is_read() {
        let mut blob = b"GP\0\x02".to_vec();
        blob.extend_from_slice(&4490i32.to_be_bytes());
        for v in [1.0f64, 2.0, 3.0, 4.0] {
            blob.extend_from_slice(&v.to_be_bytes());
        }
        let h = header(&blob).unwrap();
        assert_eq!(h.srs_id, 4490);
        assert_eq!(
            h.envelope,
            Some(Envelope {
                min_x: 1.0,
                max_x: 2.0,
                min_y: 3.0,
                max_y: 4.0
            })
        );
    }

    #[test]
    fn polygon_round_trip_keeps_envelope() {
        let poly = polygon![(x: 114.0, y: 35.0), (x: 114.5, y: 35.0), (x: 114.5, y: 35.5), (x: 114.0, y: 35.0)];
        let geometry: Geometry<f64> = MultiPolygon(vec![poly]).into();
        let blob = encode(&geometry, 4490).unwrap();
        let (h, back) = decode(&blob).unwrap();
        assert_eq!(back, geometry);
        assert!(!h.empty);
        assert_eq!(
            h.envelope,
            Some(Envelope {
                min_x: 114.0,
                max_x: 114.5,
                min_y: 35.0,
                max_y: 35.5
            })
        );
    }
}
