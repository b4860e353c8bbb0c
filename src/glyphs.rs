//! Map label glyphs: the SDF glyph ranges MapLibre fetches from a style's `glyphs` URL
//! (`/fonts/{fontstack}/{range}.pbf`), made from the system's TrueType/OpenType fonts.
//!
//! The rules:
//! - a font is named by its full name (name table ID 4, e.g. "DejaVu Sans", "DejaVu Sans Bold"),
//!   found by scanning the fonts directory (config `fonts_dir`) once, on first use;
//! - a font stack is one or more names separated by commas; each code point of the range takes
//!   its glyph from the first font of the stack that has it, and is left out when none has it (a
//!   range no font covers is a valid answer with zero glyphs); the styles ask for
//!   "DejaVu Sans,WenQuanYi Zen Hei": Latin and digits from DejaVu, Chinese from WenQuanYi for
//!   maps that do not draw ideographs with a local font (MapLibre's `localIdeographFontFamily`);
//! - a name the fonts directory lacks is passed over (a machine without the CJK font still
//!   serves the Latin glyphs of the stack); a stack with no known name is
//!   [`GlyphError::UnknownFont`], answered without rendering anything;
//! - a range is rendered and cached once per stack of the installed fonts it names: stacks that
//!   differ only in missing names share one answer (whose protobuf stack name lists the
//!   installed fonts), so made-up names can neither make the server render nor fill the cache;
//! - a range is a block of 256 code points, `start-end` with `start` a multiple of 256 and
//!   `end = start + 255 <= 65535`;
//! - glyphs are rasterized at 24 px per em (ab_glyph, pure Rust), buffered by 3 px and turned
//!   into an SDF of radius 8 with cutoff 0.25 (sdf_glyph_renderer), the parameters of the
//!   Mapbox/MapLibre tools, so the bitmap of a glyph is `(width + 6) * (height + 6)` bytes and
//!   `top` is the bitmap's top above the baseline minus the font's ascender;
//! - encoded ranges are cached in memory up to a byte budget, oldest out first.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use ab_glyph::{point, Font, FontVec, PxScale, ScaleFont};
use bytes::Bytes;
use prost::Message;
use sdf_glyph_renderer::{clamp_to_u8, BitmapGlyph};

use crate::tiles::coding::etag_of;

/// Pixels per em of the rendered glyphs (what MapLibre expects: it scales from 24 px).
pub const FONT_SIZE_PX: f32 = 24.0;
/// Pixels of SDF border around every glyph bitmap.
pub const BUFFER_PX: usize = 3;
/// Code points per range.
pub const RANGE_SIZE: u32 = 256;
/// The default memory budget of the glyph cache, in bytes.
pub const DEFAULT_CACHE_BYTES: usize = 64 * 1024 * 1024;
/// How far from the outline, in pixels, the SDF records distances.
const SDF_RADIUS_PX: usize = 8;
/// The share of the byte range that encodes the inside of the glyph.
const SDF_CUTOFF: f64 = 0.25;
/// The most fonts one stack may name (each uncached stack costs a render, so the number of
/// distinct stacks a client can ask for is kept small).
pub const MAX_STACK_FONTS: usize = 4;
/// Font file extensions scanned.
const FONT_EXTENSIONS: &[&str] = &["ttf", "otf", "ttc", "otc"];

/// The glyph protobuf of Mapbox/MapLibre (`glyphs.proto`), written as prost structs so no
/// build script or protoc is needed.
#[derive(Clone, PartialEq, Message)]
pub struct Glyphs {
    #[prost(message, repeated, tag = "1")]
    pub stacks: Vec<Fontstack>,
}

/// One font stack and range of a [`Glyphs`] message.
#[derive(Clone, PartialEq, Message)]
pub struct Fontstack {
    #[prost(string, required, tag = "1")]
    pub name: String,
    /// `start-end`, e.g. `0-255`.
    #[prost(string, required, tag = "2")]
    pub range: String,
    #[prost(message, repeated, tag = "3")]
    pub glyphs: Vec<Glyph>,
}

