//! A throwaway PostgreSQL cluster built from the machine's binaries.
//!
//! Layout of the cluster's root directory (`/tmp/switchboard-pg-<pid>-XXXXXX`):
//!
//! ```text
//! owner        "<test pid> <pid namespace>", used to sweep leftovers of dead processes
//! data/        the cluster (initdb)
//! sock/        unix socket directory
//! server.log   the server log
//! ```

use std::ffi::{OsStr, OsString};
use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::Error;
use crate::bin::tool;

/// Prefix of every cluster root directory this crate creates.
const ROOT_PREFIX: &str = "switchboard-pg-";

/// How long to wait for the server to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Server settings suited to throwaway test clusters (durability off).
const SETTINGS: &[(&str, &str)] = &[
    ("listen_addresses", "'127.0.0.1'"),
    ("fsync", "off"),
    ("synchronous_commit", "off"),
    ("full_page_writes", "off"),
    ("max_connections", "300"),
    ("shared_buffers", "128MB"),
];

/// Server settings with durable commits (PostgreSQL's defaults for the three
/// durability settings), for benchmarks that must pay what production pays.
const DURABLE_SETTINGS: &[(&str, &str)] = &[
    ("listen_addresses", "'127.0.0.1'"),
    ("fsync", "on"),
    ("synchronous_commit", "on"),
    ("full_page_writes", "on"),
    ("max_connections", "300"),
    ("shared_buffers", "128MB"),
];

/// What a primary that streams to a synchronous standby sets after
/// [`DURABLE_SETTINGS`] (durable commits: a commit is acknowledged once the
/// standby has flushed it): WAL for replication, and every connected
/// standby synchronous.
const REPLICATION_SETTINGS: &[(&str, &str)] = &[
    ("wal_level", "replica"),
    ("max_wal_senders", "5"),
    ("wal_keep_size", "'256MB'"),
    ("synchronous_standby_names", "'*'"),
];

/// A running throwaway cluster. Dropping it stops the server and deletes its files.
#[derive(Debug)]
pub(crate) struct LocalCluster {
    root: PathBuf,
    data: PathBuf,
    port: u16,
    pg_ctl: PathBuf,
    run_as: RunAs,
}

impl LocalCluster {
    /// Creates, configures and starts a cluster with the binaries in `bin`.
    pub(crate) fn start(bin: &Path) -> Result<Self, Error> {
        Self::start_with(bin, SETTINGS)
    }

    /// Like [`Self::start`], with durable commits (`fsync`,
    /// `synchronous_commit` and `full_page_writes` on).
    pub(crate) fn start_durable(bin: &Path) -> Result<Self, Error> {
        Self::start_with(bin, DURABLE_SETTINGS)
    }

    /// Like [`Self::start`], as the primary of a synchronous standby
    /// ([`Self::start_standby`]).
    pub(crate) fn start_primary(bin: &Path) -> Result<Self, Error> {
        let settings: Vec<_> = DURABLE_SETTINGS
            .iter()
            .chain(REPLICATION_SETTINGS)
            .copied()
            .collect();
        Self::start_with(bin, &settings)
    }

    /// A hot standby of `primary`, streaming from it: `pg_basebackup -R`
    /// into a new cluster directory, started on a port of its own.
    pub(crate) fn start_standby(bin: &Path, primary: &Self) -> Result<Self, Error> {
        let cluster = Self::create_root(bin)?;
        cluster.start_standby_inner(bin, primary)
    }

    fn start_standby_inner(mut self, bin: &Path, primary: &Self) -> Result<Self, Error> {
        let sock = self.create_socket_dir()?;
        let mut basebackup = self.run_as.command(
            &bin.join("pg_basebackup"),
            &[
                os("-d"),
                os(&format!(
                    "host=127.0.0.1 port={} user=postgres application_name=standby",
                    primary.port
                )),
                os("-D"),
                self.data.clone().into(),
                os("-R"),
                os("-X"),
                os("stream"),
                os("-c"),
                os("fast"),
            ],
            &self.root,
        );
        run(&mut basebackup)?;
        let sock_text = sock.to_string_lossy().replace('\'', "''");
        append(
            &self.data.join("postgresql.conf"),
            &format!(
                "\n# standby\nunix_socket_directories = '{sock_text}'\nhot_standby = on\n\
                 # once promoted, no standby of its own to wait for\n\
                 synchronous_standby_names = ''\n"
            ),
        )?;
        let log = self.log_file();
        self.port = free_port()?;
        let mut pg_ctl = self.start_command(&log);
        if let Err(error) = run(&mut pg_ctl) {
            return Err(Error::ServerStart {
                reason: error.to_string(),
                log: read_log(&log),
            });
        }
        self.wait_until_ready(bin, &log)?;
        Ok(self)
    }

