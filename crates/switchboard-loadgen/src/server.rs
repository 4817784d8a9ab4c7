//! The real `switchboard` binary as a child process: started on a free
//! port, timed until `/readyz` answers 200, stopped with SIGTERM.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use hyper::{Method, StatusCode};
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::process::{Child, Command};

use crate::load::call_once;

/// How a server is started.
#[derive(Debug, Clone)]
pub struct Launch {
    /// The `switchboard` binary.
    pub binary: PathBuf,
    /// `sqlite://…` or `postgres://…`.
    pub database_url: String,
    /// Where its log goes (appended).
    pub log: PathBuf,
    /// Extra `SWITCHBOARD_*` settings.
    pub env: Vec<(String, String)>,
}

impl Launch {
    /// The settings every benchmark server gets on top of the defaults:
    /// a rate limit that a load test does not hit, and webhook delivery to
    /// a loopback receiver without the per-target politeness limit.
    #[must_use]
    pub fn bench_env() -> Vec<(String, String)> {
        [
            ("SWITCHBOARD_API_RATE_LIMIT_PER_MINUTE", "100000000"),
            ("SWITCHBOARD_WEBHOOK_ALLOW_PRIVATE_TARGETS", "1"),
            ("SWITCHBOARD_WEBHOOK_PER_TARGET_RATE", "1000000"),
            ("SWITCHBOARD_LOG", "info"),
            // The benchmark's own throwaway databases: the fixed test key,
            // shared by the seeding store and the server.
            (
                "SWITCHBOARD_SECRETS_KEYS",
                switchboard_testsupport::SECRET_KEYS,
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }
}

/// A running server.
#[derive(Debug)]
pub struct ServerProcess {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its process id.
    pub pid: u32,
    /// From spawning the process to the first 200 from `/readyz`.
    pub ready: Duration,
}

/// Starts the server and waits until `/readyz` answers 200.
///
/// # Errors
///
/// When it cannot be spawned, exits, or is not ready within 30 seconds.
pub async fn start(launch: &Launch) -> anyhow::Result<ServerProcess> {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&launch.log)
        .with_context(|| format!("cannot open {}", launch.log.display()))?;
    let spawned = Instant::now();
    let mut child = Command::new(&launch.binary)
        .args(["serve", "--bind", "127.0.0.1:0", "--database-url"])
        .arg(&launch.database_url)
        .envs(launch.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot start {}", launch.binary.display()))?;
    let pid = child
        .id()
        .ok_or_else(|| anyhow!("the server exited at once"))?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| anyhow!("no stdout from the server"))?;
    let mut lines = BufReader::new(stdout).lines();
    let deadline = spawned + Duration::from_secs(30);
    let addr = loop {
        let line = tokio::time::timeout_at(deadline.into(), lines.next_line())
            .await
            .map_err(|_| anyhow!("the server printed no address within 30 s"))??
            .ok_or_else(|| {
                anyhow!(
                    "the server exited before listening (see {})",
                    launch.log.display()
                )
            })?;
        if let Some(url) = line.trim().strip_prefix("listening on http://") {
            break url
                .trim_end_matches('/')
                .parse::<SocketAddr>()
                .with_context(|| format!("bad address in {line:?}"))?;
        }
    };
    // Keep reading stdout into the log so the pipe never fills.
    let mut sink = tokio::fs::OpenOptions::new()
        .append(true)
        .open(&launch.log)
        .await?;
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            let _ = sink.write_all(line.as_bytes()).await;
            let _ = sink.write_all(b"\n").await;
        }
    });
    loop {
        if let Ok((StatusCode::OK, _)) = call_once(addr, None, Method::GET, "/readyz", None).await {
            break;
        }
        if Instant::now() > deadline {
            bail!("/readyz did not answer 200 within 30 s");
        }
        if let Some(status) = child.try_wait()? {
            bail!(
                "the server exited with {status} (see {})",
                launch.log.display()
            );
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    Ok(ServerProcess {
        child,
        addr,
        pid,
        ready: spawned.elapsed(),
    })
}

impl ServerProcess {
    /// Stops the server with SIGTERM (a graceful stop) and waits for it;
    /// kills it if it has not exited after 30 seconds.
    ///
    /// # Errors
    ///
    /// When it had to be killed or exited unsuccessfully.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status()
            .await;
        match tokio::time::timeout(Duration::from_secs(30), self.child.wait()).await {
            Ok(status) => {
                let status = status?;
                if !status.success() {
                    bail!("the server exited with {status}");
                }
                Ok(())
            }
            Err(_) => {
                let _ = self.child.kill().await;
                bail!("the server did not stop within 30 s of SIGTERM")
            }
        }
    }
}

/// The `switchboard` binary next to this executable (both are built into
/// the same `target/<profile>` directory).
#[must_use]
pub fn sibling_binary() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let dir: &Path = exe.parent()?;
    let candidate = dir.join("switchboard");
    candidate.is_file().then_some(candidate)
}