/// One glyph: its code point, SDF bitmap and metrics in pixels at [`FONT_SIZE_PX`].
#[derive(Clone, PartialEq, Message)]
pub struct Glyph {
    /// The Unicode code point.
    #[prost(uint32, required, tag = "1")]
    pub id: u32,
    /// `(width + 6) * (height + 6)` SDF bytes, row by row.
    #[prost(bytes = "vec", optional, tag = "2")]
    pub bitmap: Option<Vec<u8>>,
    #[prost(uint32, required, tag = "3")]
    pub width: u32,
    #[prost(uint32, required, tag = "4")]
    pub height: u32,
    #[prost(sint32, required, tag = "5")]
    pub left: i32,
    /// Top of the bitmap above the baseline, minus the font's ascender.
    #[prost(sint32, required, tag = "6")]
    pub top: i32,
    #[prost(uint32, required, tag = "7")]
    pub advance: u32,
}

/// Why a glyph range could not be served.
#[derive(Debug, thiserror::Error)]
pub enum GlyphError {
    #[error("bad glyph range {0:?}: expected START-END with START a multiple of 256, END = START + 255 and END <= 65535, e.g. 0-255")]
    BadRange(String),
    #[error("font stack {0:?} names more than {MAX_STACK_FONTS} fonts")]
    LongStack(String),
    #[error("no font named {name:?} in {dir}; fonts there: {known}")]
    UnknownFont {
        name: String,
        dir: String,
        known: String,
    },
    #[error("font file {path} cannot be read: {message}")]
    Unreadable { path: String, message: String },
    #[error("glyph {code:#x} of {font:?} cannot be rendered: {message}")]
    Render {
        code: u32,
        font: String,
        message: String,
    },
}

/// A block of [`RANGE_SIZE`] code points, named by its first one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GlyphRange {
    start: u32,
}

impl GlyphRange {
    /// Parses `start-end` (as MapLibre asks for it).
    pub fn parse(text: &str) -> Result<GlyphRange, GlyphError> {
        let bad = || GlyphError::BadRange(text.to_string());
        let (start, end) = text.split_once('-').ok_or_else(bad)?;
        let start: u32 = start.parse().map_err(|_| bad())?;
        let end: u32 = end.parse().map_err(|_| bad())?;
        if !start.is_multiple_of(RANGE_SIZE) || end != start + RANGE_SIZE - 1 || end > 0xFFFF {
            return Err(bad());
        }
        Ok(GlyphRange { start })
    }

    /// The code points of the range, in order.
    pub fn codes(self) -> std::ops::RangeInclusive<u32> {
        self.start..=self.start + RANGE_SIZE - 1
    }
}

impl fmt::Display for GlyphRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.start, self.start + RANGE_SIZE - 1)
    }
}

/// An encoded glyph range ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlyphSet {
    /// The protobuf bytes (uncompressed).
    pub bytes: Bytes,
    /// Strong ETag of the bytes (quoted).
    pub etag: String,
}

/// One face of a font file (collections hold several).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct FaceRef {
    path: PathBuf,
    index: u32,
}

/// The glyph ranges of the fonts of one directory, made on demand and cached.
pub struct GlyphStore {
    dir: PathBuf,
    index: OnceLock<BTreeMap<String, FaceRef>>,
    faces: Mutex<HashMap<FaceRef, Arc<FontVec>>>,
    cache: Mutex<RangeCache>,
    /// Ranges rendered so far (see [`GlyphStore::rendered_ranges`]).
    rendered: AtomicU64,
}

impl GlyphStore {
    /// A store over the fonts under `dir` (scanned on first use), caching up to `max_bytes`
    /// of encoded ranges.
    pub fn new(dir: impl Into<PathBuf>, max_bytes: usize) -> GlyphStore {
        GlyphStore {
            dir: dir.into(),
            index: OnceLock::new(),
            faces: Mutex::new(HashMap::new()),
            cache: Mutex::new(RangeCache::new(max_bytes)),
            rendered: AtomicU64::new(0),
        }
    }

    /// The names of the fonts found, sorted.
    pub fn font_names(&self) -> Vec<String> {
        self.index().keys().cloned().collect()
    }

