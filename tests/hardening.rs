//! The service as a hostile client tries it (issue 17), over real HTTP against a started server
//! on a copy of the sample city: made-up methods and paths do not grow `/metrics`, half-sent
//! requests and idle connections are closed, connections over the cap wait, an oversized body
//! is a 413, tokens not valid yet, living too long or granting no role are refused, and
//! `X-Forwarded-*` is believed only from a configured proxy.

mod common;

use std::collections::BTreeSet;
use std::process::Command;
use std::time::{Duration, Instant};

use gridmap::access::Role;
use gridmap::config::{Config, ConnectionLimits, StoreLocation, TrustedProxies};
use gridmap::serve::{self, Server};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A test server on a private copy of the sample city, configured by `adjust`.
async fn server_with(adjust: impl FnOnce(&mut Config)) -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = common::test_config(StoreLocation::Gpkg(common::sample_copy(dir.path())));
    adjust(&mut config);
    let server = serve::start(&config).await.expect("server starts");
    (dir, server)
}

/// An answer: status, JSON body (null when not JSON) and the raw body.
struct Answer {
    status: u16,
    json: Value,
    text: String,
}

impl Answer {
    fn code(&self) -> &str {
        self.json["error"]["code"].as_str().unwrap_or_default()
    }
}

async fn send(
    server: &Server,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> Answer {
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method token");
    let mut req = reqwest::Client::new().request(method, format!("{}{path}", server.url()));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    if let Some(body) = body {
        req = req.json(&body);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("body");
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    Answer { status, json, text }
}

async fn get(server: &Server, path: &str, headers: &[(&str, &str)]) -> Answer {
    send(server, "GET", path, headers, None).await
}

/// Reads from `stream` until the server closes it; how long that took, or `None` when it was
/// still open after `limit`.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at((started + limit).into(), stream.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0) | Err(_)) => return Some(started.elapsed()),
            Ok(Ok(_)) => {}
        }
    }
}

/// Everything the server sends on `stream` within `limit` (until it closes the connection or
/// stops sending).
async fn read_some(stream: &mut TcpStream, limit: Duration) -> String {
    let mut buf = vec![0u8; 64 * 1024];
    match tokio::time::timeout(limit, stream.read(&mut buf)).await {
        Ok(Ok(n)) => String::from_utf8_lossy(&buf[..n]).into_owned(),
        _ => String::new(),
    }
}

#[tokio::test]
async fn made_up_methods_and_paths_make_no_new_metrics_series() {
    let (_dir, server) = server_with(|_| {}).await;
    let token = format!("Bearer {}", common::token("410600", &[Role::Admin]));
    for i in 0..40 {
        let method = format!("X{i:07}");
        for path in ["/health", "/api/events", "/tiles/boundaries/0/0/0"] {
            let answer = send(&server, &method, path, &[("Authorization", &token)], None).await;
            assert!(answer.status >= 400, "{method} {path}: {}", answer.status);
        }
        let unknown = get(&server, &format!("/no/such/path/{i}"), &[]).await;
        assert_eq!(unknown.status, 404);
    }
    assert_eq!(get(&server, "/health", &[]).await.status, 200);
    let metrics = get(&server, "/metrics", &[]).await.text;
    let label = |line: &str, name: &str| -> Option<String> {
        let start = line.find(&format!("{name}=\""))? + name.len() + 2;
        let len = line[start..].find('"')?;
        Some(line[start..start + len].to_string())
    };
    let requests: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("gridmap_http_requests_total{"))
        .collect();
    let methods: BTreeSet<String> = requests.iter().filter_map(|l| label(l, "method")).collect();
    let routes: BTreeSet<String> = requests.iter().filter_map(|l| label(l, "route")).collect();
    let known = [
        "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "other",
    ];
    assert!(methods.contains("other"), "{methods:?}");
    assert!(methods.contains("GET"), "{methods:?}");
    assert!(
        methods.iter().all(|m| known.contains(&m.as_str())),
        "{methods:?}"
    );
    assert!(
        routes.iter().all(|r| !r.contains("/no/such")),
        "raw paths are no labels: {routes:?}"
    );
    assert!(requests.len() < 200, "{} series", requests.len());
    server.stop().await.expect("stop");
}

