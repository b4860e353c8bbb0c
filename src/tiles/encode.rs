//! MVT 2.1 encoding of the features of one tile.
//!
//! The rules (MVT 2.1 §4.3): coordinates are whole tile units (extent 4096, y down); an exterior
//! ring has positive area by the surveyor's formula in those units (clockwise on screen) and an
//! interior ring negative area; no ring repeats a point or its first point, and a ring that
//! collapses (fewer than three points or zero area after rounding) is dropped, together with
//! its holes when it is an exterior. A ring also loses each vertex that lies strictly between
//! its two neighbours on one horizontal or vertical line (not looked for across the ring's
//! start). A line is rounded the same way, repeated points are dropped, and a line left with
//! fewer than two points is dropped; a line that starts where the previous one of the feature
//! ends is joined to it.
//!
//! Written by hand: the layer dictionaries, the geometry commands and the protobuf (MVT 2.1's
//! `vector_tile.proto`, with prost's varint helpers). The `mvt` crate did this before, but it
//! copies every tag of every feature into an owned `String` and `Value` and looks both up in
//! SipHash maps, about 15% of the CPU of an uncached tile (perf, z10–16). Here a layer's values
//! are deduplicated as borrowed text, integers and floats in a map with an FxHash-style hasher,
//! a feature's tags and commands are written as packed varints once, into two shared buffers it
//! keeps ranges of, and the tile is written into one buffer whose lengths are computed first.

use std::borrow::Cow;
use std::collections::HashMap;
use std::ops::Range;

use geo_types::{Coord, LineString, MultiLineString, MultiPolygon};
use prost::encoding::{encode_key, encode_varint, encoded_len_varint, WireType};

use super::fx_hash::FxBuild;
use super::tileset::EXTENT;

/// A typed attribute value.
#[derive(Debug, Clone, PartialEq)]
pub enum TagValue<'a> {
    /// Text, borrowed from the snapshot where it can be.
    Text(Cow<'a, str>),
    Int(i64),
    Float(f64),
}

/// A feature's geometry in tile units (not yet rounded), or polygon commands written once for
/// every tile of a zoom ([`prepare_polygons`]).
#[derive(Debug, Clone, PartialEq)]
pub enum TileGeometry<'a> {
    Polygons(MultiPolygon<f64>),
    Lines(MultiLineString<f64>),
    Points(Vec<Coord<f64>>),
    /// Polygon commands whose rings all lie in the tile: the first point in tile units, then
    /// the commands after the opening MoveTo, which are relative and so the same in any tile.
    Prepared {
        start: (i32, i32),
        rest: &'a [u32],
    },
}

/// One feature ready to encode; its text tags may borrow from the snapshot (`'a`).
#[derive(Debug, Clone, PartialEq)]
pub struct TileFeature<'a> {
    pub id: u64,
    pub geometry: TileGeometry<'a>,
    pub tags: Vec<(&'static str, TagValue<'a>)>,
    /// What thinning orders by: the clipped area in tile units² (for labels, their area's; for
    /// lines, their clipped length in tile units).
    pub size: f64,
    /// Dropped by the budget only after every other feature of the tile.
    pub keep: bool,
}

/// One named layer of a tile.
#[derive(Debug, Clone, PartialEq)]
pub struct TileLayer<'a> {
    pub name: String,
    pub features: Vec<TileFeature<'a>>,
}

/// The encoded tile and how many features each layer really holds (a feature whose geometry
/// collapses when rounded is left out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    pub bytes: Vec<u8>,
    pub layer_counts: Vec<(String, usize)>,
}

