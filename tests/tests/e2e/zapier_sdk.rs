//! Zapier's own SDK against the real server: the integration in
//! `tests/zapier/` (built with `zapier-platform-core`) runs its connection
//! test, subscribes a REST hook, lists samples (through Zapier's trigger
//! checks, `triggerHasId` among them, for every event), takes a real
//! delivery through `perform`, and unsubscribes twice, against the server
//! on port 0, on each backend. `tests/zapier/driver.js` says what it checks.
//!
//! Needs node and npm. Without them the test fails when `CI` is set and
//! is skipped, loudly, otherwise. `npm ci` runs once into
//! `target/tmp/zapier/` and again only when `package-lock.json` changes.

use std::path::{Path, PathBuf};
use std::process::Command;

use switchboard_e2e::{TestApp, for_each_backend_with};

use crate::e2e::common::webhook_config;

/// The integration's files, copied beside the cached `node_modules`.
const FILES: [&str; 5] = [
    "package.json",
    "package-lock.json",
    "index.js",
    "events.js",
    "driver.js",
];

fn has(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The integration, installed with `npm ci` under `target/tmp/zapier`
/// (again only when the lock file changed); `None` when node or npm is
/// missing outside CI.
fn installed() -> Option<PathBuf> {
    if !has("node") || !has("npm") {
        assert!(
            std::env::var_os("CI").is_none(),
            "node and npm are needed for Zapier's SDK check (apt install nodejs npm)"
        );
        eprintln!(
            "SKIPPED: Zapier's SDK check needs node and npm (apt install nodejs npm); \
             CI fails without them"
        );
        return None;
    }
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("zapier");
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("zapier");
    std::fs::create_dir_all(&dir).unwrap();
    let lock = std::fs::read(source.join("package-lock.json")).unwrap();
    let stamp = dir.join("node_modules/.switchboard-lock");
    let fresh = std::fs::read(&stamp).is_ok_and(|s| s == lock);
    for file in FILES {
        std::fs::copy(source.join(file), dir.join(file)).unwrap();
    }
    if !fresh {
        let out = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "npm ci failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::write(&stamp, &lock).unwrap();
    }
    Some(dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zapier_sdk_runs_the_integration_against_the_server() {
    let Some(dir) = tokio::task::spawn_blocking(installed).await.unwrap() else {
        return;
    };
    for_each_backend_with(&webhook_config(), |app: TestApp| {
        let dir = dir.clone();
        async move {
            let base = app.base_url.clone();
            let key = app.key.clone();
            let out = tokio::process::Command::new("node")
                .arg("driver.js")
                .current_dir(&dir)
                .env("SWITCHBOARD_URL", base)
                .env("SWITCHBOARD_KEY", key)
                .kill_on_drop(true)
                .output();
            let out = tokio::time::timeout(std::time::Duration::from_secs(60), out)
                .await
                .expect("the Zapier driver finishes within a minute")
                .unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout);
            let stderr = String::from_utf8_lossy(&out.stderr);
            println!("{stdout}");
            assert!(
                out.status.success(),
                "Zapier's SDK rejected the server:\n{stdout}\n{stderr}"
            );
            assert!(stdout.contains("zapier: OK"), "{stdout}");
        }
    })
    .await;
}
