//! `GET /openapi.json`: the OpenAPI 3.1 description of every route. The test
//! `tests/http.rs::openapi_matches_routes` keeps it true: its (path, method) operations are
//! exactly the documented ones of `api::routes()`, the table the router is built from, and
//! each answers.

use axum::Json;
use serde_json::{json, Value};

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
        "description": "Tileset name, as GET /tiles lists them (boundaries, buildings, basemap, events, heatmap)",
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

/// The event filters of the `events` and `heatmap` tile paths (part of the cache key).
/// The event filter parameters, with one meaning on `/api/events` and the event tiles
/// (`api::event_params`).
const FROM_DOC: &str = "reported at or after this: RFC 3339 (2026-10-01T08:00:00+08:00), or a day (2026-10-01) for the start of that China Standard Time (UTC+8) day";
const TO_DOC: &str = "reported before this: RFC 3339, or a day (2026-10-31) for the end of that China Standard Time (UTC+8) day (the day included)";
const STATUS_DOC: &str = "comma list of statuses (reported, registered, dispatched, handling, feedback, closed, evaluated), at most 64";
const CATEGORY_DOC: &str = "comma list of category code prefixes (01 keeps 0101, 0102, …; a whole code keeps itself), at most 64";

fn event_filter_params() -> [Value; 5] {
    let q = |name: &str, description: &str| {
        json!({
            "name": name, "in": "query", "required": false, "schema": {"type": "string"},
            "description": description
        })
    };
    [
        q("from", &format!("events/heatmap: {FROM_DOC}")),
        q("to", &format!("events/heatmap: {TO_DOC}")),
        q("status", &format!("events/heatmap: {STATUS_DOC}")),
        q("category", &format!("events/heatmap: {CATEGORY_DOC}")),
        q("bin", "heatmap only: square (default; points at cell centres with count) or h3 (hexagon polygons with h3 and count)"),
    ]
}

/// The parameters of the TileJSON path: the tileset, the grid and the event filters.
fn tilejson_params() -> Value {
    let [from, to, status, category, bin] = event_filter_params();
    json!([
        tileset_param(),
        tile_crs_param(),
        from,
        to,
        status,
        category,
        bin
    ])
}

fn tile_params() -> Value {
    let [from, to, status, category, bin] = event_filter_params();
    json!([
        tileset_param(),
        tile_crs_param(),
        from, to, status, category, bin,
        {"name": "z", "in": "path", "required": true, "schema": {"type": "integer", "minimum": 0, "maximum": 22}},
        {"name": "x", "in": "path", "required": true, "schema": {"type": "integer", "minimum": 0},
         "description": "column, below 2^z"},
        {"name": "y", "in": "path", "required": true, "schema": {"type": "string", "pattern": "^[0-9]+(\\.(pbf|mvt))?$"},
         "description": "row from the north, below 2^z, optionally ending in .pbf or .mvt"}
    ])
}

/// Who may ask for map resources: anyone (public tilesets), a bearer token or an API key.
fn map_security() -> Value {
    json!([{}, {"bearer": []}, {"api_key": []}, {"api_key_header": []}])
}

fn tile_paths() -> Value {
    json!({
        "/rasters/satellite/{z}/{x}/{y}": {"get": {
            "summary": "One satellite imagery tile (Tianditu by default), fetched by the service with the configured key, which never reaches the client; the styles list it as the hidden layer satellite when configured",
            "security": [{"bearer": []}, {"api_key": []}, {"api_key_header": []}],
            "parameters": [
                {"name": "z", "in": "path", "required": true, "schema": {"type": "integer", "minimum": 0, "maximum": 24}},
                {"name": "x", "in": "path", "required": true, "schema": {"type": "integer", "minimum": 0}},
                {"name": "y", "in": "path", "required": true, "schema": {"type": "integer", "minimum": 0}},
                {"name": "key", "in": "query", "description": "an API key, instead of a header", "schema": {"type": "string"}}
            ],
            "responses": {
                "200": {"description": "the image as the upstream sent it", "content": {"image/jpeg": {}, "image/png": {}}},
                "400": error_response("bad_tile: not a tile address, or deeper than the imagery"),
                "401": error_response("unauthorized: no token or API key"),
                "404": error_response("not_configured (no [satellite] table), not_found (the upstream has no such tile)"),
                "502": error_response("upstream_failed: the upstream did not answer with an image")
            }
        }},
        "/tiles": {"get": {
            "summary": "The tilesets: name, description, public flag, zoom range and TileJSON URL",
            "security": map_security(),
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
            "security": map_security(),
            "parameters": tilejson_params(),
            "responses": {
                "200": {"description": "TileJSON", "content": {"application/json": {"schema": {"type": "object"}}}},
                "400": error_response("bad_crs: crs other than wgs84 or gcj02 (events/heatmap: wgs84 only); bad_filter: a bad from, to, status, category or bin; too_many_values: a list over 64 values"),
                "401": error_response("a private tileset without a token or key, an invalid token, or bad_api_key"),
                "403": error_response("key_origin: the API key is bound to other web origins"),
                "404": error_response("unknown_tileset")
            }
        }},
        "/tiles/{tileset}/{z}/{x}/{y}": {"get": {
            "summary": "One Mapbox Vector Tile, holding only features inside the caller's jurisdiction",
            "description": "Encoded as brotli or gzip by Accept-Encoding (Vary: Accept-Encoding, Authorization, X-Api-Key); strong ETag of the uncompressed tile, If-None-Match answers 304. Cache-Control is public for anonymous callers, private with a token or key. A tile without features, or a zoom outside the tileset's range, answers 204.",
            "security": map_security(),
            "parameters": tile_params(),
            "responses": {
                "200": {"description": "the tile", "content": {"application/vnd.mapbox-vector-tile": {}}},
                "204": {"description": "empty tile, or zoom outside the tileset's range"},
                "304": {"description": "the client's copy (If-None-Match) is current"},
                "400": error_response("bad_tile: z/x/y not numbers or outside the XYZ grid; bad_crs: crs other than wgs84 or gcj02 (events/heatmap: wgs84 only); bad_filter: a bad from, to, status, category or bin; too_many_values: a list over 64 values"),
                "401": error_response("a private tileset without a token or key, an invalid token, or bad_api_key"),
                "403": error_response("key_origin: the API key is bound to other web origins"),
                "404": error_response("unknown_tileset")
            }
        }}
    })
}