/// Encodes layers in order; empty layers are left out, and a tile with no features is empty.
/// Layer names are unique (the tileset check refuses a name defined twice).
pub fn encode_tile(layers: &[TileLayer<'_>]) -> Encoded {
    let mut bytes = Vec::new();
    let mut layer_counts = Vec::new();
    for layer in layers {
        let mut built = LayerBuilder::for_features(&layer.features);
        for feature in &layer.features {
            built.add(feature);
        }
        if built.features.is_empty() {
            continue;
        }
        built.write(&layer.name, &mut bytes);
        layer_counts.push((layer.name.clone(), built.features.len()));
    }
    Encoded {
        bytes,
        layer_counts,
    }
}

/// MVT layer version written (§4.1).
const LAYER_VERSION: u64 = 2;

/// Field tags of `vector_tile.proto` (MVT 2.1).
mod field {
    pub const TILE_LAYERS: u32 = 3;
    pub const LAYER_NAME: u32 = 1;
    pub const LAYER_FEATURES: u32 = 2;
    pub const LAYER_KEYS: u32 = 3;
    pub const LAYER_VALUES: u32 = 4;
    pub const LAYER_EXTENT: u32 = 5;
    pub const LAYER_VERSION: u32 = 15;
    pub const FEATURE_ID: u32 = 1;
    pub const FEATURE_TAGS: u32 = 2;
    pub const FEATURE_TYPE: u32 = 3;
    pub const FEATURE_GEOMETRY: u32 = 4;
    pub const VALUE_STRING: u32 = 1;
    pub const VALUE_DOUBLE: u32 = 3;
    pub const VALUE_SINT: u32 = 6;
}

/// Geometry types (§4.3.4).
const POINT: u32 = 1;
const LINESTRING: u32 = 2;
const POLYGON: u32 = 3;

/// A layer's value as its dictionary knows it: text borrowed from the feature, a float by its
/// bits (0.0 and -0.0 are one value, written as 0.0), an integer as protobuf `sint`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum ValueKey<'t> {
    Text(&'t str),
    Double(u64),
    Sint(i64),
}

impl<'t> ValueKey<'t> {
    fn of(value: &'t TagValue<'_>) -> ValueKey<'t> {
        match value {
            TagValue::Text(s) => ValueKey::Text(s),
            TagValue::Int(i) => ValueKey::Sint(*i),
            TagValue::Float(v) if *v == 0.0 => ValueKey::Double(0),
            TagValue::Float(v) => ValueKey::Double(v.to_bits()),
        }
    }

    /// The length of the `Value` message.
    fn encoded_len(self) -> usize {
        match self {
            ValueKey::Text(s) => bytes_field_len(field::VALUE_STRING, s.len()),
            ValueKey::Double(_) => key_len(field::VALUE_DOUBLE) + 8,
            ValueKey::Sint(i) => varint_field_len(field::VALUE_SINT, zigzag64(i)),
        }
    }

    fn write(self, buf: &mut Vec<u8>) {
        match self {
            ValueKey::Text(s) => put_bytes(field::VALUE_STRING, s.as_bytes(), buf),
            ValueKey::Double(bits) => {
                encode_key(field::VALUE_DOUBLE, WireType::SixtyFourBit, buf);
                buf.extend_from_slice(&f64::from_bits(bits).to_le_bytes());
            }
            ValueKey::Sint(i) => put_varint(field::VALUE_SINT, zigzag64(i), buf),
        }
    }
}

/// One feature of a layer being built: its tags and commands are ranges of the layer's
/// buffers, already written as packed varints.
struct FeatureEntry {
    id: u64,
    geometry_type: u32,
    tags: Range<usize>,
    commands: Range<usize>,
}

impl FeatureEntry {
    /// The length of the `Feature` message.
    fn encoded_len(&self) -> usize {
        let tags = if self.tags.is_empty() {
            0
        } else {
            bytes_field_len(field::FEATURE_TAGS, self.tags.len())
        };
        varint_field_len(field::FEATURE_ID, self.id)
            + tags
            + varint_field_len(field::FEATURE_TYPE, u64::from(self.geometry_type))
            + bytes_field_len(field::FEATURE_GEOMETRY, self.commands.len())
    }
}

/// A layer being built: its key and value dictionaries (each entry once, in order of first
/// use) and its features.
#[derive(Default)]
struct LayerBuilder<'t> {
    keys: Vec<&'static str>,
    values: Vec<ValueKey<'t>>,
    value_index: HashMap<ValueKey<'t>, u32, FxBuild>,
    /// The tags of all features, back to back as packed varints: key index, value index, …
    tags: Vec<u8>,
    /// The geometry commands of all features, back to back as packed varints.
    commands: Vec<u8>,
    /// One feature's commands before they are written to `commands`.
    scratch: Vec<u32>,
    features: Vec<FeatureEntry>,
}