    /// The encoded range of `fontstack` (comma-separated font names). Blocking: reads font files
    /// and rasterizes on a cache miss.
    pub fn range(&self, fontstack: &str, range: GlyphRange) -> Result<Arc<GlyphSet>, GlyphError> {
        let names: Vec<&str> = fontstack.split(',').map(str::trim).collect();
        if names.len() > MAX_STACK_FONTS {
            return Err(GlyphError::LongStack(fontstack.to_string()));
        }
        // Names this machine lacks are passed over, so a style naming a font that is not
        // installed still gets its labels from the others; only a stack of nothing known fails.
        let found: Vec<&str> = names
            .iter()
            .copied()
            .filter(|name| self.index().contains_key(*name))
            .collect();
        if found.is_empty() {
            return Err(self.unknown(names.first().copied().unwrap_or_default()));
        }
        // Keyed by the installed fonts alone: names this machine lacks change nothing in the
        // answer, so a flood of made-up names costs neither a render nor a cache entry.
        let key = (found.join(","), range);
        if let Some(hit) = self.lock_cache().get(&key) {
            return Ok(hit);
        }
        let faces = found
            .iter()
            .map(|name| self.face(name))
            .collect::<Result<Vec<_>, _>>()?;
        let glyphs = range_glyphs(&found, &faces, range)?;
        self.rendered.fetch_add(1, Ordering::Relaxed);
        let message = Glyphs {
            stacks: vec![Fontstack {
                name: key.0.clone(),
                range: range.to_string(),
                glyphs,
            }],
        };
        let bytes = message.encode_to_vec();
        let set = Arc::new(GlyphSet {
            etag: etag_of(&bytes),
            bytes: Bytes::from(bytes),
        });
        self.lock_cache().insert(key, set.clone());
        Ok(set)
    }

    /// How many ranges this store has rendered (cache misses), for tests and diagnostics.
    pub fn rendered_ranges(&self) -> u64 {
        self.rendered.load(Ordering::Relaxed)
    }

    fn lock_cache(&self) -> std::sync::MutexGuard<'_, RangeCache> {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn index(&self) -> &BTreeMap<String, FaceRef> {
        self.index.get_or_init(|| scan_fonts(&self.dir))
    }

    /// The parsed face of the font named `name`, loaded once.
    fn face(&self, name: &str) -> Result<Arc<FontVec>, GlyphError> {
        let face_ref = self.index().get(name).ok_or_else(|| self.unknown(name))?;
        let mut faces = self.faces.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(face) = faces.get(face_ref) {
            return Ok(face.clone());
        }
        let unreadable = |message: String| GlyphError::Unreadable {
            path: face_ref.path.display().to_string(),
            message,
        };
        let data = std::fs::read(&face_ref.path).map_err(|e| unreadable(e.to_string()))?;
        let face = FontVec::try_from_vec_and_index(data, face_ref.index)
            .map_err(|e| unreadable(e.to_string()))?;
        let face = Arc::new(face);
        faces.insert(face_ref.clone(), face.clone());
        Ok(face)
    }

    fn unknown(&self, name: &str) -> GlyphError {
        let names = self.font_names();
        let known = if names.is_empty() {
            "none (install fonts-dejavu-core or set fonts_dir)".to_string()
        } else {
            names.join(", ")
        };
        GlyphError::UnknownFont {
            name: name.to_string(),
            dir: self.dir.display().to_string(),
            known,
        }
    }
}

/// The glyphs of `range`, each from the first face that has it.
fn range_glyphs(
    names: &[&str],
    faces: &[Arc<FontVec>],
    range: GlyphRange,
) -> Result<Vec<Glyph>, GlyphError> {
    let mut glyphs = Vec::new();
    for code in range.codes() {
        let Some(c) = char::from_u32(code) else {
            continue;
        };
        let found = faces
            .iter()
            .zip(names)
            .find(|(face, _)| face.glyph_id(c).0 != 0);
        if let Some((face, name)) = found {
            glyphs.push(
                render_glyph(face.as_ref(), c).map_err(|message| GlyphError::Render {
                    code,
                    font: name.to_string(),
                    message,
                })?,
            );
        }
    }
    Ok(glyphs)
}

