//! Locating the PostgreSQL server binaries.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// Where [`bin_dir`] looks, for messages.
pub(crate) const SEARCHED: &str =
    "`pg_config --bindir`, /usr/lib/postgresql/*/bin, and the directory of `initdb` on PATH";

/// The directory holding the PostgreSQL server binaries (`initdb`, `pg_ctl`,
/// `postgres`, and normally also `psql`, `pg_isready` and `pgbench`).
///
/// Looks, in order, at `pg_config --bindir`, the newest
/// `/usr/lib/postgresql/<version>/bin`, and the (symlink-resolved) directory of
/// `initdb` found on `PATH`. A candidate only counts if it actually contains
/// the server binaries: Debian's `/usr/bin/pg_config` may belong to the client
/// package and point at a directory without them.
///
/// The result is computed once per process.
#[must_use]
pub fn bin_dir() -> Option<PathBuf> {
    static DIR: OnceLock<Option<PathBuf>> = OnceLock::new();
    DIR.get_or_init(find_bin_dir).clone()
}

fn find_bin_dir() -> Option<PathBuf> {
    from_pg_config()
        .filter(|dir| has_server_binaries(dir))
        .or_else(newest_debian_bin_dir)
        .or_else(from_path)
}

fn has_server_binaries(dir: &Path) -> bool {
    ["initdb", "pg_ctl", "postgres"]
        .iter()
        .all(|name| dir.join(name).is_file())
}

fn from_pg_config() -> Option<PathBuf> {
    let output = Command::new("pg_config")
        .arg("--bindir")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8(output.stdout).ok()?;
    let dir = text.trim();
    (!dir.is_empty()).then(|| PathBuf::from(dir))
}

fn newest_debian_bin_dir() -> Option<PathBuf> {
    let entries = std::fs::read_dir("/usr/lib/postgresql").ok()?;
    entries
        .filter_map(Result::ok)
        .map(|entry| entry.path().join("bin"))
        .filter(|dir| has_server_binaries(dir))
        .max_by_key(|dir| version_key(dir))
}

/// Sort key for `/usr/lib/postgresql/<version>/bin`: numeric version parts.
fn version_key(bin: &Path) -> Vec<u64> {
    bin.parent()
        .and_then(Path::file_name)
        .and_then(|name| name.to_str())
        .map(|name| {
            name.split('.')
                .map(|part| part.parse().unwrap_or(0))
                .collect()
        })
        .unwrap_or_default()
}

fn from_path() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("initdb"))
        .filter(|initdb| initdb.is_file())
        .filter_map(|initdb| std::fs::canonicalize(initdb).ok())
        .filter_map(|initdb| initdb.parent().map(Path::to_path_buf))
        .find(|dir| has_server_binaries(dir))
}

/// `dir/name` if that exists, else plain `name` (resolved through `PATH`).
pub(crate) fn tool(dir: Option<&Path>, name: &str) -> PathBuf {
    dir.map(|dir| dir.join(name))
        .filter(|path| path.is_file())
        .unwrap_or_else(|| PathBuf::from(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_sort_numerically() {
        let mut dirs = [
            PathBuf::from("/usr/lib/postgresql/9.6/bin"),
            PathBuf::from("/usr/lib/postgresql/15/bin"),
            PathBuf::from("/usr/lib/postgresql/10/bin"),
        ];
        dirs.sort_by_key(|dir| version_key(dir));
        assert_eq!(dirs[2], PathBuf::from("/usr/lib/postgresql/15/bin"));
        assert_eq!(dirs[0], PathBuf::from("/usr/lib/postgresql/9.6/bin"));
    }
}