fn event_code_param() -> Value {
    json!({"name": "code", "in": "path", "required": true, "description": "Event code, e.g. E20260301000042", "schema": {"type": "string"}})
}

/// `POST/GET /api/events`, `GET /api/events/{code}`, `POST /api/events/{code}/transitions`.
fn event_paths() -> Value {
    let event_input = json!({"type": "object", "required": ["external_id", "source", "category", "title", "lon", "lat"], "properties": {
        "external_id": {"type": "string", "maxLength": 100, "description": "the source's id; (the poster's jurisdiction, source, external_id) makes retries idempotent"},
        "source": {"type": "string", "enum": ["patrol", "hotline", "wechat", "app", "video"]},
        "category": {"type": "string", "pattern": "^[A-Za-z0-9]{1,16}$", "description": "category code (e.g. 0102, or a key such as dispute): 1–16 letters or digits; its major (2 digits) or full code picks the deadline"},
        "title": {"type": "string", "maxLength": 200}, "content": {"type": "string", "maxLength": 10000},
        "reporter_name": {"type": "string", "maxLength": 100}, "reporter_phone": {"type": "string", "maxLength": 32}, "address": {"type": "string", "maxLength": 500},
        "lon": {"type": "number"}, "lat": {"type": "number"},
        "crs": {"type": "string", "default": "wgs84", "description": "wgs84, gcj02, bd09, EPSG:4490, …"},
        "reported_at": {"type": "string", "format": "date-time", "description": "default now; from 2000-01-01T00:00:00Z to at most 5 minutes in the future"}
    }});
    let result = json!({"type": "object", "properties": {
        "index": {"type": "integer"}, "code": {"type": "string"}, "created": {"type": "boolean", "description": "false: already stored, same code, nothing written"},
        "error": {"type": "object", "properties": {"code": {"type": "string", "description": "invalid_event, missing_external_id, bad_source, bad_category, missing_title, too_long, missing_location, bad_crs, bad_coordinates, reported_in_future, bad_reported_at, outside_area, out_of_scope, idempotency_conflict, not_stored"}, "message": {"type": "string"}}}
    }});
    let list_params = json!([
        {"name": "bbox", "in": "query", "schema": {"type": "string"}, "description": "west,south,east,north (degrees)"},
        {"name": "area", "in": "query", "schema": {"type": "string"}, "description": "an area code: the events inside it, read as a jurisdiction (410600 is the whole city, with the events outside every area; 410611 every 410611… code)"},
        {"name": "from", "in": "query", "schema": {"type": "string"}, "description": FROM_DOC},
        {"name": "to", "in": "query", "schema": {"type": "string"}, "description": TO_DOC},
        {"name": "status", "in": "query", "schema": {"type": "string"}, "description": STATUS_DOC},
        {"name": "category", "in": "query", "schema": {"type": "string"}, "description": CATEGORY_DOC},
        {"name": "source", "in": "query", "schema": {"type": "string"}, "description": "comma list of sources (patrol, hotline, wechat, app, video), at most 64"},
        {"name": "level", "in": "query", "schema": {"type": "string"}, "description": "comma list of levels (community, street, district, city), at most 64"},
        {"name": "overdue", "in": "query", "schema": {"type": "boolean"}, "description": "open and past the deadline now"},
        {"name": "cursor", "in": "query", "schema": {"type": "string"}, "description": "next_cursor of the previous page (opaque)"},
        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}},
        {"name": "format", "in": "query", "schema": {"type": "string", "enum": ["geojson", "csv"], "default": "geojson"}}
    ]);
    json!({
        "/api/events": {
            "post": {
                "summary": "Ingest one event or a batch of up to 1000 (roles dispatcher, device, admin)",
                "description": "Idempotent on (the token's scope, source, external_id): a retry answers the same code and writes nothing; the same key with a different category, title, content, reporter, address, location or given reported_at answers 409 idempotency_conflict. Another jurisdiction's keys are never seen. The engine assigns the deepest base area and flags outside_grid. A single object answers 201 (created), 200 (existing), 422 or 403 (its error). A batch {\"events\": [...], \"all_or_nothing\": false} answers 200 with one result per event in input order; one bad event never blocks the others unless all_or_nothing, which stores nothing and answers 422 when any event is invalid.",
                "security": [{"bearer": []}],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"oneOf": [
                    event_input,
                    {"type": "object", "required": ["events"], "properties": {"events": {"type": "array", "maxItems": 1000, "items": {"type": "object"}}, "all_or_nothing": {"type": "boolean", "default": false}}}
                ]}}}},
                "responses": {
                    "200": {"description": "a batch's results, or a single event already stored", "content": {"application/json": {"schema": {"type": "object", "properties": {
                        "stored": {"type": "boolean"}, "created": {"type": "integer"}, "existing": {"type": "integer"}, "failed": {"type": "integer"},
                        "results": {"type": "array", "items": result.clone()}}}}}},
                    "201": {"description": "a single event created", "content": {"application/json": {"schema": result}}},
                    "400": error_response("bad_json, empty_batch, too_many_events"),
                    "401": error_response("missing or invalid token"),
                    "403": error_response("forbidden_role, or out_of_scope for a single event"),
                    "409": error_response("idempotency_conflict: a single event's key was used for a different event"),
                    "422": error_response("a single event's validation error, or an all_or_nothing batch with invalid events (per-event results)")
                }
            },
            "get": {
                "summary": "Events in the caller's jurisdiction, newest first (reported_at to the second, then code, both descending), one page at a time",
                "description": "GeoJSON FeatureCollection with next_cursor (null on the last page), or CSV with the next cursor in X-Next-Cursor. overdue and card are derived at the service clock: red when open past the deadline or closed after it, yellow in the last quarter of the allotted time.",
                "security": [{"bearer": []}],
                "parameters": list_params,
                "responses": {
                    "200": {"description": "one page", "content": {"application/geo+json": {}, "application/json": {}, "text/csv": {}}},
                    "400": error_response("bad_bbox, bad_area, bad_time, bad_status, bad_category, bad_source, bad_level, too_many_values (a list over 64 values), bad_cursor, bad_limit, bad_format, bad_query"),
                    "401": error_response("missing or invalid token")
                }
            }
        },
        "/api/fixes": {"post": {
            "summary": "GPS fixes of grid workers (roles device, dispatcher, admin): a batch, each checked on its own",
            "description": "Each fix names its worker by code (worker) or device id (device) and gives at (RFC 3339), lon, lat in crs (wgs84 default, gcj02, bd09), and optionally accuracy (m), speed (m/s) and heading (degrees). Fixes that pass are stored in one transaction before the answer (durable). Per fix: stored; duplicate (a fix of that worker at that instant is stored: a retry is harmless); refused with a code: bad_fix, missing_worker, unknown_worker, out_of_scope (the worker's home is outside your jurisdiction), bad_time, future_time (more than 60 s ahead of the service clock), too_old (past the retention), missing_position, bad_crs, outside_china, bad_value, impossible_speed (faster than [workers] max_speed_mps from the worker's previous fix). A fix older than the worker's latest is stored for its track but does not move the worker.",
            "security": [{"bearer": []}],
            "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["fixes"], "properties": {
                "fixes": {"type": "array", "minItems": 1, "maxItems": 5000, "items": {"type": "object", "properties": {
                    "worker": {"type": "string"}, "device": {"type": "string"}, "at": {"type": "string", "format": "date-time"},
                    "lon": {"type": "number"}, "lat": {"type": "number"}, "crs": {"type": "string", "enum": ["wgs84", "gcj02", "bd09"]},
                    "accuracy": {"type": "number", "minimum": 0}, "speed": {"type": "number", "minimum": 0},
                    "heading": {"type": "number", "minimum": 0, "maximum": 360}
                }}}
            }}}}},
            "responses": {
                "200": {"description": "one result per fix, in input order", "content": {"application/json": {"schema": {"type": "object", "required": ["stored", "duplicates", "refused", "results"], "properties": {
                    "stored": {"type": "integer"}, "duplicates": {"type": "integer"}, "refused": {"type": "integer"},
                    "results": {"type": "array", "items": {"type": "object", "required": ["status"], "properties": {
                        "status": {"type": "string", "enum": ["stored", "duplicate", "refused"]},
                        "worker": {"type": "string"},
                        "error": {"type": "object", "required": ["code", "message"], "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}
                    }}}
                }}}}},
                "400": error_response("bad_json, empty_batch or too_many_fixes"),
                "401": error_response("missing or invalid token"),
                "403": error_response("forbidden_role"),
                "413": error_response("body_too_large"),
                "503": error_response("unavailable: the store cannot take the fixes")
            }
        }},
        "/api/workers": {"get": {
            "summary": "Grid workers in scope (by home area) as GeoJSON, each at its latest fix: status (online/offline), the grid it stands in, inside_home, outside_m and its open out-of-grid alert",
            "security": [{"bearer": []}],
            "parameters": [
                {"name": "area", "in": "query", "required": false, "description": "only workers whose home area is inside this one (default: your jurisdiction)", "schema": {"type": "string"}},
                {"name": "status", "in": "query", "required": false, "schema": {"type": "string", "enum": ["online", "offline", "all"], "default": "all"}},
                {"name": "crs", "in": "query", "required": false, "description": "output CRS of positions", "schema": {"type": "string", "enum": ["wgs84", "gcj02", "bd09"], "default": "wgs84"}}
            ],
            "responses": {
                "200": {"description": "FeatureCollection (geometry null before a worker's first fix)", "content": {"application/geo+json": {"schema": {"type": "object"}}, "application/json": {"schema": {"type": "object"}}}},
                "400": error_response("bad_query, bad_status or bad_crs"),
                "401": error_response("missing or invalid token"),
                "403": error_response("out_of_scope"),
                "404": error_response("not_found: no such area")
            }
        }},
        "/api/workers/nearest": {"get": {
            "summary": "The k nearest workers in scope to a point (就近派遣), nearest first, with distance_m (geodesic); online only unless online=false",
            "security": [{"bearer": []}],
            "parameters": [
                {"name": "lon", "in": "query", "required": true, "schema": {"type": "number"}},
                {"name": "lat", "in": "query", "required": true, "schema": {"type": "number"}},
                {"name": "crs", "in": "query", "required": false, "description": "CRS of lon/lat and of the answer", "schema": {"type": "string", "enum": ["wgs84", "gcj02", "bd09"], "default": "wgs84"}},
                {"name": "k", "in": "query", "required": false, "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 5}},
                {"name": "online", "in": "query", "required": false, "schema": {"type": "boolean", "default": true}},
                {"name": "area", "in": "query", "required": false, "description": "only workers whose home area is inside this one", "schema": {"type": "string"}}
            ],
            "responses": {
                "200": {"description": "FeatureCollection, nearest first", "content": {"application/geo+json": {"schema": {"type": "object"}}, "application/json": {"schema": {"type": "object"}}}},
                "400": error_response("bad_query, bad_k, bad_crs or bad_position"),
                "401": error_response("missing or invalid token"),
                "403": error_response("out_of_scope"),
                "404": error_response("not_found: no such area")
            }
        }},
        "/api/workers/alerts": {"get": {
            "summary": "Out-of-grid alerts (越界) of workers in scope: raised in [from, to) or open at from, oldest first",
            "security": [{"bearer": []}],
            "parameters": [
                {"name": "area", "in": "query", "required": false, "schema": {"type": "string"}},
                {"name": "from", "in": "query", "required": false, "description": "RFC 3339 (default: a day before to)", "schema": {"type": "string", "format": "date-time"}},
                {"name": "to", "in": "query", "required": false, "description": "RFC 3339, exclusive (default: now)", "schema": {"type": "string", "format": "date-time"}},
                {"name": "open", "in": "query", "required": false, "description": "only alerts not cleared", "schema": {"type": "boolean", "default": false}}
            ],
            "responses": {
                "200": {"description": "the alerts", "content": {"application/json": {"schema": {"type": "object", "required": ["alerts"], "properties": {"alerts": {"type": "array", "items": {"type": "object"}}}}}}},
                "400": error_response("bad_query or bad_window"),
                "401": error_response("missing or invalid token"),
                "403": error_response("out_of_scope"),
                "404": error_response("not_found: no such area"),
                "503": error_response("unavailable: the store cannot be read")
            }
        }},
        "/api/analysis/patrol-coverage": {"get": {
            "summary": "Patrol coverage (巡查覆盖): per base grid of an area, the share of its buildings and of its area within distance metres of the tracks of its own workers (home = the grid) in [from, to)",
            "security": [{"bearer": []}],
            "parameters": [
                {"name": "area", "in": "query", "required": false, "description": "the area whose grids are measured (default: your jurisdiction; at most 1500 grids)", "schema": {"type": "string"}},
                {"name": "from", "in": "query", "required": true, "description": "RFC 3339, or a China Standard Time day", "schema": {"type": "string"}},
                {"name": "to", "in": "query", "required": true, "description": "RFC 3339, or a day (its end); at most 31 days after from", "schema": {"type": "string"}},
                {"name": "distance", "in": "query", "required": false, "description": "metres from a track that count as covered", "schema": {"type": "number", "exclusiveMinimum": 0, "maximum": 1000, "default": 50}},
                {"name": "gap", "in": "query", "required": false, "description": "longest time between two fixes joined by a line: 600, 600s, 10m, 1h", "schema": {"type": "string", "default": "10m"}}
            ],
            "responses": {
                "200": {"description": "one row per grid", "content": {"application/json": {"schema": {"type": "object", "required": ["grids"], "properties": {"grids": {"type": "array", "items": {"type": "object", "properties": {
                    "grid": {"type": "string"}, "name": {"type": "string"}, "workers": {"type": "array", "items": {"type": "string"}},
                    "fixes": {"type": "integer"}, "buildings": {"type": "integer"}, "covered_buildings": {"type": "integer"},
                    "building_share": {"type": ["number", "null"]}, "area_share": {"type": "number"}, "track_m": {"type": "number"}
                }}}}}}}},
                "400": error_response("bad_query, bad_time, window_too_long, bad_gap, bad_distance or too_many_grids"),
                "401": error_response("missing or invalid token"),
                "403": error_response("out_of_scope"),
                "404": error_response("not_found: no such area"),
                "503": error_response("unavailable: the store cannot be read")
            }
        }},
        "/api/live": {"get": {
            "summary": "The live stream (WebSocket): worker fixes, status, alerts and events in scope as they happen",
            "description": "Connect with a WebSocket client; from a browser pass the token as ?token=. Subscribe with ?area=&kinds=&snapshot=true or a message {\"type\": \"subscribe\", \"area\": …, \"kinds\": [\"fixes\", \"status\", \"alerts\", \"events\"], \"snapshot\": true}. Messages: subscribed, snapshot (workers as a FeatureCollection and the open alerts), fix and status (worker: a Feature as GET /api/workers gives), alert, event, heartbeat (every 15 s), lagged (a slow client's messages were dropped: ask for a snapshot), error. Positions of a slow client are coalesced to the latest per worker.",
            "security": [{"bearer": []}],
            "parameters": [
                {"name": "token", "in": "query", "required": false, "description": "bearer token, for browsers", "schema": {"type": "string"}},
                {"name": "area", "in": "query", "required": false, "schema": {"type": "string"}},
                {"name": "kinds", "in": "query", "required": false, "description": "comma list of fixes, status, alerts, events (default all)", "schema": {"type": "string"}},
                {"name": "snapshot", "in": "query", "required": false, "schema": {"type": "boolean", "default": false}}
            ],
            "responses": {
                "101": {"description": "switching to the WebSocket protocol"},
                "400": error_response("bad_query or bad_kinds"),
                "401": error_response("missing or invalid token"),
                "403": error_response("out_of_scope"),
                "404": error_response("not_found: no such area"),
                "426": error_response("upgrade_required: not a WebSocket handshake")
            }
        }},
        "/api/events/categories": {"get": {
            "summary": "The event category catalog (事件分类): code, name, major class and its name, in code order; from events/categories.toml and the config file's [event_categories]",
            "security": [{"bearer": []}],
            "responses": {
                "200": {"description": "the catalog", "content": {"application/json": {"schema": {"type": "object", "required": ["categories"], "properties": {
                    "categories": {"type": "array", "items": {"type": "object", "required": ["code", "name", "major"], "properties": {
                        "code": {"type": "string"}, "name": {"type": "string"}, "major": {"type": "string"},
                        "major_name": {"type": ["string", "null"]}
                    }}}
                }}}}},
                "401": error_response("missing or invalid token")
            }
        }},
        "/api/events/{code}": {"get": {
            "summary": "One event: place with its area chain, reporter (phone masked unless dispatcher/admin), report time, content, status, deadline, overdue, card, timeline, evaluation, allowed actions",
            "security": [{"bearer": []}],
            "parameters": [event_code_param()],
            "responses": {
                "200": {"description": "the event", "content": {"application/json": {"schema": {"type": "object"}}}},
                "401": error_response("missing or invalid token"),
                "403": error_response("out_of_scope"),
                "404": error_response("not_found")
            }
        }},
        "/api/events/{code}/transitions": {"post": {
            "summary": "One step of the seven-step loop (roles dispatcher, admin)",
            "description": "register: reported→registered; dispatch (department required): registered→dispatched; handle: dispatched→handling; feedback: handling→feedback; close: feedback→closed; evaluate (score 1–5, comment): closed→evaluated. escalate (逐级上报) from reported, registered, dispatched or handling: one level up (community→street→district→city), status back to reported, deadline re-derived for the new level. return: one step back (registered→reported, dispatched→registered, handling→dispatched, feedback→handling), or, when reported above community, to the level below. Closed and evaluated events cannot be escalated or returned.",
            "security": [{"bearer": []}],
            "parameters": [event_code_param()],
            "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["action"], "properties": {
                "action": {"type": "string", "enum": ["register", "dispatch", "handle", "feedback", "close", "evaluate", "escalate", "return"]},
                "department": {"type": "string", "maxLength": 200}, "note": {"type": "string", "maxLength": 2000},
                "score": {"type": "integer", "minimum": 1, "maximum": 5}, "comment": {"type": "string", "maxLength": 2000}
            }}}}},
            "responses": {
                "200": {"description": "the event after the step (as GET /api/events/{code})"},
                "400": error_response("bad_json, bad_action, missing_department, bad_score, unexpected_evaluation"),
                "401": error_response("missing or invalid token"),
                "403": error_response("forbidden_role, out_of_scope"),
                "404": error_response("not_found"),
                "422": error_response("too_long: department, note or comment over its limit"),
                "409": error_response("invalid_transition (the error object also holds status, level and allowed: the actions allowed now), or concurrent_transition (another step was stored first; read and retry)")
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

/// The parameters of the area statistics: the area code, the window and, for `/children`,
/// the format.
fn stats_params(with_format: bool) -> Value {
    let mut params = vec![
        code_param(),
        json!({"name": "from", "in": "query", "description": "RFC 3339 or a China Standard Time day; default: 30 days before to", "schema": {"type": "string"}}),
        json!({"name": "to", "in": "query", "description": "RFC 3339 or a China Standard Time day (included); default: now", "schema": {"type": "string"}}),
    ];
    if with_format {
        params.push(json!({"name": "format", "in": "query", "schema": {"type": "string", "enum": ["json", "csv", "geojson"]}}));
    }
    Value::Array(params)
}

/// The area statistics operations (`api::stats`).
fn stats_paths() -> Value {
    json!({
            "/api/stats/areas/{code}": {"get": {
                "summary": "What an area holds (buildings, houses by use, households, residents, care tags) and its event figures in a window (by status and category, open, overdue, closure and on-time rates)",
                "description": "An event counts when from <= reported_at < to (default: the 30 days before to; to defaults to now), for the area its location lies in; areas of other layers than base have no event figures (events: null). Overdue and on time are judged at the service clock.",
                "security": [{"bearer": []}],
                "parameters": stats_params(false),
                "responses": scoped_responses(json!({"description": "the area's statistics", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/AreaStats"}}}}))
            }},
            "/api/stats/areas/{code}/children": {"get": {
                "summary": "The statistics of an area's base-layer children, one row each (for choropleths and rankings); the JSON answer also holds the parent's row, the sum of the children's",
                "security": [{"bearer": []}],
                "parameters": stats_params(true),
                "responses": scoped_responses(json!({"description": "one row per child", "content": {
                    "application/json": {"schema": {"type": "object", "properties": {
                        "parent": {"$ref": "#/components/schemas/AreaStats"},
                        "children": {"type": "array", "items": {"$ref": "#/components/schemas/AreaStats"}},
                        "window": {"type": "object"}, "as_of": {"type": "string"}
                    }}},
                    "text/csv": {"schema": {"type": "string"}},
                    "application/geo+json": {"schema": {"type": "object", "properties": {"type": {"const": "FeatureCollection"}, "features": {"type": "array"}}}}
                }}))
            }},
            "/api/stats/timeseries": {"get": {
                "summary": "Events reported (or closed) per China Standard Time day, week (from Monday) or month in an area: the trend line",
                "security": [{"bearer": []}],
                "parameters": [
                    {"name": "area", "in": "query", "description": "a base-layer area code (default: the caller's jurisdiction)", "schema": {"type": "string"}},
                    {"name": "metric", "in": "query", "schema": {"type": "string", "enum": ["reported", "closed"]}},
                    {"name": "interval", "in": "query", "schema": {"type": "string", "enum": ["day", "week", "month"]}},
                    {"name": "from", "in": "query", "description": "RFC 3339 or a China Standard Time day; default: 30 days before to", "schema": {"type": "string"}},
                    {"name": "to", "in": "query", "description": "RFC 3339 or a China Standard Time day (included); default: now", "schema": {"type": "string"}}
                ],
                "responses": scoped_responses(json!({"description": "the whole buckets covering the window (at most 1000)", "content": {"application/json": {"schema": {"type": "object", "properties": {
                    "area": {"type": "string"}, "metric": {"type": "string"}, "interval": {"type": "string"}, "as_of": {"type": "string"},
                    "points": {"type": "array", "items": {"type": "object", "properties": {"start": {"type": "string"}, "end": {"type": "string"}, "value": {"type": "integer"}}}}
                }}}}}))
            }}
    })
}

/// The area search (`api::areas::search`).
fn area_search_paths() -> Value {
    let link = json!({"type": "object", "required": ["code", "name", "level", "layer"], "properties": {
        "code": {"type": "string"}, "name": {"type": "string"}, "level": {"type": "string"}, "layer": {"type": "string"}
    }});
    json!({
            "/api/areas": {"get": {
                "summary": "Search areas in the caller's jurisdiction: digits match the start of a code, anything else part of a name (ASCII letters in any case); best match first (exact, then start, then inside), then from the top of the hierarchy down",
                "security": [{"bearer": []}],
                "parameters": [
                    {"name": "q", "in": "query", "required": true, "schema": {"type": "string", "minLength": 1, "pattern": "\\S"}},
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 50, "default": 10}}
                ],
                "responses": {
                    "200": {"description": "the hits", "content": {"application/json": {"schema": {"type": "object", "required": ["query", "areas"], "properties": {
                        "query": {"type": "string"},
                        "areas": {"type": "array", "items": {"type": "object", "required": ["code", "name", "level", "layer", "path"], "properties": {
                            "code": {"type": "string"}, "name": {"type": "string"}, "level": {"type": "string"}, "layer": {"type": "string"},
                            "parent_code": {"type": ["string", "null"]},
                            "path": {"type": "array", "description": "the ancestors, top down", "items": link},
                            "bbox": {"type": ["array", "null"], "items": {"type": "number"}, "minItems": 4, "maxItems": 4}
                        }}}
                    }}}}},
                    "400": error_response("bad_query, bad_limit, empty_query"),
                    "401": error_response("missing or invalid token")
                }
            }}
    })
}

/// A worker's track (`api::worker_tracks`).
fn worker_track_paths() -> Value {
    let segment = json!({
        "type": "object", "required": ["type", "geometry", "properties"],
        "properties": {
            "type": {"const": "Feature"},
            "geometry": {"type": "object", "required": ["type", "coordinates"], "description": "a LineString, or a Point for a segment of one fix", "properties": {
                "type": {"type": "string", "enum": ["LineString", "Point"]}, "coordinates": {"type": "array"}
            }},
            "properties": {"type": "object", "required": ["from", "to", "fixes", "distance_m", "duration_s"], "properties": {
                "from": {"type": "string", "format": "date-time"}, "to": {"type": "string", "format": "date-time"},
                "fixes": {"type": "integer", "minimum": 1},
                "distance_m": {"type": "number", "minimum": 0}, "duration_s": {"type": "number", "minimum": 0}
            }}
        }
    });
    let track = json!({
        "type": "object", "required": ["type", "worker", "from", "to", "gap_s", "crs", "fixes", "distance_m", "duration_s", "features"],
        "properties": {
            "type": {"const": "FeatureCollection"}, "worker": {"type": "string"},
            "from": {"type": "string", "format": "date-time"}, "to": {"type": "string", "format": "date-time"},
            "gap_s": {"type": "integer"}, "simplify_m": {"type": ["number", "null"]}, "crs": {"type": "string"},
            "fixes": {"type": "integer", "minimum": 0},
            "distance_m": {"type": "number", "minimum": 0}, "duration_s": {"type": "number", "minimum": 0},
            "features": {"type": "array", "items": segment}
        }
    });
    let q = |name: &str, required: bool, description: &str| json!({"name": name, "in": "query", "required": required, "description": description, "schema": {"type": "string"}});
    json!({
        "/api/workers/{code}/track": {"get": {
            "summary": "A worker's GPS track (轨迹回放) in [from, to): one Feature per segment, split where consecutive fixes are more than gap apart, with the totals",
            "description": "A segment is a LineString of its fixes in time order (a Point when it holds one fix) with from, to, fixes, distance_m (haversine between consecutive fixes, metres) and duration_s (first to last fix). Totals beside features: fixes, distance_m and duration_s, summed over the segments: gaps count neither distance nor time. simplify thins the drawn lines (Douglas-Peucker, metres), never the figures, and keeps each segment's first and last fix. The worker is in scope when its home area is.",
            "security": [{"bearer": []}],
            "parameters": [
                {"name": "code", "in": "path", "required": true, "description": "Worker code", "schema": {"type": "string"}},
                q("from", true, "window start: RFC 3339, or a day (2026-10-01) for the start of that China Standard Time day"),
                q("to", true, "window end, excluded: RFC 3339, or a day for the end of that China Standard Time day; at most 31 days after from"),
                q("gap", false, "longest time between two fixes of one segment: whole seconds (600) or a whole number with s, m (minutes) or h (600s, 10m, 1h); 1 s to 24 h, default 10m"),
                q("simplify", false, "Douglas-Peucker tolerance for the drawn lines, metres from 0 (every fix) to 1000"),
                {"name": "crs", "in": "query", "required": false, "description": "output CRS of positions", "schema": {"type": "string", "enum": ["wgs84", "gcj02", "bd09"], "default": "wgs84"}}
            ],
            "responses": {
                "200": {"description": "the track", "content": {"application/geo+json": {"schema": track.clone()}, "application/json": {"schema": track}}},
                "400": error_response("bad_query, bad_time (from or to missing or not a time, or from not before to), window_too_long (over 31 days), bad_gap, bad_simplify, bad_crs"),
                "401": error_response("missing or invalid token"),
                "403": error_response("out_of_scope: the worker's home area is outside your jurisdiction"),
                "404": error_response("not_found: no such worker"),
                "503": error_response("unavailable: the store cannot be read")
            }
        }}
    })
}

/// The neighbours of an area (`api::areas::neighbors`).
fn area_neighbors_paths() -> Value {
    let properties = json!({
        "type": "object", "required": ["code", "name", "level", "touch", "border_m", "in_scope"],
        "description": "in scope: the properties of an AreaFeature and the three below; out of scope: code, name, level and the three below only",
        "properties": {
            "code": {"type": "string"}, "name": {"type": "string"}, "level": {"type": "string"},
            "touch": {"type": "string", "enum": ["edge", "point"], "description": "edge: they share a line; point: only a corner"},
            "border_m": {"type": "number", "minimum": 0, "description": "the shared border in geodesic metres (0 for a point)"},
            "in_scope": {"type": "boolean", "description": "whether the neighbour is inside the caller's jurisdiction"}
        }
    });
    let feature = json!({
        "type": "object", "required": ["type", "id", "properties"],
        "properties": {
            "type": {"const": "Feature"}, "id": {"type": "string"},
            "geometry": {"type": ["object", "null"], "description": "null when the neighbour is outside the caller's jurisdiction"},
            "properties": properties
        }
    });
    let collection = json!({
        "type": "object", "required": ["type", "features"],
        "properties": {"type": {"const": "FeatureCollection"}, "features": {"type": "array", "items": feature}}
    });
    json!({
        "/api/areas/{code}/neighbors": {"get": {
            "summary": "The areas of the same layer and level that touch an area (相邻网格; PostGIS ST_Touches: a shared edge or corner, interiors apart), sorted by code",
            "description": "A neighbour inside the caller's jurisdiction is a full area feature (as /children) with in_scope true; one outside it is listed by code, name and level only, without geometry, with in_scope false.",
            "security": [{"bearer": []}],
            "parameters": [code_param()],
            "responses": scoped_responses(json!({"description": "the neighbours", "content": {
                "application/geo+json": {"schema": collection.clone()},
                "application/json": {"schema": collection}
            }}))
        }}
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
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "api_key": {"type": "apiKey", "in": "query", "name": "key", "description": "API key for embedded maps (tiles, TileJSON, catalog, styles only); a key given in the URL is handed on in the URLs of the answer"},
                "api_key_header": {"type": "apiKey", "in": "header", "name": "X-Api-Key"}
            },
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
                        "houses_by_use": {"type": "object", "properties": {
                            "owner_occupied": {"type": "integer"}, "rented": {"type": "integer"},
                            "vacant": {"type": "integer"}, "business": {"type": "integer"}
                        }},
                        "care": {"type": "object", "additionalProperties": {"type": "integer"}}
                    }
                },
                "AreaStats": {
                    "type": "object",
                    "description": "code, name, layer, level, the rollup's figures (see Rollup) and events",
                    "properties": {
                        "code": {"type": "string"}, "name": {"type": "string"}, "layer": {"type": "string"}, "level": {"type": "string"},
                        "events": {"type": ["object", "null"], "properties": {
                            "total": {"type": "integer"}, "open": {"type": "integer"}, "overdue": {"type": "integer"},
                            "closed": {"type": "integer"}, "closed_on_time": {"type": "integer"},
                            "closure_rate": {"type": ["number", "null"]}, "on_time_rate": {"type": ["number", "null"]},
                            "by_status": {"type": "object", "additionalProperties": {"type": "integer"}},
                            "by_category": {"type": "object", "additionalProperties": {"type": "integer"}}
                        }}
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
                "security": map_security(),
                "parameters": [{"name": "name", "in": "path", "required": true, "schema": {"type": "string", "enum": ["dark", "light"]}}],
                "responses": {
                    "200": {"description": "MapLibre style spec v8", "content": {"application/json": {}}},
                    "400": error_response("malformed X-Forwarded-Proto or host header"),
                    "404": error_response("unknown style (code unknown_style)")
                }
            }},
            "/fonts/{fontstack}/{range}": {"get": {
                "summary": "SDF label glyphs of a font stack for 256 code points (the styles' glyphs URL; Mapbox/MapLibre glyph protobuf, 24 px, 3 px buffer)",
                "parameters": [
                    {"name": "fontstack", "in": "path", "required": true, "description": "one or more font full names separated by commas, e.g. DejaVu Sans; each glyph comes from the first font that has it", "schema": {"type": "string"}},
                    {"name": "range", "in": "path", "required": true, "description": "START-END.pbf with START a multiple of 256 and END = START + 255 <= 65535, e.g. 0-255.pbf", "schema": {"type": "string"}}
                ],
                "responses": {
                    "200": {"description": "glyph protobuf (no glyphs when no font of the stack covers the range); gzip or brotli when accepted", "content": {"application/x-protobuf": {}}},
                    "304": {"description": "the client holds this ETag"},
                    "400": error_response("bad range (code bad_glyph_range) or more than four fonts (code bad_fontstack)"),
                    "404": error_response("a font of the stack is not installed (code unknown_font)")
                }
            }}
        }
    });
    if let (Some(paths), Value::Object(tiles)) = (doc["paths"].as_object_mut(), tile_paths()) {
        paths.extend(tiles);
    }
    if let (Some(paths), Value::Object(search)) =
        (doc["paths"].as_object_mut(), area_search_paths())
    {
        paths.extend(search);
    }
    if let (Some(paths), Value::Object(track)) =
        (doc["paths"].as_object_mut(), worker_track_paths())
    {
        paths.extend(track);
    }
    if let (Some(paths), Value::Object(neighbors)) =
        (doc["paths"].as_object_mut(), area_neighbors_paths())
    {
        paths.extend(neighbors);
    }
    if let (Some(paths), Value::Object(stats)) = (doc["paths"].as_object_mut(), stats_paths()) {
        paths.extend(stats);
    }
    if let (Some(paths), Value::Object(events)) = (doc["paths"].as_object_mut(), event_paths()) {
        paths.extend(events);
    }
    doc
}

/// `GET /openapi.json`.
pub async fn serve() -> Json<Value> {
    Json(document())
}