    /// Promotes a standby to a primary; returns once it accepts writes.
    pub(crate) fn promote(&self) -> Result<(), Error> {
        let mut promote = self.run_as.command(
            &self.pg_ctl,
            &[
                os("-D"),
                self.data.clone().into(),
                os("-w"),
                os("-t"),
                os(&START_TIMEOUT.as_secs().to_string()),
                os("promote"),
            ],
            &self.root,
        );
        run(&mut promote).map(drop)
    }

    /// Stops the server at once (`pg_ctl stop -m immediate`); the files stay.
    pub(crate) fn stop(&self) {
        self.stop_server();
    }

    /// Starts a stopped server again on its port.
    pub(crate) fn restart(&self, bin: &Path) -> Result<(), Error> {
        let log = self.log_file();
        let mut pg_ctl = self.start_command(&log);
        run(&mut pg_ctl)?;
        self.wait_until_ready(bin, &log)
    }

    /// `kill -9` of the postmaster and every process it started: the
    /// server dies as in a machine crash of the database process (the
    /// files stay; the server is not restarted).
    pub(crate) fn kill9(&self) -> Result<(), Error> {
        let pid_file = self.data.join("postmaster.pid");
        let text = std::fs::read_to_string(&pid_file)
            .map_err(|e| Error::io(format!("reading {}", pid_file.display()), e))?;
        let Some(pid) = text
            .lines()
            .next()
            .and_then(|l| l.trim().parse::<u32>().ok())
        else {
            return Err(Error::io(
                format!("parsing {}", pid_file.display()),
                std::io::Error::other("no pid on the first line"),
            ));
        };
        // The postmaster first, so that it cannot start new children; then
        // the children it left.
        let children = children_of(pid);
        let mut kill = Command::new("kill");
        kill.arg("-9").arg(pid.to_string());
        for child in &children {
            kill.arg(child.to_string());
        }
        let _ = quiet(&mut kill).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::iter::once(pid)
            .chain(children.iter().copied())
            .any(|p| Path::new(&format!("/proc/{p}")).exists() && !is_zombie(p))
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    fn start_with(bin: &Path, settings: &[(&str, &str)]) -> Result<Self, Error> {
        let cluster = Self::create_root(bin)?;
        cluster.start_inner(bin, settings)
    }

    /// A new root directory with its owner file and watchdog; nothing started.
    fn create_root(bin: &Path) -> Result<Self, Error> {
        let run_as = RunAs::detect()?;
        sweep_stale_clusters(bin, &run_as);

        let base = if Path::new("/tmp").is_dir() {
            PathBuf::from("/tmp")
        } else {
            std::env::temp_dir()
        };
        let pid = std::process::id();
        let root = tempfile::Builder::new()
            .prefix(&format!("{ROOT_PREFIX}{pid}-"))
            .tempdir_in(&base)
            .map_err(|e| {
                Error::io(
                    format!("creating a temporary directory in {}", base.display()),
                    e,
                )
            })?
            .keep();

        let cluster = Self {
            data: root.join("data"),
            root,
            port: 0,
            pg_ctl: bin.join("pg_ctl"),
            run_as,
        };
        // From here on `cluster` is dropped (stopped + deleted) on every error path,
        // and the watchdog covers the test process dying abruptly.
        cluster.write_owner_file()?;
        cluster.spawn_watchdog()?;
        Ok(cluster)
    }

    fn start_inner(mut self, bin: &Path, settings: &[(&str, &str)]) -> Result<Self, Error> {
        let sock = self.create_socket_dir()?;

        let mut initdb = self.run_as.command(
            &bin.join("initdb"),
            &[
                os("-D"),
                self.data.clone().into(),
                os("-A"),
                os("trust"),
                os("-U"),
                os("postgres"),
                os("--no-sync"),
                os("-E"),
                os("UTF8"),
                os("--locale=C"),
            ],
            &self.root,
        );
        run(&mut initdb)?;

        let mut config = String::from("\n# switchboard-testsupport: throwaway test cluster\n");
        for (name, value) in settings {
            let _ = writeln!(config, "{name} = {value}");
        }
        let sock_text = sock.to_string_lossy().replace('\'', "''");
        let _ = writeln!(config, "unix_socket_directories = '{sock_text}'");
        let conf = self.data.join("postgresql.conf");
        append(&conf, &config)?;

        let log = self.log_file();
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.port = free_port()?;
            let mut pg_ctl = self.start_command(&log);
            match run(&mut pg_ctl) {
                Ok(_) => break,
                Err(error) => {
                    let log_text = read_log(&log);
                    // Another process may have grabbed the port between our probe and
                    // the server's bind; try again on a fresh port.
                    let port_taken = log_text.contains("could not bind")
                        || log_text.contains("Address already in use");
                    if port_taken && attempt < 3 {
                        self.stop_server();
                        continue;
                    }
                    return Err(Error::ServerStart {
                        reason: error.to_string(),
                        log: log_text,
                    });
                }
            }
        }

        self.wait_until_ready(bin, &log)?;
        Ok(self)
    }