impl<'t> LayerBuilder<'t> {
    /// An empty builder with room for `features`: growing the value map and the arrays tag by
    /// tag showed in the profile of uncached building tiles (each building's code and name are
    /// values of their own). Two or three bytes per tag and about 32 per feature's commands
    /// cover most tiles.
    fn for_features(features: &[TileFeature<'_>]) -> LayerBuilder<'t> {
        let tags: usize = features.iter().map(|f| f.tags.len()).sum();
        LayerBuilder {
            values: Vec::with_capacity(tags),
            value_index: HashMap::with_capacity_and_hasher(tags, FxBuild::default()),
            tags: Vec::with_capacity(3 * tags),
            commands: Vec::with_capacity(32 * features.len()),
            scratch: Vec::with_capacity(64),
            features: Vec::with_capacity(features.len()),
            ..LayerBuilder::default()
        }
    }

    /// Adds a feature, unless its geometry collapses when rounded.
    fn add(&mut self, feature: &'t TileFeature<'_>) {
        self.scratch.clear();
        let Some(geometry_type) = write_geometry(&feature.geometry, &mut self.scratch) else {
            return;
        };
        let commands_start = self.commands.len();
        for &c in &self.scratch {
            push_varint(c, &mut self.commands);
        }
        let tags_start = self.tags.len();
        for (key, value) in &feature.tags {
            let key = self.key_index(key);
            let value = self.value_index(ValueKey::of(value));
            push_varint(key, &mut self.tags);
            push_varint(value, &mut self.tags);
        }
        self.features.push(FeatureEntry {
            id: feature.id,
            geometry_type,
            tags: tags_start..self.tags.len(),
            commands: commands_start..self.commands.len(),
        });
    }

    /// A layer has a handful of keys: a scan beats hashing. The keys of a layer's features
    /// come from one list of names, so the scan compares addresses before it compares text.
    fn key_index(&mut self, key: &'static str) -> u32 {
        let found = self
            .keys
            .iter()
            .position(|k| std::ptr::eq(*k, key))
            .or_else(|| self.keys.iter().position(|k| *k == key));
        let at = match found {
            Some(at) => at,
            None => {
                self.keys.push(key);
                self.keys.len() - 1
            }
        };
        dictionary_index(at)
    }

    fn value_index(&mut self, value: ValueKey<'t>) -> u32 {
        let next = dictionary_index(self.values.len());
        let index = *self.value_index.entry(value).or_insert(next);
        if index == next {
            self.values.push(value);
        }
        index
    }

    /// The length of the `Layer` message.
    fn encoded_len(&self, name: &str) -> usize {
        let features: usize = self
            .features
            .iter()
            .map(|f| bytes_field_len(field::LAYER_FEATURES, f.encoded_len()))
            .sum();
        let keys: usize = self
            .keys
            .iter()
            .map(|k| bytes_field_len(field::LAYER_KEYS, k.len()))
            .sum();
        let values: usize = self
            .values
            .iter()
            .map(|v| bytes_field_len(field::LAYER_VALUES, v.encoded_len()))
            .sum();
        bytes_field_len(field::LAYER_NAME, name.len())
            + features
            + keys
            + values
            + varint_field_len(field::LAYER_EXTENT, u64::from(EXTENT))
            + varint_field_len(field::LAYER_VERSION, LAYER_VERSION)
    }

    /// Appends the layer as field `layers` of a `Tile`, fields in tag order.
    fn write(&self, name: &str, buf: &mut Vec<u8>) {
        let len = self.encoded_len(name);
        put_header(field::TILE_LAYERS, len, buf);
        buf.reserve(len);
        put_bytes(field::LAYER_NAME, name.as_bytes(), buf);
        for f in &self.features {
            put_header(field::LAYER_FEATURES, f.encoded_len(), buf);
            put_varint(field::FEATURE_ID, f.id, buf);
            if !f.tags.is_empty() {
                put_bytes(field::FEATURE_TAGS, &self.tags[f.tags.clone()], buf);
            }
            put_varint(field::FEATURE_TYPE, u64::from(f.geometry_type), buf);
            put_bytes(
                field::FEATURE_GEOMETRY,
                &self.commands[f.commands.clone()],
                buf,
            );
        }
        for key in &self.keys {
            put_bytes(field::LAYER_KEYS, key.as_bytes(), buf);
        }
        for value in &self.values {
            put_header(field::LAYER_VALUES, value.encoded_len(), buf);
            value.write(buf);
        }
        put_varint(field::LAYER_EXTENT, u64::from(EXTENT), buf);
        put_varint(field::LAYER_VERSION, LAYER_VERSION, buf);
    }
}

/// A dictionary index as MVT stores it; a layer holds far fewer than 2³² entries (the budget
/// caps its features).
fn dictionary_index(at: usize) -> u32 {
    u32::try_from(at).unwrap_or(u32::MAX)
}

fn key_len(tag: u32) -> usize {
    encoded_len_varint(u64::from(tag << 3))
}

fn varint_field_len(tag: u32, value: u64) -> usize {
    key_len(tag) + encoded_len_varint(value)
}

fn bytes_field_len(tag: u32, len: usize) -> usize {
    key_len(tag) + encoded_len_varint(len as u64) + len
}

fn put_varint(tag: u32, value: u64, buf: &mut Vec<u8>) {
    encode_key(tag, WireType::Varint, buf);
    encode_varint(value, buf);
}

/// The key and length of a length-delimited field.
fn put_header(tag: u32, len: usize, buf: &mut Vec<u8>) {
    encode_key(tag, WireType::LengthDelimited, buf);
    encode_varint(len as u64, buf);
}

fn put_bytes(tag: u32, bytes: &[u8], buf: &mut Vec<u8>) {
    put_header(tag, bytes.len(), buf);
    buf.extend_from_slice(bytes);
}

/// Appends `v` as a varint; most tags and commands of a tile fit one byte.
fn push_varint(v: u32, buf: &mut Vec<u8>) {
    if v < 0x80 {
        buf.push(v as u8);
    } else {
        encode_varint(u64::from(v), buf);
    }
}

fn zigzag64(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

/// Geometry command ids (§4.3.1).
const MOVE_TO: u32 = 1;
const LINE_TO: u32 = 2;
const CLOSE_PATH: u32 = 7;

/// Writes geometry commands (§4.3): a command integer is its id and count; parameters are
/// zigzag deltas from a cursor that runs through the whole feature.
struct CommandWriter<'o> {
    out: &'o mut Vec<u32>,
    cursor: (i32, i32),
}

impl CommandWriter<'_> {
    fn move_to(&mut self, points: &[(i32, i32)]) {
        self.command(MOVE_TO, points);
    }

    fn line_to(&mut self, points: &[(i32, i32)]) {
        if !points.is_empty() {
            self.command(LINE_TO, points);
        }
    }

    fn close_path(&mut self) {
        self.out.push(CLOSE_PATH | 1 << 3);
    }

    /// A command with one parameter pair per point; a tile's rings and lines hold far fewer
    /// than the 2²⁹ points a count can say.
    fn command(&mut self, id: u32, points: &[(i32, i32)]) {
        self.out.push(id | (points.len() as u32) << 3);
        for &(x, y) in points {
            self.out.push(zigzag32(x.wrapping_sub(self.cursor.0)));
            self.out.push(zigzag32(y.wrapping_sub(self.cursor.1)));
            self.cursor = (x, y);
        }
    }
}

fn zigzag32(v: i32) -> u32 {
    ((v << 1) ^ (v >> 31)) as u32
}

fn unzigzag32(v: u32) -> i32 {
    ((v >> 1) as i32) ^ -((v & 1) as i32)
}

/// Appends the commands of a geometry to `out` and gives its geometry type; `None`, with
/// nothing appended, when nothing survives rounding.
fn write_geometry(geometry: &TileGeometry<'_>, out: &mut Vec<u32>) -> Option<u32> {
    let mut writer = CommandWriter {
        out,
        cursor: (0, 0),
    };
    match geometry {
        TileGeometry::Points(points) => {
            let mut rounded: Vec<(i32, i32)> = points.iter().map(|c| round(*c)).collect();
            rounded.dedup();
            if rounded.is_empty() {
                return None;
            }
            writer.move_to(&rounded);
            Some(POINT)
        }
        TileGeometry::Lines(lines) => {
            let parts = line_parts(lines);
            if parts.is_empty() {
                return None;
            }
            for line in &parts {
                writer.move_to(&line[..1]);
                writer.line_to(&line[1..]);
            }
            Some(LINESTRING)
        }
        TileGeometry::Polygons(polygons) => write_polygons(polygons, &mut writer),
        TileGeometry::Prepared { start, rest } => {
            writer.move_to(&[*start]);
            writer.out.extend_from_slice(rest);
            Some(POLYGON)
        }
    }
}

/// Writes the rings of `polygons` (see the module rules); `None`, with nothing written, when
/// none survives rounding.
fn write_polygons(polygons: &MultiPolygon<f64>, writer: &mut CommandWriter<'_>) -> Option<u32> {
    let rings = polygon_rings(polygons);
    if rings.is_empty() {
        return None;
    }
    for mut ring in rings {
        drop_straight_vertices(&mut ring);
        writer.move_to(&ring[..1]);
        writer.line_to(&ring[1..]);
        writer.close_path();
    }
    Some(POLYGON)
}

/// The commands of a polygon feature as [`encode_tile`] writes them, cursor from (0, 0) in the
/// polygons' own frame; `None` when nothing survives rounding. The first three are the opening
/// MoveTo ([`PREPARED_START`] commands), the rest are relative: see [`TileGeometry::Prepared`].
pub fn prepare_polygons(polygons: &MultiPolygon<f64>) -> Option<Vec<u32>> {
    let mut out = Vec::new();
    let mut writer = CommandWriter {
        out: &mut out,
        cursor: (0, 0),
    };
    write_polygons(polygons, &mut writer)?;
    Some(out)
}

/// How many commands open a prepared polygon: MoveTo and the first point.
pub const PREPARED_START: usize = 3;

/// The first point of prepared polygon commands.
pub fn prepared_start(commands: &[u32]) -> (i32, i32) {
    match commands {
        [_, x, y, ..] => (unzigzag32(*x), unzigzag32(*y)),
        _ => (0, 0),
    }
}

/// The rings of polygon commands (the output of [`prepare_polygons`]), points in the commands'
/// frame, closing point left out; exteriors and holes as written, told apart by [`area2`].
pub fn decode_rings(commands: &[u32]) -> Vec<Vec<(i32, i32)>> {
    let mut rings: Vec<Vec<(i32, i32)>> = Vec::new();
    let mut cursor = (0i32, 0i32);
    let mut at = 0;
    while let Some(&command) = commands.get(at) {
        let (id, count) = (command & 7, (command >> 3) as usize);
        at += 1;
        if id == MOVE_TO {
            rings.push(Vec::new());
        }
        if id == MOVE_TO || id == LINE_TO {
            for pair in commands[at..].chunks_exact(2).take(count) {
                cursor = (
                    cursor.0.wrapping_add(unzigzag32(pair[0])),
                    cursor.1.wrapping_add(unzigzag32(pair[1])),
                );
                if let Some(ring) = rings.last_mut() {
                    ring.push(cursor);
                }
            }
            at += 2 * count;
        }
    }
    rings
}

/// Removes each vertex strictly between the vertices before and after it (as kept so far) on
/// one horizontal or vertical line; the ring's start is not looked across.
fn drop_straight_vertices(ring: &mut Vec<(i32, i32)>) {
    let mut kept = 0;
    for i in 0..ring.len() {
        let p = ring[i];
        if kept >= 2 && strictly_between(ring[kept - 2], ring[kept - 1], p) {
            kept -= 1;
        }
        ring[kept] = p;
        kept += 1;
    }
    ring.truncate(kept);
}

/// Whether `b` lies strictly between `a` and `c` on a horizontal or vertical line.
fn strictly_between(a: (i32, i32), b: (i32, i32), c: (i32, i32)) -> bool {
    let between = |a: i32, b: i32, c: i32| (a < b && b < c) || (a > b && b > c);
    (a.0 == b.0 && b.0 == c.0 && between(a.1, b.1, c.1))
        || (a.1 == b.1 && b.1 == c.1 && between(a.0, b.0, c.0))
}

/// Rounded lines without repeated points, joined where one starts at the previous one's end;
/// lines of fewer than two points are left out.
pub fn line_parts(lines: &MultiLineString<f64>) -> Vec<Vec<(i32, i32)>> {
    let mut out: Vec<Vec<(i32, i32)>> = Vec::new();
    for line in lines {
        let mut pts: Vec<(i32, i32)> = line.0.iter().map(|c| round(*c)).collect();
        pts.dedup();
        if pts.len() < 2 {
            continue;
        }
        match out.last_mut() {
            Some(previous) if previous.last() == pts.first() => previous.extend(&pts[1..]),
            _ => out.push(pts),
        }
    }
    out
}

/// Rounded, cleaned and wound rings of a multipolygon in encoding order: each exterior followed
/// by its surviving holes.
pub fn polygon_rings(polygons: &MultiPolygon<f64>) -> Vec<Vec<(i32, i32)>> {
    let mut rings = Vec::new();
    for polygon in polygons {
        let Some(exterior) = clean_ring(polygon.exterior()) else {
            continue;
        };
        rings.push(wound(exterior, true));
        rings.extend(
            polygon
                .interiors()
                .iter()
                .filter_map(clean_ring)
                .map(|hole| wound(hole, false)),
        );
    }
    rings
}

/// Rounds a ring to whole units and removes repeated points, the closing point and zero-width
/// spikes (a → b → a); `None` when it collapses.
pub fn clean_ring(ring: &LineString<f64>) -> Option<Vec<(i32, i32)>> {
    let mut out: Vec<(i32, i32)> = Vec::with_capacity(ring.0.len());
    for p in ring.0.iter().map(|c| round(*c)) {
        if out.last() == Some(&p) {
            continue;
        }
        if out.len() >= 2 && out[out.len() - 2] == p {
            out.pop();
            continue;
        }
        out.push(p);
    }
    while out.len() > 1 && out.first() == out.last() {
        out.pop();
    }
    // Spikes across the start: ... y, x | x's neighbours equal.
    while out.len() >= 3 && out[out.len() - 1] == out[1] {
        out.remove(0);
        out.pop();
    }
    (out.len() >= 3 && area2(&out) != 0).then_some(out)
}

/// Twice the signed area in y-down units (positive = exterior per MVT 2.1).
pub fn area2(ring: &[(i32, i32)]) -> i64 {
    let n = ring.len();
    (0..n)
        .map(|i| {
            let (a, b) = (ring[i], ring[(i + 1) % n]);
            i64::from(a.0) * i64::from(b.1) - i64::from(b.0) * i64::from(a.1)
        })
        .sum()
}

fn wound(mut ring: Vec<(i32, i32)>, exterior: bool) -> Vec<(i32, i32)> {
    if (area2(&ring) > 0) != exterior {
        ring.reverse();
    }
    ring
}

fn round(c: Coord<f64>) -> (i32, i32) {
    // Tile coordinates are bounded by the clip rectangle, far inside i32.
    (c.x.round() as i32, c.y.round() as i32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo_types::{coord, polygon, LineString, Polygon};

    fn commands(geometry: &TileGeometry<'_>) -> Option<Vec<u32>> {
        let mut out = Vec::new();
        write_geometry(geometry, &mut out).map(|_| out)
    }

    fn feature(geometry: TileGeometry<'static>) -> TileFeature<'static> {
        TileFeature {
            id: 7,
            geometry,
            tags: vec![
                ("name", TagValue::Text("x".into())),
                ("floors", TagValue::Int(3)),
            ],
            size: 1.0,
            keep: false,
        }
    }

    use crate::tiles::vector_tile as schema;

    fn decode(bytes: &[u8]) -> schema::Tile {
        prost::Message::decode(bytes).expect("a valid vector tile")
    }

    fn text(s: &str) -> schema::Value {
        schema::Value {
            string_value: Some(s.into()),
            ..Default::default()
        }
    }

    fn square(at: f64) -> TileGeometry<'static> {
        let p = polygon![(x: at, y: at), (x: at + 10.0, y: at), (x: at + 10.0, y: at + 10.0), (x: at, y: at + 10.0)];
        TileGeometry::Polygons(MultiPolygon::new(vec![p]))
    }

    #[test]
    fn layers_features_keys_and_values_are_written_as_mvt_2_1() {
        let shared = String::from("shared");
        let tagged = |id, geometry, tags| TileFeature {
            id,
            geometry,
            tags,
            size: 1.0,
            keep: false,
        };
        let sliver = polygon![(x: 0.1, y: 0.1), (x: 0.3, y: 0.2), (x: 0.2, y: 0.4)];
        let layers = [
            TileLayer {
                name: "empty".into(),
                features: vec![],
            },
            TileLayer {
                name: "grid".into(),
                features: vec![
                    tagged(
                        1,
                        square(0.0),
                        vec![
                            ("name", TagValue::Text(Cow::Borrowed(&shared))),
                            ("floors", TagValue::Int(-3)),
                            ("height", TagValue::Float(2.5)),
                        ],
                    ),
                    tagged(
                        0,
                        TileGeometry::Polygons(MultiPolygon::new(vec![sliver])),
                        vec![("ghost", TagValue::Text("never".into()))],
                    ),
                    tagged(
                        2,
                        square(100.0),
                        vec![
                            ("floors", TagValue::Int(-3)),
                            ("name", TagValue::Text("shared".into())),
                        ],
                    ),
                ],
            },
            TileLayer {
                name: "label".into(),
                features: vec![tagged(
                    0,
                    TileGeometry::Points(vec![coord! {x: 5.0, y: 6.0}]),
                    vec![],
                )],
            },
        ];
        let out = encode_tile(&layers);
        assert_eq!(
            out.layer_counts,
            vec![("grid".to_string(), 2), ("label".to_string(), 1)]
        );
        let tile = decode(&out.bytes);
        let [grid, label] = &tile.layers[..] else {
            panic!("two layers: {tile:?}");
        };
        assert_eq!((grid.version, grid.extent), (2, Some(EXTENT)));
        assert_eq!(grid.name, "grid");
        assert_eq!(grid.keys, ["name", "floors", "height"]);
        let sint = schema::Value {
            sint_value: Some(-3),
            ..Default::default()
        };
        let double = schema::Value {
            double_value: Some(2.5),
            ..Default::default()
        };
        assert_eq!(grid.values, [text("shared"), sint, double]);
        let ids: Vec<_> = grid.features.iter().map(|f| f.id).collect();
        assert_eq!(ids, [Some(1), Some(2)]);
        assert_eq!(grid.features[0].tags, [0, 0, 1, 1, 2, 2]);
        assert_eq!(grid.features[1].tags, [1, 1, 0, 0]);
        assert_eq!(grid.features[0].r#type, Some(POLYGON));
        // MoveTo(1) 0,0; LineTo(3) +10,0 0,+10 −10,0 (zigzag); ClosePath(1).
        assert_eq!(
            grid.features[0].geometry,
            [9, 0, 0, 26, 20, 0, 0, 20, 19, 0, 15]
        );
        assert_eq!(label.features[0].r#type, Some(POINT));
        assert_eq!(label.features[0].geometry, [9, 10, 12]);
        assert!(label.features[0].tags.is_empty() && label.keys.is_empty());
    }

    #[test]
    fn zero_and_negative_zero_are_one_value() {
        let layer = TileLayer {
            name: "grid".into(),
            features: [0.0, -0.0, 1.5]
                .into_iter()
                .map(|h| TileFeature {
                    id: 1,
                    geometry: square(0.0),
                    tags: vec![("height", TagValue::Float(h))],
                    size: 1.0,
                    keep: false,
                })
                .collect(),
        };
        let tile = decode(&encode_tile(&[layer]).bytes);
        let heights: Vec<_> = tile.layers[0]
            .values
            .iter()
            .map(|v| v.double_value)
            .collect();
        assert_eq!(heights, [Some(0.0), Some(1.5)]);
    }

    #[test]
    fn straight_vertices_go_but_not_across_the_ring_start() {
        // (0,5) lies between (0,0) and (0,10); (5,10) between (0,10) and (10,10); the start
        // (0,0) lies between (10,0) and (0,5)'s line only across the start and stays.
        let mut ring = vec![(0, 0), (0, 5), (0, 10), (5, 10), (10, 10), (10, 0)];
        drop_straight_vertices(&mut ring);
        assert_eq!(ring, vec![(0, 0), (0, 10), (10, 10), (10, 0)]);
        let mut across = vec![(5, 0), (10, 0), (10, 10), (0, 10), (0, 0)];
        drop_straight_vertices(&mut across);
        assert_eq!(across.len(), 5);
    }

    #[test]
    fn an_empty_tile_is_empty_bytes() {
        let out = encode_tile(&[TileLayer {
            name: "grid".into(),
            features: vec![],
        }]);
        assert!(out.bytes.is_empty() && out.layer_counts.is_empty());
    }

    #[test]
    fn a_ring_collapsing_when_rounded_drops_the_feature() {
        let sliver = polygon![(x: 0.1, y: 0.1), (x: 0.3, y: 0.2), (x: 0.2, y: 0.4)];
        let layer = TileLayer {
            name: "grid".into(),
            features: vec![feature(TileGeometry::Polygons(MultiPolygon::new(vec![
                sliver,
            ])))],
        };
        assert!(encode_tile(&[layer]).layer_counts.is_empty());
    }

    #[test]
    fn exteriors_are_positive_and_holes_negative() {
        // Given counter-clockwise on screen (negative), with a hole given the same way.
        let outer = LineString::from(vec![
            (0.0, 0.0),
            (0.0, 100.0),
            (100.0, 100.0),
            (100.0, 0.0),
            (0.0, 0.0),
        ]);
        let hole = LineString::from(vec![
            (10.0, 10.0),
            (10.0, 20.0),
            (20.0, 20.0),
            (20.0, 10.0),
            (10.0, 10.0),
        ]);
        let rings = polygon_rings(&MultiPolygon::new(vec![Polygon::new(outer, vec![hole])]));
        assert_eq!(rings.len(), 2);
        assert!(area2(&rings[0]) > 0);
        assert!(area2(&rings[1]) < 0);
    }

    #[test]
    fn repeated_points_and_spikes_are_removed() {
        let ring = LineString::from(vec![
            (0.0, 0.0),
            (0.2, 0.1),
            (10.0, 0.0),
            (10.0, 10.0),
            (15.0, 15.0),
            (10.0, 10.0),
            (0.0, 10.0),
            (0.0, 0.0),
        ]);
        assert_eq!(
            clean_ring(&ring).unwrap(),
            vec![(0, 0), (10, 0), (10, 10), (0, 10)]
        );
    }

    #[test]
    fn a_ring_starting_where_the_previous_ended_keeps_its_move_to() {
        // Two squares touching at (10,10): the second ring's first point is the first's last.
        let a = polygon![(x: 0.0, y: 0.0), (x: 10.0, y: 0.0), (x: 10.0, y: 10.0)];
        let b = polygon![(x: 10.0, y: 10.0), (x: 20.0, y: 10.0), (x: 20.0, y: 20.0)];
        let geometry = TileGeometry::Polygons(MultiPolygon::new(vec![a, b]));
        let data = commands(&geometry).unwrap();
        // 2 rings × (MoveTo 1 + 2 params + LineTo 1 + 4 params + ClosePath 1) = 18 integers.
        assert_eq!(data.len(), 18);
    }

    #[test]
    fn lines_lose_repeated_points_and_collapsed_parts() {
        let lines = MultiLineString::new(vec![
            LineString::from(vec![(0.2, 0.2), (0.4, 0.1)]),
            LineString::from(vec![(0.0, 0.0), (0.1, 0.0), (10.0, 0.0), (10.0, 10.0)]),
            LineString::new(vec![]),
        ]);
        assert_eq!(line_parts(&lines), vec![vec![(0, 0), (10, 0), (10, 10)]]);
        let nothing = MultiLineString::new(vec![LineString::from(vec![(3.0, 3.0)])]);
        assert!(line_parts(&nothing).is_empty());
        assert!(commands(&TileGeometry::Lines(nothing)).is_none());
    }

    #[test]
    fn a_line_starting_at_the_previous_end_is_joined() {
        let lines = MultiLineString::new(vec![
            LineString::from(vec![(0.0, 0.0), (10.0, 0.0)]),
            LineString::from(vec![(10.0, 0.0), (10.0, 10.0)]),
            LineString::from(vec![(20.0, 20.0), (30.0, 20.0)]),
        ]);
        assert_eq!(
            line_parts(&lines),
            vec![vec![(0, 0), (10, 0), (10, 10)], vec![(20, 20), (30, 20)]]
        );
        let data = commands(&TileGeometry::Lines(lines)).unwrap();
        // (MoveTo 1 + 2) + (LineTo 1 + 4) then (MoveTo 1 + 2) + (LineTo 1 + 2) = 14 integers.
        assert_eq!(data.len(), 14);
    }

    #[test]
    fn points_are_encoded_once() {
        let geometry =
            TileGeometry::Points(vec![coord! {x: 25.0, y: 17.0}, coord! {x: 25.2, y: 16.9}]);
        let out = encode_tile(&[TileLayer {
            name: "label".into(),
            features: vec![feature(geometry)],
        }]);
        assert_eq!(out.layer_counts, vec![("label".to_string(), 1)]);
        assert!(!out.bytes.is_empty());
    }
}
