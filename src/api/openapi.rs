//! `GET /openapi.json`: the OpenAPI 3.1 description of every route. The test
//! `tests/http.rs::openapi_matches_routes` keeps it true: every documented path answers, and
//! every route of the router is documented.

use axum::Json;
use serde_json::{json, Value};

/// The paths the router serves, as OpenAPI templates (the test checks both directions).
pub const PATHS: &[&str] = &[
    "/health",
    "/ready",
    "/metrics",
    "/openapi.json",
    "/api/lookup",
    "/api/areas/{code}",
    "/api/areas/{code}/children",
    "/styles/{name}",
    "/tiles",
    "/tiles/{tileset}",
    "/tiles/{tileset}/{z}/{x}/{y}",
];

fn error_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    })
}

fn code_param() -> Value {
    json!({
        "name": "code", "in": "path", "required": true,
        "description": "Area code (6/9/12/15/17–18 digits, or a special/business code such as 410611001F01)",
        "schema": {"type": "string"}
    })
}

fn tileset_param() -> Value {
    json!({
        "name": "tileset", "in": "path", "required": true,
        "description": "Tileset name, as GET /tiles lists them (boundaries, buildings)",
        "schema": {"type": "string"}
    })
}

/// The `crs` query parameter of the tile paths: the grid the tiles are cut in.
fn tile_crs_param() -> Value {
    json!({
        "name": "crs", "in": "query", "required": false,
        "description": "wgs84 (default) or gcj02 (also GCJ-02): GCJ-02 reads the tile address in the GCJ-02 Web-Mercator grid and shifts every coordinate to GCJ-02, for overlays on AMap/Tencent basemaps; TileJSON then lists tile URLs with ?crs=gcj02 and shifted bounds/center",
        "schema": {"type": "string", "enum": ["wgs84", "gcj02", "GCJ-02"], "default": "wgs84"}
    })
}

fn tile_params() -> Value {
    json!([
        tileset_param(),
        tile_crs_param(),
        {"name": "z", "in": "path", "required": true, "schema": {"type": "integer", "minimum": 0, "maximum": 22}},
        {"name": "x", "in": "path", "required": true, "schema": {"type": "integer", "minimum": 0},
         "description": "column, below 2^z"},
        {"name": "y", "in": "path", "required": true, "schema": {"type": "string", "pattern": "^[0-9]+(\\.(pbf|mvt))?$"},
         "description": "row from the north, below 2^z, optionally ending in .pbf or .mvt"}
    ])
}

fn tile_paths() -> Value {
    json!({
        "/tiles": {"get": {
            "summary": "The tilesets: name, description, public flag, zoom range and TileJSON URL",
            "responses": {"200": {"description": "the catalog", "content": {"application/json": {"schema": {
                "type": "object", "properties": {"tilesets": {"type": "array", "items": {"type": "object", "properties": {
                    "name": {"type": "string"}, "description": {"type": "string"}, "public": {"type": "boolean"},
                    "minzoom": {"type": "integer"}, "maxzoom": {"type": "integer"}, "tilejson": {"type": "string", "format": "uri"}
                }}}}
            }}}}}
        }},
        "/tiles/{tileset}": {"get": {
            "summary": "TileJSON 3.0.0 of a tileset; tile URLs are absolute (public_url, else X-Forwarded-Proto/X-Forwarded-Host or Host)",
            "description": "Anonymous callers may read public tilesets only.",
            "security": [{}, {"bearer": []}],
            "parameters": [tileset_param(), tile_crs_param()],
            "responses": {
                "200": {"description": "TileJSON", "content": {"application/json": {"schema": {"type": "object"}}}},
                "400": error_response("bad_crs: crs other than wgs84 or gcj02"),
                "401": error_response("a private tileset without a token, or an invalid token"),
                "404": error_response("unknown_tileset")
            }
        }},
        "/tiles/{tileset}/{z}/{x}/{y}": {"get": {
            "summary": "One Mapbox Vector Tile, holding only features inside the caller's jurisdiction",
            "description": "Encoded as brotli or gzip by Accept-Encoding (Vary: Accept-Encoding, Authorization); strong ETag of the uncompressed tile, If-None-Match answers 304. Cache-Control is public for anonymous callers, private with a token. A tile without features, or a zoom outside the tileset's range, answers 204.",
            "security": [{}, {"bearer": []}],
            "parameters": tile_params(),
            "responses": {
                "200": {"description": "the tile", "content": {"application/vnd.mapbox-vector-tile": {}}},
                "204": {"description": "empty tile, or zoom outside the tileset's range"},
                "304": {"description": "the client's copy (If-None-Match) is current"},
                "400": error_response("bad_tile: z/x/y not numbers or outside the XYZ grid; bad_crs: crs other than wgs84 or gcj02"),
                "401": error_response("a private tileset without a token, or an invalid token"),
                "404": error_response("unknown_tileset")
            }
        }}
    })
}

