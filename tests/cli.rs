//! The binary as a new user runs it: `gridmap serve` with no arguments in an empty directory
//! (embedded store, sample city, printed URL and demo token), `gridmap token`, `gridmap --help`.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_gridmap");

#[test]
fn help_names_every_subcommand() {
    let out = Command::new(BIN)
        .arg("--help")
        .output()
        .expect("run gridmap --help");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for sub in ["serve", "generate", "import", "token"] {
        assert!(text.contains(sub), "--help lacks {sub}: {text}");
    }
}

#[test]
fn token_needs_a_secret_and_a_valid_scope() {
    let out = Command::new(BIN)
        .args(["token", "--scope", "410611", "--roles", "viewer"])
        .env_remove("GRIDMAP_JWT_SECRET")
        .env_remove("GRIDMAP_CONFIG")
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("GRIDMAP_JWT_SECRET"));

    let out = Command::new(BIN)
        .args(["token", "--scope", "4106x", "--roles", "viewer"])
        .env("GRIDMAP_JWT_SECRET", "s")
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a valid area code"));

    let out = Command::new(BIN)
        .args(["token", "--scope", "410611", "--roles", "viewer,boss"])
        .env("GRIDMAP_JWT_SECRET", "s")
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown role"));

    let out = Command::new(BIN)
        .args([
            "token",
            "--scope",
            "410611",
            "--roles",
            "viewer,analyst",
            "--ttl",
            "2h",
        ])
        .env("GRIDMAP_JWT_SECRET", "s")
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let p = gridmap::access::Auth::new("s")
        .verify(&token)
        .expect("valid token");
    assert_eq!(p.scope, "410611");
    assert_eq!(p.roles.len(), 2);
}

/// The README's run command, as a new user: no flags, an empty directory.
#[test]
fn serve_with_no_arguments_makes_the_sample_city_and_prints_a_token() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .current_dir(dir.path())
        .env_remove("DATABASE_URL")
        .env_remove("GRIDMAP_DATA")
        .env_remove("GRIDMAP_JWT_SECRET")
        .env_remove("GRIDMAP_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start gridmap serve");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut url = None;
    let mut token = None;
    let started = Instant::now();
    while token.is_none() {
        let line = rx
            .recv_timeout(Duration::from_secs(240).saturating_sub(started.elapsed()))
            .expect("gridmap serve printed its URL and token in time");
        if let Some(u) = line.strip_prefix("gridmap listening on ") {
            url = Some(u.trim_end_matches('/').to_string());
        } else if line.starts_with("eyJ") {
            token = Some(line);
        }
    }
    let url = url.expect("url printed before the token");
    let token = token.expect("token");
    assert!(dir.path().join("data/gridmap.gpkg").exists());

    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let client = reqwest::Client::new();
        let home = client.get(format!("{url}/")).send().await.expect("GET /");
        assert_eq!(home.status().as_u16(), 200);
        let resp = client
            .get(format!("{url}/api/areas/410600"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("GET area");
        assert_eq!(resp.status().as_u16(), 200);
        let body: serde_json::Value = resp.json().await.expect("json");
        assert_eq!(body["properties"]["name"], "鹤壁市");
    });

    // Graceful shutdown on SIGTERM.
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            assert!(status.success(), "exit status after SIGTERM: {status}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "gridmap did not stop after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