    /// The socket directory below the root, owned by the server's user.
    fn create_socket_dir(&self) -> Result<PathBuf, Error> {
        let sock = self.root.join("sock");
        std::fs::create_dir(&sock)
            .map_err(|e| Error::io(format!("creating {}", sock.display()), e))?;
        if let RunAs::Postgres(_) = self.run_as {
            let mut chown = Command::new("chown");
            chown.arg("-R").arg("postgres").arg(&self.root);
            run(&mut chown)?;
        }
        Ok(sock)
    }

    /// `pg_ctl start` on the cluster's port, logging to `log`, waiting
    /// until the server is up.
    fn start_command(&self, log: &Path) -> Command {
        self.run_as.command(
            &self.pg_ctl,
            &[
                os("-D"),
                self.data.clone().into(),
                os("-l"),
                log.into(),
                os("-w"),
                os("-t"),
                os(&START_TIMEOUT.as_secs().to_string()),
                os("-o"),
                os(&format!("-p {}", self.port)),
                os("start"),
            ],
            &self.root,
        )
    }

    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    /// The server log (`server.log` below the root).
    pub(crate) fn log_file(&self) -> PathBuf {
        self.root.join("server.log")
    }

    /// The data directory (`PGDATA`).
    pub(crate) fn data_dir(&self) -> &Path {
        &self.data
    }