fn scoped_responses(ok: Value) -> Value {
    json!({
        "200": ok,
        "400": error_response("invalid input"),
        "401": error_response("missing or invalid token"),
        "403": error_response("outside the caller's jurisdiction"),
        "404": error_response("no such area")
    })
}

/// The document.
pub fn document() -> Value {
    let mut doc = json!({
        "openapi": "3.1.0",
        "info": {
            "title": "gridmap",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Map and spatial-analytics service for city grid management (网格化服务管理)."
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {
                        "code": {"type": "string", "description": "stable machine-readable code"},
                        "message": {"type": "string"}
                    }}}
                },
                "Rollup": {
                    "type": "object",
                    "properties": {
                        "buildings": {"type": "integer"}, "houses": {"type": "integer"},
                        "households": {"type": "integer"}, "residents": {"type": "integer"},
                        "registered": {"type": "integer"}, "floating": {"type": "integer"},
                        "overseas": {"type": "integer"},
                        "care": {"type": "object", "additionalProperties": {"type": "integer"}}
                    }
                },
                "AreaFeature": {
                    "type": "object",
                    "description": "GeoJSON Feature; id = code; properties: code, name, layer, level, parent_code, center, leader_name, leader_phone, leader_photo_url, urban_rural, valid_from, valid_to, rollup",
                    "properties": {"type": {"const": "Feature"}, "id": {"type": "string"}, "geometry": {"type": "object"}, "properties": {"type": "object"}}
                },
                "ChainLink": {
                    "type": "object",
                    "properties": {"code": {"type": "string"}, "name": {"type": "string"}, "level": {"type": "string"}, "layer": {"type": "string"}}
                }
            }
        },
        "paths": {
            "/health": {"get": {"summary": "Liveness", "responses": {"200": {"description": "the process answers"}}}},
            "/ready": {"get": {"summary": "Readiness: engine loaded and store reachable",
                "responses": {"200": {"description": "ready"}, "503": error_response("not ready")}}},
            "/metrics": {"get": {"summary": "Prometheus metrics",
                "responses": {"200": {"description": "text exposition format", "content": {"text/plain": {}}}}}},
            "/openapi.json": {"get": {"summary": "This document", "responses": {"200": {"description": "OpenAPI 3.1"}}}},
            "/api/lookup": {"get": {
                "summary": "The area chain at a point (grid → community → street → district → city)",
                "security": [{"bearer": []}],
                "parameters": [
                    {"name": "lon", "in": "query", "required": true, "schema": {"type": "number"}},
                    {"name": "lat", "in": "query", "required": true, "schema": {"type": "number"}},
                    {"name": "crs", "in": "query", "required": false, "schema": {"type": "string", "default": "wgs84"},
                     "description": "wgs84, cgcs2000, gcj02, bd09, EPSG:3857 or a CGCS2000 Gauss-Krüger zone EPSG:4491–4554"}
                ],
                "responses": scoped_responses(json!({"description": "the chain, deepest first", "content": {"application/json": {"schema": {
                    "type": "object",
                    "properties": {
                        "lon": {"type": "number"}, "lat": {"type": "number"}, "inside": {"type": "boolean"},
                        "grid": {"type": ["string", "null"]},
                        "chain": {"type": "array", "items": {"$ref": "#/components/schemas/ChainLink"}},
                        "other_layers": {"type": "array", "items": {"$ref": "#/components/schemas/ChainLink"}}
                    }
                }}}}))
            }},
            "/api/areas/{code}": {"get": {
                "summary": "One area as a GeoJSON Feature with its rollup",
                "security": [{"bearer": []}],
                "parameters": [code_param()],
                "responses": scoped_responses(json!({"description": "the area", "content": {"application/geo+json": {"schema": {"$ref": "#/components/schemas/AreaFeature"}}}}))
            }},
            "/api/areas/{code}/children": {"get": {
                "summary": "The direct children of an area (every layer) as a FeatureCollection",
                "security": [{"bearer": []}],
                "parameters": [code_param()],
                "responses": scoped_responses(json!({"description": "the children", "content": {"application/geo+json": {"schema": {
                    "type": "object", "properties": {"type": {"const": "FeatureCollection"}, "features": {"type": "array", "items": {"$ref": "#/components/schemas/AreaFeature"}}}
                }}}}))
            }},
            "/styles/{name}": {"get": {
                "summary": "A MapLibre style (dark: command-center wall map, light) with absolute URLs of this service's tilesets",
                "parameters": [{"name": "name", "in": "path", "required": true, "schema": {"type": "string", "enum": ["dark", "light"]}}],
                "responses": {
                    "200": {"description": "MapLibre style spec v8", "content": {"application/json": {}}},
                    "400": error_response("malformed X-Forwarded-Proto or host header"),
                    "404": error_response("unknown style (code unknown_style)")
                }
            }}
        }
    });
    if let (Some(paths), Value::Object(tiles)) = (doc["paths"].as_object_mut(), tile_paths()) {
        paths.extend(tiles);
    }
    doc
}

/// `GET /openapi.json`.
pub async fn serve() -> Json<Value> {
    Json(document())
}