/// Short timeouts for the connection tests.
fn short_timeouts(config: &mut Config) {
    config.connections = ConnectionLimits {
        header_read_timeout: Duration::from_millis(800),
        idle_timeout: Duration::from_millis(1500),
        ..ConnectionLimits::default()
    };
}

#[tokio::test]
async fn half_sent_requests_and_idle_connections_are_closed() {
    let (_dir, server) = server_with(short_timeouts).await;

    // Half a request line, then nothing.
    let mut half = TcpStream::connect(server.addr).await.expect("connect");
    half.write_all(b"GET /hea").await.expect("write");
    let closed = closed_within(&mut half, Duration::from_secs(5)).await;
    let closed = closed.expect("a half-sent request is disconnected");
    assert!(closed >= Duration::from_millis(700), "{closed:?}");

    // A connection that never sends anything.
    let mut silent = TcpStream::connect(server.addr).await.expect("connect");
    assert!(closed_within(&mut silent, Duration::from_secs(5))
        .await
        .is_some());

    // A kept-alive connection is answered, then closed once idle for the idle timeout (not
    // the shorter header-read timeout).
    let mut idle = TcpStream::connect(server.addr).await.expect("connect");
    idle.write_all(b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .expect("write");
    let answer = read_some(&mut idle, Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let closed = closed_within(&mut idle, Duration::from_secs(6))
        .await
        .expect("an idle connection is closed");
    assert!(closed >= Duration::from_millis(1300), "{closed:?}");

    // A request sent slowly but within the header-read timeout is answered.
    let mut slow = TcpStream::connect(server.addr).await.expect("connect");
    for part in ["GET /health HTTP/1.1\r\n", "Host: t\r\n", "\r\n"] {
        slow.write_all(part.as_bytes()).await.expect("write");
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    let answer = read_some(&mut slow, Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    server.stop().await.expect("stop");
}

#[tokio::test]
async fn connections_over_the_cap_wait_for_a_free_place() {
    let (_dir, server) = server_with(|c| {
        c.connections = ConnectionLimits {
            max_connections: 2,
            ..ConnectionLimits::default()
        };
    })
    .await;
    let first = TcpStream::connect(server.addr).await.expect("connect");
    let _second = TcpStream::connect(server.addr).await.expect("connect");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut third = TcpStream::connect(server.addr).await.expect("connect");
    third
        .write_all(b"GET /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    let early = read_some(&mut third, Duration::from_millis(700)).await;
    assert_eq!(early, "", "the third connection must wait");
    drop(first);
    let answer = read_some(&mut third, Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    server.stop().await.expect("stop");
}

#[tokio::test]
async fn an_oversized_body_is_a_413_with_a_json_error() {
    let (_dir, server) = server_with(|_| {}).await;
    let token = common::token("410600", &[Role::Admin]);
    let mut stream = TcpStream::connect(server.addr).await.expect("connect");
    // A body announced too long is refused before it is sent (the client waits for the answer
    // to its head, as one sending `Expect: 100-continue` does).
    let head = format!(
        "POST /api/events HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        3 * 1024 * 1024
    );
    stream.write_all(head.as_bytes()).await.expect("write");
    let answer = read_some(&mut stream, Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    let body = &answer[answer.find("\r\n\r\n").expect("head end") + 4..];
    let error: Value = serde_json::from_str(body).expect("JSON error");
    assert_eq!(error["error"]["code"], "body_too_large", "{error}");

    let small = send(
        &server,
        "POST",
        "/api/events",
        &[("Authorization", &format!("Bearer {token}"))],
        Some(json!("not an event")),
    )
    .await;
    assert_eq!((small.status, small.code()), (400, "bad_json"));
    server.stop().await.expect("stop");
}

/// A token for the test secret holding exactly `claims`.
fn signed(claims: Value) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(common::SECRET.as_bytes()),
    )
    .expect("sign")
}

#[tokio::test]
async fn tokens_not_valid_yet_too_long_lived_or_without_roles_are_refused() {
    let (_dir, server) = server_with(|_| {}).await;
    let now = chrono::Utc::now().timestamp();
    let claims =
        json!({"sub": "t", "scope": "410600", "roles": ["admin"], "iat": now, "exp": now + 3600});
    let with = |key: &str, value: Value| {
        let mut c = claims.clone();
        c[key] = value;
        format!("Bearer {}", signed(c))
    };
    let path = "/api/areas/410611";
    assert_eq!(
        get(
            &server,
            path,
            &[("Authorization", &with("sub", json!("t")))]
        )
        .await
        .status,
        200
    );
    let early = get(
        &server,
        path,
        &[("Authorization", &with("nbf", json!(now + 600)))],
    )
    .await;
    assert_eq!((early.status, early.code()), (401, "unauthorized"));
    let ten_years = json!(now + 10 * 365 * 86_400);
    let far = get(&server, path, &[("Authorization", &with("exp", ten_years))]).await;
    assert_eq!(
        (far.status, far.code()),
        (401, "unauthorized"),
        "{}",
        far.text
    );

    let t = server
        .engine
        .snapshot()
        .area("410611")
        .and_then(|a| a.center)
        .and_then(|c| gridmap::tiles::TileId::containing(12, c.x(), c.y()).ok())
        .expect("a tile");
    let no_roles = with("roles", json!([]));
    for path in [
        "/api/areas/410611".to_string(),
        "/api/areas/410611/children".to_string(),
        "/api/lookup?lon=114.297&lat=35.748".to_string(),
        "/api/events".to_string(),
        "/tiles".to_string(),
        "/tiles/boundaries".to_string(),
        format!("/tiles/boundaries/{}/{}/{}.pbf", t.z, t.x, t.y),
        "/styles/dark".to_string(),
    ] {
        let answer = get(&server, &path, &[("Authorization", &no_roles)]).await;
        assert_eq!((answer.status, answer.code()), (403, "no_roles"), "{path}");
    }
    server.stop().await.expect("stop");
}

#[test]
fn gridmap_token_does_not_mint_what_the_server_refuses() {
    let token = |ttl: &str| {
        Command::new(env!("CARGO_BIN_EXE_gridmap"))
            .args([
                "token", "--scope", "410611", "--roles", "viewer", "--ttl", ttl,
            ])
            .env("GRIDMAP_JWT_SECRET", common::SECRET)
            .env_remove("GRIDMAP_CONFIG")
            .output()
            .expect("gridmap runs")
    };
    let year = token("365d");
    assert!(year.status.success(), "{year:?}");
    let too_long = token("366d");
    assert!(!too_long.status.success());
    let message = String::from_utf8_lossy(&too_long.stderr);
    assert!(message.contains("365 days"), "{message}");
}

#[tokio::test]
async fn forwarded_headers_are_believed_only_from_trusted_proxies() {
    let proxy = [
        ("X-Forwarded-Proto", "https"),
        ("X-Forwarded-Host", "maps.example.gov.cn"),
    ];
    let (_dir, direct) = server_with(|_| {}).await;
    let tilejson = get(&direct, "/tiles/boundaries", &proxy).await;
    assert_eq!(
        tilejson.json["tiles"][0],
        format!("{}/tiles/boundaries/{{z}}/{{x}}/{{y}}.pbf", direct.url()),
        "a client that is no proxy cannot choose the links"
    );
    direct.stop().await.expect("stop");

    let (_dir, behind) = server_with(|c| {
        c.trusted_proxies = TrustedProxies::parse(&["127.0.0.1/32".to_string()]).expect("proxies");
    })
    .await;
    let tilejson = get(&behind, "/tiles/boundaries", &proxy).await;
    assert_eq!(
        tilejson.json["tiles"][0],
        "https://maps.example.gov.cn/tiles/boundaries/{z}/{x}/{y}.pbf"
    );
    behind.stop().await.expect("stop");
}

#[tokio::test]
async fn a_malformed_tilejson_query_is_a_json_error() {
    let (_dir, server) = server_with(|_| {}).await;

    let answer = get(&server, "/tiles/boundaries?crs=a&crs=b", &[]).await;

    assert_eq!(answer.status, 400, "{}", answer.text);
    assert_eq!(answer.code(), "bad_query", "{}", answer.text);
    server.stop().await.expect("stop");
}