/// Rasterizes `c` at [`FONT_SIZE_PX`] per em and turns it into a buffered SDF. A glyph with no
/// outline (a space) gets a 0×0 glyph whose bitmap is the empty border.
pub fn render_glyph(face: &impl Font, c: char) -> Result<Glyph, String> {
    let units_per_em = face.units_per_em().ok_or("the font has no units per em")?;
    // ab_glyph scales by the line height (ascent - descent); MapLibre wants 24 px per em.
    let scale = PxScale::from(FONT_SIZE_PX * face.height_unscaled() / units_per_em);
    let scaled = face.as_scaled(scale);
    let id = face.glyph_id(c);
    let ascender = scaled.ascent().round() as i32;
    let advance = scaled.h_advance(id).round().max(0.0) as u32;
    let glyph = id.with_scale_and_position(scale, point(0.0, 0.0));
    let (alpha, width, height, left, bitmap_top) = match face.outline_glyph(glyph) {
        Some(outlined) => {
            let bounds = outlined.px_bounds();
            let width = (bounds.max.x - bounds.min.x).max(0.0) as usize;
            let height = (bounds.max.y - bounds.min.y).max(0.0) as usize;
            let mut alpha = vec![0u8; width * height];
            outlined.draw(|x, y, coverage| {
                if let Some(px) = alpha.get_mut(y as usize * width + x as usize) {
                    *px = (coverage.clamp(0.0, 1.0) * 255.0).round() as u8;
                }
            });
            (
                alpha,
                width,
                height,
                bounds.min.x as i32,
                -bounds.min.y as i32,
            )
        }
        None => (Vec::new(), 0, 0, 0, 0),
    };
    let bitmap = BitmapGlyph::from_unbuffered(&alpha, width, height, BUFFER_PX)
        .map_err(|e| e.to_string())?;
    let sdf =
        clamp_to_u8(&bitmap.render_sdf(SDF_RADIUS_PX), SDF_CUTOFF).map_err(|e| e.to_string())?;
    Ok(Glyph {
        id: u32::from(c),
        bitmap: Some(sdf),
        width: width as u32,
        height: height as u32,
        left,
        top: bitmap_top - ascender,
        advance,
    })
}

/// Every face of every font file under `dir` (recursively), by full name; the first file in
/// path order wins a name. Unreadable files are logged and skipped; a missing directory gives
/// no fonts. Written here rather than with `fontdb`, which names faces by family, weight and
/// style, while MapLibre stacks name them by full name.
fn scan_fonts(dir: &Path) -> BTreeMap<String, FaceRef> {
    let mut files = Vec::new();
    collect_font_files(dir, &mut files);
    files.sort();
    let mut index = BTreeMap::new();
    for path in files {
        let data = match std::fs::read(&path) {
            Ok(data) => data,
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "font file skipped");
                continue;
            }
        };
        let count = ttf_parser::fonts_in_collection(&data).unwrap_or(1);
        for face_index in 0..count {
            let Some(name) = ttf_parser::Face::parse(&data, face_index)
                .ok()
                .and_then(|face| full_name(&face))
            else {
                continue;
            };
            index.entry(name).or_insert_with(|| FaceRef {
                path: path.clone(),
                index: face_index,
            });
        }
    }
    tracing::info!(dir = %dir.display(), fonts = index.len(), "fonts for map labels");
    index
}

fn collect_font_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_font_files(&path, out);
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| FONT_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
        {
            out.push(path);
        }
    }
}