    fn wait_until_ready(&self, bin: &Path, log: &Path) -> Result<(), Error> {
        let deadline = Instant::now() + START_TIMEOUT;
        let pg_isready = tool(Some(bin), "pg_isready");
        loop {
            let ready = match Command::new(&pg_isready)
                .args([
                    "-q",
                    "-h",
                    "127.0.0.1",
                    "-U",
                    "postgres",
                    "-d",
                    "postgres",
                    "-t",
                    "2",
                ])
                .arg("-p")
                .arg(self.port.to_string())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
            {
                Ok(status) => status.success(),
                // No pg_isready: settle for the TCP port accepting connections.
                Err(_) => TcpStream::connect_timeout(
                    &SocketAddr::from((Ipv4Addr::LOCALHOST, self.port)),
                    Duration::from_secs(1),
                )
                .is_ok(),
            };
            if ready {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(Error::ServerStart {
                    reason: format!(
                        "not accepting connections on 127.0.0.1:{} after {} s",
                        self.port,
                        START_TIMEOUT.as_secs()
                    ),
                    log: read_log(log),
                });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn write_owner_file(&self) -> Result<(), Error> {
        let owner = self.root.join("owner");
        let contents = format!("{} {}\n", std::process::id(), pid_namespace());
        std::fs::write(&owner, contents)
            .map_err(|e| Error::io(format!("writing {}", owner.display()), e))
    }

    /// Spawns a detached shell that waits for this process to exit (or for the
    /// cluster directory to disappear), then stops the server and deletes it.
    fn spawn_watchdog(&self) -> Result<(), Error> {
        let root = shell_quote(self.root.as_os_str());
        let stop = self
            .run_as
            .shell_line(&self.pg_ctl, &self.stop_args(), &self.root);
        let script = format!(
            "trap '' INT TERM HUP QUIT\n\
             cd /\n\
             while kill -0 {pid} 2>/dev/null && [ -d {root} ]; do sleep 0.5 2>/dev/null || sleep 1; done\n\
             if [ -d {root} ]; then {stop} >/dev/null 2>&1; rm -rf {root}; fi\n",
            pid = std::process::id(),
        );
        // The launcher backgrounds the watchdog (in its own session when `setsid`
        // exists) and exits at once, so the watchdog is reparented away from us:
        // no zombie, and no terminal signal aimed at our process group reaches it.
        let launcher = "if command -v setsid >/dev/null 2>&1; \
                        then setsid sh -c \"$1\" </dev/null >/dev/null 2>&1 & \
                        else sh -c \"$1\" </dev/null >/dev/null 2>&1 & fi";
        let mut sh = Command::new("sh");
        sh.args(["-c", launcher, "sh", &script]);
        run(&mut sh).map(drop)
    }

    fn stop_args(&self) -> Vec<OsString> {
        vec![
            os("-D"),
            self.data.clone().into(),
            os("stop"),
            os("-m"),
            os("immediate"),
            os("-w"),
        ]
    }

    /// Stops the server immediately, ignoring errors (it may not be running).
    fn stop_server(&self) {
        if self.data.join("postmaster.pid").exists() {
            let mut stop = self
                .run_as
                .command(&self.pg_ctl, &self.stop_args(), &self.root);
            let _ = quiet(&mut stop).status();
        }
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        self.stop_server();
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// Which OS user runs `initdb`/`pg_ctl`: they refuse to run as root, so root
/// delegates to the `postgres` user.
#[derive(Debug, Clone)]
enum RunAs {
    Me,
    Postgres(Switcher),
}

#[derive(Debug, Clone)]
enum Switcher {
    /// `runuser -u postgres -- cmd ...`
    Runuser(PathBuf),
    /// `su postgres -s /bin/sh -c '...'`
    Su,
}

impl RunAs {
    fn detect() -> Result<Self, Error> {
        if !effective_uid_is_root()? {
            return Ok(Self::Me);
        }
        let runuser = [
            "/usr/sbin/runuser",
            "/sbin/runuser",
            "/usr/bin/runuser",
            "/bin/runuser",
        ]
        .iter()
        .map(PathBuf::from)
        .find(|path| path.is_file());
        Ok(Self::Postgres(match runuser {
            Some(path) => Switcher::Runuser(path),
            None => Switcher::Su,
        }))
    }

    /// The full argv running `program args` as the right user, in `cwd`.
    fn argv(&self, program: &Path, args: &[OsString], cwd: &Path) -> Vec<OsString> {
        let direct = std::iter::once(program.as_os_str().to_owned()).chain(args.iter().cloned());
        match self {
            Self::Me => direct.collect(),
            Self::Postgres(Switcher::Runuser(runuser)) => {
                let mut argv = vec![runuser.clone().into(), os("-u"), os("postgres"), os("--")];
                argv.extend(direct);
                argv
            }
            Self::Postgres(Switcher::Su) => {
                let mut script = format!("cd {} && exec", shell_quote(cwd.as_os_str()));
                for arg in direct {
                    script.push(' ');
                    script.push_str(&shell_quote(&arg));
                }
                vec![
                    os("su"),
                    os("postgres"),
                    os("-s"),
                    os("/bin/sh"),
                    os("-c"),
                    script.into(),
                ]
            }
        }
    }

    fn command(&self, program: &Path, args: &[OsString], cwd: &Path) -> Command {
        let argv = self.argv(program, args, cwd);
        let mut command = Command::new(&argv[0]);
        command.args(&argv[1..]).current_dir(cwd);
        command
    }

    fn shell_line(&self, program: &Path, args: &[OsString], cwd: &Path) -> String {
        self.argv(program, args, cwd)
            .iter()
            .map(|arg| shell_quote(arg))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

fn effective_uid_is_root() -> Result<bool, Error> {
    if let Ok(status) = std::fs::read_to_string("/proc/self/status")
        && let Some(euid) = parse_effective_uid(&status)
    {
        return Ok(euid == 0);
    }
    let mut id = Command::new("id");
    id.arg("-u");
    let output = run(&mut id)?;
    Ok(String::from_utf8_lossy(&output.stdout).trim() == "0")
}

/// The effective uid from the `Uid:` line of `/proc/self/status`
/// (`Uid: real effective saved fs`).
fn parse_effective_uid(status: &str) -> Option<u32> {
    status
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Identifies this process's PID namespace, so a sweep never judges the
/// liveness of another namespace's processes.
fn pid_namespace() -> String {
    std::fs::read_link("/proc/self/ns/pid")
        .map(|link| link.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Best-effort removal of clusters whose test process is gone (e.g. the
/// watchdog itself was killed). Only judges directories from this PID
/// namespace, and only where `/proc` lets us check liveness.
fn sweep_stale_clusters(bin: &Path, run_as: &RunAs) {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let our_namespace = pid_namespace();
    let Ok(entries) = std::fs::read_dir("/tmp") else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        if !entry.file_name().to_string_lossy().starts_with(ROOT_PREFIX) {
            continue;
        }
        let root = entry.path();
        let Ok(owner) = std::fs::read_to_string(root.join("owner")) else {
            continue;
        };
        let mut fields = owner.split_whitespace();
        let Some(pid) = fields.next().and_then(|pid| pid.parse::<u32>().ok()) else {
            continue;
        };
        let namespace = fields.next().unwrap_or_default();
        if namespace != our_namespace || Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        let data = root.join("data");
        if data.join("postmaster.pid").exists() {
            let args = [
                os("-D"),
                data.into(),
                os("stop"),
                os("-m"),
                os("immediate"),
                os("-w"),
            ];
            let mut stop = run_as.command(&bin.join("pg_ctl"), &args, &root);
            let _ = quiet(&mut stop).status();
        }
        let _ = std::fs::remove_dir_all(&root);
    }
}

/// The processes whose parent is `pid` (from `/proc`).
fn children_of(pid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_string_lossy().parse::<u32>().ok())
        .filter(|child| {
            std::fs::read_to_string(format!("/proc/{child}/stat"))
                .ok()
                .and_then(|stat| parent_in_stat(&stat))
                == Some(pid)
        })
        .collect()
}

/// The parent pid in a `/proc/PID/stat` line (`pid (comm) state ppid …`;
/// `comm` may hold spaces and parentheses, so read after the last `)`).
fn parent_in_stat(stat: &str) -> Option<u32> {
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(1)?.parse().ok()
}

fn is_zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let (_, rest) = stat.rsplit_once(')')?;
            rest.split_whitespace().next().map(|s| s == "Z")
        })
        .unwrap_or(true)
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
fn free_port() -> Result<u16, Error> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(|e| Error::io("binding 127.0.0.1:0 to pick a free port", e))?;
    let port = listener
        .local_addr()
        .map_err(|e| Error::io("reading the picked port", e))?
        .port();
    Ok(port)
}

fn append(path: &Path, text: &str) -> Result<(), Error> {
    use std::io::Write as _;
    std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .and_then(|mut file| file.write_all(text.as_bytes()))
        .map_err(|e| Error::io(format!("appending to {}", path.display()), e))
}

fn read_log(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| format!("<could not read {}: {e}>", path.display()))
}

fn os(text: &str) -> OsString {
    OsString::from(text)
}

fn quiet(command: &mut Command) -> &mut Command {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
}

/// Runs `command` to completion, turning a failure into an [`Error`] that
/// carries the command line and its output.
pub(crate) fn run(command: &mut Command) -> Result<Output, Error> {
    let line = describe(command);
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::io(format!("running `{line}`"), e))?;
    if output.status.success() {
        return Ok(output);
    }
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    Err(Error::Command {
        command: line,
        status: output.status.to_string(),
        output: text,
    })
}

fn describe(command: &Command) -> String {
    std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(|arg| arg.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Quotes `text` for a POSIX shell.
fn shell_quote(text: &OsStr) -> String {
    format!("'{}'", text.to_string_lossy().replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parent_pid_is_read_after_the_command_name() {
        assert_eq!(parent_in_stat("42 (post gres) S 7 42 42 0"), Some(7));
        assert_eq!(parent_in_stat("42 (a) b) S 9 1"), Some(9));
        assert_eq!(parent_in_stat("garbage"), None);
    }

    #[test]
    fn effective_uid_is_the_second_field() {
        let status = "Name:\tx\nUid:\t1000\t0\t1000\t1000\nGid:\t5\t5\t5\t5\n";
        assert_eq!(parse_effective_uid(status), Some(0));
        assert_eq!(parse_effective_uid("Name:\tx\n"), None);
    }

    #[test]
    fn shell_quoting_survives_single_quotes() {
        assert_eq!(shell_quote(OsStr::new("a b")), "'a b'");
        assert_eq!(shell_quote(OsStr::new("it's")), r"'it'\''s'");
    }

    #[test]
    fn su_wraps_the_command_in_a_quoted_script() {
        let argv = RunAs::Postgres(Switcher::Su).argv(
            Path::new("/bin/pg_ctl"),
            &[os("-D"), os("/tmp/x y")],
            Path::new("/tmp"),
        );
        assert_eq!(
            argv[..5],
            [os("su"), os("postgres"), os("-s"), os("/bin/sh"), os("-c")]
        );
        assert_eq!(
            argv[5],
            os("cd '/tmp' && exec '/bin/pg_ctl' '-D' '/tmp/x y'")
        );
    }
}
