//! The `gridmap serve` a part measures: started from the release binary on a free port with the
//! benchmark's JWT secret, logging into `bench-out/workers/NAME.log`, ready once `/ready`
//! answers, stopped with SIGTERM.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use crate::common::process::status_kb;
use crate::Config;

/// How long a server may take to load the city.
const START_TIMEOUT: Duration = Duration::from_secs(600);

/// The store a server runs on.
#[derive(Debug, Clone, Copy)]
pub enum StoreArg {
    /// The bench database (`--database-url`).
    Postgis,
    /// The generated GeoPackage (`--data`).
    Gpkg,
}

/// A running `gridmap serve`.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    pub pid: u32,
    log: std::path::PathBuf,
}

impl Server {
    /// Starts the server and waits until it is ready.
    pub async fn start(config: &Config, store: StoreArg, name: &str) -> anyhow::Result<Server> {
        let port = free_port()?;
        let log = config.out_dir().join(format!("{name}.log"));
        let out = std::fs::File::create(&log)?;
        let mut command = Command::new(&config.bin);
        command
            .arg("serve")
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .env("GRIDMAP_JWT_SECRET", &config.secret)
            .env_remove("DATABASE_URL")
            .env_remove("GRIDMAP_DATA")
            .env_remove("GRIDMAP_CONFIG")
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out);
        match store {
            StoreArg::Postgis => command.arg("--database-url").arg(&config.db),
            StoreArg::Gpkg => command.arg("--data").arg(&config.gpkg),
        };
        let child = command
            .spawn()
            .with_context(|| format!("cannot start {}", config.bin.display()))?;
        let mut server = Server {
            pid: child.id(),
            child,
            url: format!("http://127.0.0.1:{port}"),
            log,
        };
        let started = Instant::now();
        server.wait_ready().await?;
        println!(
            "  gridmap serve ({name}) ready in {:.1} s, {:.0} MiB resident",
            started.elapsed().as_secs_f64(),
            server.rss_kb() as f64 / 1024.0
        );
        Ok(server)
    }

    async fn wait_ready(&mut self) -> anyhow::Result<()> {
        let http = reqwest::Client::new();
        let ready = format!("{}/ready", self.url);
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "gridmap serve exited ({status}) before it was ready; its log ({}):\n{}",
                    self.log.display(),
                    self.log_tail()
                );
            }
            if let Ok(answer) = http.get(&ready).send().await {
                if answer.status().is_success() {
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                bail!(
                    "gridmap serve was not ready after {START_TIMEOUT:?}; its log:\n{}",
                    self.log_tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// The server's resident set now, kB.
    pub fn rss_kb(&self) -> u64 {
        status_kb(self.pid, "VmRSS:")
    }

    /// The server's peak resident set so far, kB.
    pub fn hwm_kb(&self) -> u64 {
        status_kb(self.pid, "VmHWM:")
    }

    /// Stops the server (SIGTERM, then SIGKILL after 10 s) and waits for it.
    pub fn stop(mut self) {
        self.terminate();
    }

    fn terminate(&mut self) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid.to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    /// A failed run does not leave its server behind.
    fn drop(&mut self) {
        self.terminate();
    }
}

/// A port nothing listens on now (the kernel's choice for port 0).
fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}