/// The face's full name (name ID 4), preferring a Unicode-decodable English record.
fn full_name(face: &ttf_parser::Face<'_>) -> Option<String> {
    let records: Vec<_> = face
        .names()
        .into_iter()
        .filter(|n| n.name_id == ttf_parser::name_id::FULL_NAME && n.is_unicode())
        .collect();
    let english = records.iter().find(|n| n.language_id == 0x0409);
    english
        .into_iter()
        .chain(records.iter())
        .find_map(|n| n.to_string())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

type RangeKey = (String, GlyphRange);

/// Encoded ranges up to a byte budget, the oldest inserted out first (ranges are read far more
/// than made, and a browser keeps them for days, so recency buys little; a cache crate would add
/// a dependency for these twenty lines).
struct RangeCache {
    max_bytes: usize,
    bytes: usize,
    entries: HashMap<RangeKey, Arc<GlyphSet>>,
    order: VecDeque<RangeKey>,
}

impl RangeCache {
    fn new(max_bytes: usize) -> RangeCache {
        RangeCache {
            max_bytes,
            bytes: 0,
            entries: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    fn get(&self, key: &RangeKey) -> Option<Arc<GlyphSet>> {
        self.entries.get(key).cloned()
    }

    fn insert(&mut self, key: RangeKey, set: Arc<GlyphSet>) {
        let weight = set.bytes.len();
        if weight > self.max_bytes || self.entries.contains_key(&key) {
            return;
        }
        while self.bytes + weight > self.max_bytes {
            let Some(old) = self.order.pop_front() else {
                break;
            };
            if let Some(gone) = self.entries.remove(&old) {
                self.bytes -= gone.bytes.len();
            }
        }
        self.bytes += weight;
        self.order.push_back(key.clone());
        self.entries.insert(key, set);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEJAVU_DIR: &str = "/usr/share/fonts/truetype/dejavu";

    fn store() -> GlyphStore {
        GlyphStore::new(DEJAVU_DIR, DEFAULT_CACHE_BYTES)
    }

    fn decode(set: &GlyphSet) -> Fontstack {
        let mut message = Glyphs::decode(set.bytes.as_ref()).expect("decodes");
        assert_eq!(message.stacks.len(), 1);
        message.stacks.remove(0)
    }

    #[test]
    fn ranges_must_be_aligned_blocks_of_256() {
        for bad in [
            "",
            "0",
            "0-",
            "-255",
            "1-256",
            "0-254",
            "0-511",
            "65536-65791",
            "a-b",
            "256-255",
        ] {
            assert!(GlyphRange::parse(bad).is_err(), "{bad:?} accepted");
        }
        let last = GlyphRange::parse("65280-65535").expect("last block");
        assert_eq!(last.to_string(), "65280-65535");
        assert_eq!(
            GlyphRange::parse("0-255").expect("first").codes().count(),
            256
        );
    }

    #[test]
    fn an_unknown_font_is_named_with_the_known_ones() {
        let range = GlyphRange::parse("0-255").expect("range");
        let err = store().range("Comic Sans", range).expect_err("unknown");
        let text = err.to_string();
        assert!(
            text.contains("Comic Sans") && text.contains("DejaVu Sans"),
            "{text}"
        );
        let err = store()
            .range("Comic Sans,Papyrus", range)
            .expect_err("no known name in the stack");
        assert!(matches!(err, GlyphError::UnknownFont { .. }));
        let partly = store()
            .range("Comic Sans,DejaVu Sans", range)
            .expect("the known name serves");
        let alone = store().range("DejaVu Sans", range).expect("known");
        let decode = |s: &GlyphSet| Glyphs::decode(s.bytes.as_ref()).expect("decodes");
        assert_eq!(
            decode(&partly).stacks[0].glyphs,
            decode(&alone).stacks[0].glyphs
        );
        let long = ["DejaVu Sans"; MAX_STACK_FONTS + 1].join(",");
        let err = store().range(&long, range).expect_err("too many fonts");
        assert!(matches!(err, GlyphError::LongStack(_)));
    }

    #[test]
    fn a_missing_directory_has_no_fonts() {
        let store = GlyphStore::new("/nonexistent/fonts", DEFAULT_CACHE_BYTES);
        assert!(store.font_names().is_empty());
        let err = store
            .range("DejaVu Sans", GlyphRange::parse("0-255").expect("range"))
            .expect_err("no fonts");
        assert!(err.to_string().contains("fonts-dejavu-core"), "{err}");
    }

    #[test]
    fn dejavu_is_found_by_full_name() {
        let names = store().font_names();
        for name in ["DejaVu Sans", "DejaVu Sans Bold"] {
            assert!(names.iter().any(|n| n == name), "{name} not in {names:?}");
        }
    }

    #[test]
    fn the_latin_range_decodes_with_sdf_bitmaps_of_the_buffered_size() {
        let range = GlyphRange::parse("0-255").expect("range");
        let stack = decode(&store().range("DejaVu Sans", range).expect("range"));
        assert_eq!(stack.name, "DejaVu Sans");
        assert_eq!(stack.range, "0-255");
        let ids: Vec<u32> = stack.glyphs.iter().map(|g| g.id).collect();
        for c in ('0'..='9')
            .chain('A'..='Z')
            .chain('a'..='z')
            .chain([' ', '.', 'é'])
        {
            assert!(ids.contains(&u32::from(c)), "{c:?} missing");
        }
        assert!(
            ids.windows(2).all(|w| w[0] < w[1]),
            "ids ascending, no repeats"
        );
        for g in &stack.glyphs {
            let bitmap = g.bitmap.as_ref().expect("bitmap");
            let expected = (g.width as usize + 2 * BUFFER_PX) * (g.height as usize + 2 * BUFFER_PX);
            assert_eq!(bitmap.len(), expected, "glyph {}", g.id);
        }
        let a = stack.glyphs.iter().find(|g| g.id == 'A' as u32).expect("A");
        assert!(a.advance > 0 && a.width > 0 && a.height > 0, "{a:?}");
        // A cap letter at 24 px/em: about 17 px tall, its top a few px below the ascender.
        assert!((14..=20).contains(&a.height), "{a:?}");
        assert!((-8..=0).contains(&a.top), "{a:?}");
        // The SDF holds inside (high) and outside (low) values.
        let bitmap = a.bitmap.as_ref().expect("bitmap");
        assert!(bitmap.iter().any(|&v| v > 192) && bitmap.iter().any(|&v| v < 64));
        let space = stack
            .glyphs
            .iter()
            .find(|g| g.id == ' ' as u32)
            .expect("space");
        assert_eq!((space.width, space.height), (0, 0));
        assert!(space.advance > 0);
    }

    #[test]
    fn bold_is_wider_than_regular() {
        let range = GlyphRange::parse("0-255").expect("range");
        let advance = |font: &str| {
            let stack = decode(&store().range(font, range).expect("range"));
            stack
                .glyphs
                .iter()
                .find(|g| g.id == 'M' as u32)
                .expect("M")
                .advance
        };
        assert!(advance("DejaVu Sans Bold") > advance("DejaVu Sans"));
    }

    #[test]
    fn a_range_no_font_covers_is_empty_but_valid() {
        // CJK ideographs: DejaVu has none; MapLibre draws them with a local font.
        let range = GlyphRange::parse("20224-20479").expect("range");
        let stack = decode(&store().range("DejaVu Sans", range).expect("range"));
        assert_eq!(stack.range, "20224-20479");
        assert!(stack.glyphs.is_empty());
    }

    #[test]
    fn chinese_comes_from_wenquanyi_in_a_stack_after_dejavu() {
        // fonts-wqy-zenhei (a TrueType collection), installed by scripts/test like DejaVu.
        let store = GlyphStore::new("/usr/share/fonts/truetype", DEFAULT_CACHE_BYTES);
        let stack = "DejaVu Sans,WenQuanYi Zen Hei";
        let cjk = GlyphRange::parse("19968-20223").expect("range");
        let glyphs = decode(&store.range(stack, cjk).expect("CJK range")).glyphs;
        let zhong = glyphs.iter().find(|g| g.id == 0x4E2D).expect("中");
        assert!(zhong.width > 16 && zhong.advance >= 23, "{zhong:?}");
        let latin = GlyphRange::parse("0-255").expect("range");
        let mixed = decode(&store.range(stack, latin).expect("stack")).glyphs;
        let dejavu = decode(&store.range("DejaVu Sans", latin).expect("DejaVu")).glyphs;
        let a = |glyphs: &[Glyph]| glyphs.iter().find(|g| g.id == 'A' as u32).cloned();
        assert_eq!(a(&mixed), a(&dejavu));
    }

    #[test]
    fn a_stack_takes_each_glyph_from_the_first_font_that_has_it() {
        let range = GlyphRange::parse("0-255").expect("range");
        let store = store();
        let both = decode(
            &store
                .range("DejaVu Sans Bold, DejaVu Sans", range)
                .expect("stack"),
        );
        let bold = decode(&store.range("DejaVu Sans Bold", range).expect("bold"));
        assert_eq!(both.glyphs, bold.glyphs);
        assert_eq!(both.name, "DejaVu Sans Bold,DejaVu Sans");
    }

    #[test]
    fn ranges_are_cached_and_the_etag_follows_the_bytes() {
        let store = store();
        let range = GlyphRange::parse("0-255").expect("range");
        let first = store.range("DejaVu Sans", range).expect("range");
        let again = store.range(" DejaVu Sans ", range).expect("range");
        assert!(Arc::ptr_eq(&first, &again));
        assert_eq!(first.etag, etag_of(&first.bytes));
        let bold = store.range("DejaVu Sans Bold", range).expect("range");
        assert_ne!(first.etag, bold.etag);
    }

    #[test]
    fn the_cache_stays_within_its_budget() {
        let set = |n: usize| {
            Arc::new(GlyphSet {
                bytes: Bytes::from(vec![0u8; n]),
                etag: String::new(),
            })
        };
        let key = |s: u32| {
            (
                "F".to_string(),
                GlyphRange {
                    start: s * RANGE_SIZE,
                },
            )
        };
        let mut cache = RangeCache::new(100);
        cache.insert(key(0), set(60));
        cache.insert(key(1), set(30));
        cache.insert(key(2), set(30));
        assert!(cache.get(&key(0)).is_none(), "oldest out");
        assert!(cache.get(&key(1)).is_some() && cache.get(&key(2)).is_some());
        assert_eq!(cache.bytes, 60);
        cache.insert(key(3), set(101));
        assert!(cache.get(&key(3)).is_none(), "larger than the budget");
    }
}
