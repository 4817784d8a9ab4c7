//! What the machine is doing: load average, who used the CPU during a run,
//! a process's peak memory, and a one-line description of the machine.
//! Everything is read from Linux's `/proc`; on other systems the readings
//! are empty and runs are never flagged.

use std::collections::HashMap;
use std::fs;
use std::time::Instant;

use crate::model::{Contention, CpuTime};

/// A run is flagged when processes outside the benchmark took more than
/// this share of the machine's CPU capacity during it.
pub const CONTENDED_SHARE: f64 = 0.10;

/// A run is also flagged when the hypervisor gave more than this share of
/// the machine's CPU capacity to other guests during it.
pub const STOLEN_SHARE: f64 = 0.05;

/// The machine's CPU time stolen by the hypervisor so far, in ticks (0
/// when unknown, or not a virtual machine).
fn stolen_ticks() -> u64 {
    fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|s| s.lines().next().and_then(parse_stolen))
        .unwrap_or(0)
}

/// The `steal` field of `/proc/stat`'s first line (`cpu user nice system
/// idle iowait irq softirq steal …`, in ticks).
fn parse_stolen(line: &str) -> Option<u64> {
    let mut fields = line.split_whitespace();
    if fields.next()? != "cpu" {
        return None;
    }
    fields.nth(7)?.parse().ok()
}

/// The 1-minute load average (0 when unknown).
#[must_use]
pub fn loadavg() -> f64 {
    fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0.0)
}

/// Logical CPUs.
#[must_use]
pub fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

/// Clock ticks per second of `/proc/*/stat` (`USER_HZ`, 100 on Linux).
const TICKS_PER_SECOND: f64 = 100.0;

/// One process's line of `/proc/<pid>/stat`, as far as we need it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ProcStat {
    comm: String,
    ppid: u32,
    /// utime + stime, in ticks.
    ticks: u64,
    /// cutime + cstime: the ticks of its ended children that it waited
    /// for (a postmaster's ended backends), in ticks.
    children_ticks: u64,
}

/// Parses `/proc/<pid>/stat`: `pid (comm) state ppid … utime stime …`; the
/// command may contain spaces and parentheses, so it ends at the last `)`.
fn parse_stat(line: &str) -> Option<ProcStat> {
    let open = line.find('(')?;
    let close = line.rfind(')')?;
    let comm = line.get(open + 1..close)?.to_string();
    let rest: Vec<&str> = line.get(close + 1..)?.split_whitespace().collect();
    // rest[0] is the state (field 3); utime and stime are fields 14 and 15.
    let ppid = rest.get(1)?.parse().ok()?;
    let utime: u64 = rest.get(11)?.parse().ok()?;
    let stime: u64 = rest.get(12)?.parse().ok()?;
    let cutime: u64 = rest.get(13)?.parse().ok()?;
    let cstime: u64 = rest.get(14)?.parse().ok()?;
    Some(ProcStat {
        comm,
        ppid,
        ticks: utime + stime,
        children_ticks: cutime + cstime,
    })
}

fn processes() -> HashMap<u32, ProcStat> {
    let mut out = HashMap::new();
    let Ok(dir) = fs::read_dir("/proc") else {
        return out;
    };
    for entry in dir.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
            continue;
        };
        if let Some(stat) = fs::read_to_string(entry.path().join("stat"))
            .ok()
            .and_then(|s| parse_stat(&s))
        {
            out.insert(pid, stat);
        }
    }
    out
}

/// Which processes belong to the benchmark.
#[derive(Debug, Clone, Default)]
pub struct Participants {
    /// Our own pids (this process, the server).
    pub pids: Vec<u32>,
}

impl Participants {
    /// This process plus `others`.
    #[must_use]
    pub fn with(others: impl IntoIterator<Item = u32>) -> Self {
        let mut pids = vec![std::process::id()];
        pids.extend(others);
        Self { pids }
    }

    /// Whether a process is part of the benchmark: one of ours, a database
    /// process or pgbench. Kernel threads (children of `kthreadd`) do the
    /// I/O the databases ask for, so they are not counted as others either.
    fn includes(&self, pid: u32, stat: &ProcStat) -> bool {
        self.pids.contains(&pid)
            || pid == 2
            || stat.ppid == 2
            || stat.comm == "postgres"
            || stat.comm == "pgbench"
    }
}

/// A snapshot taken when a run starts; [`CpuWatch::finish`] compares.
#[derive(Debug)]
pub struct CpuWatch {
    loadavg: f64,
    stolen: u64,
    at: Instant,
    before: HashMap<u32, ProcStat>,
    participants: Participants,
}

impl CpuWatch {
    /// Records the load average and every process's CPU time.
    #[must_use]
    pub fn start(participants: Participants) -> Self {
        Self {
            loadavg: loadavg(),
            stolen: stolen_ticks(),
            at: Instant::now(),
            before: processes(),
            participants,
        }
    }

    /// How much CPU the processes outside the benchmark took since
    /// [`CpuWatch::start`] (processes that started and ended in between
    /// are not seen).
    #[must_use]
    pub fn finish(self) -> Contention {
        let elapsed = self.at.elapsed().as_secs_f64();
        let after = processes();
        let mut other_ticks = 0u64;
        for (pid, stat) in &after {
            if self.participants.includes(*pid, stat) {
                continue;
            }
            let before = self
                .before
                .get(pid)
                .filter(|b| b.comm == stat.comm)
                .map_or(0, |b| b.ticks);
            other_ticks += stat.ticks.saturating_sub(before);
        }
        let capacity = elapsed * cpus() as f64 * TICKS_PER_SECOND;
        let of_capacity = |ticks: u64| {
            if capacity > 0.0 {
                ticks as f64 / capacity
            } else {
                0.0
            }
        };
        judge(
            self.loadavg,
            of_capacity(other_ticks),
            of_capacity(stolen_ticks().saturating_sub(self.stolen)),
        )
    }
}

/// A run's [`Contention`] from the shares of the machine's capacity that
/// other processes and other guests took: contended when either passes
/// its bound ([`CONTENDED_SHARE`], [`STOLEN_SHARE`]).
fn judge(loadavg_before: f64, other: f64, stolen: f64) -> Contention {
    Contention {
        loadavg_before,
        other_cpu_share: other,
        stolen_cpu_share: stolen,
        contended: other > CONTENDED_SHARE || stolen > STOLEN_SHARE,
    }
}

/// Whose CPU time a [`CpuWindow`] measures.
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuSubjects {
    /// The server under test (its SQLite work included).
    pub server: Option<u32>,
    /// The PostgreSQL cluster's postmaster: it, its processes (backends,
    /// WAL writer, checkpointer…) and its ended backends.
    pub postmaster: Option<u32>,
}

/// The cumulative CPU ticks of the subjects (and of this process, the
/// client, with the children it waited for, such as pgbench) at one moment.
#[derive(Debug, Clone, Copy, Default)]
struct CpuSample {
    server: u64,
    database: u64,
    client: u64,
}

fn sample(subjects: CpuSubjects) -> CpuSample {
    let all = processes();
    let own = |pid: u32| all.get(&pid).map_or(0, |p| p.ticks + p.children_ticks);
    let database = subjects.postmaster.map_or(0, |postmaster| {
        own(postmaster)
            + all
                .values()
                .filter(|p| p.ppid == postmaster)
                .map(|p| p.ticks)
                .sum::<u64>()
    });
    CpuSample {
        server: subjects
            .server
            .map_or(0, |pid| all.get(&pid).map_or(0, |p| p.ticks)),
        database,
        client: own(std::process::id()),
    }
}

fn seconds(ticks: u64) -> f64 {
    ticks as f64 / TICKS_PER_SECOND
}

/// Measures the CPU time the subjects spend in a window that opens after
/// a warm-up (when the measurement of requests opens) and closes at
/// [`CpuWindow::finish`]. Linux only: elsewhere every figure is zero.
#[derive(Debug)]
pub struct CpuWindow {
    subjects: CpuSubjects,
    opened: std::thread::JoinHandle<CpuSample>,
}

impl CpuWindow {
    /// Opens the window `warmup` from now (sampled on a thread of its own,
    /// so the caller may block or await meanwhile).
    #[must_use]
    pub fn after(warmup: std::time::Duration, subjects: CpuSubjects) -> Self {
        let opened = std::thread::spawn(move || {
            std::thread::sleep(warmup);
            sample(subjects)
        });
        Self { subjects, opened }
    }

    /// Closes the window: the CPU seconds each subject used in it.
    #[must_use]
    pub fn finish(self) -> CpuTime {
        let end = sample(self.subjects);
        let start = self.opened.join().unwrap_or_default();
        CpuTime {
            server_s: seconds(end.server.saturating_sub(start.server)),
            database_s: seconds(end.database.saturating_sub(start.database)),
            client_s: seconds(end.client.saturating_sub(start.client)),
        }
    }
}

/// A process's peak resident set size (`VmHWM`), in KiB.
#[must_use]
pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// CPU model, logical CPUs, memory and kernel, on one line.
#[must_use]
pub fn machine() -> String {
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown CPU", |(_, m)| m.trim())
        .to_string();
    let mem_gib = fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0 / 1024.0);
    let kernel = fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    format!(
        "{model}, {} logical CPUs, {mem_gib:.0} GiB RAM, Linux {kernel}",
        cpus()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_parse_with_odd_command_names() {
        let line =
            "4242 (tokio (rt) x) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 37 0 0 20 0 9 0 1000 0 0";
        let s = parse_stat(line);
        assert_eq!(
            s,
            Some(ProcStat {
                comm: "tokio (rt) x".into(),
                ppid: 1,
                ticks: 287,
                children_ticks: 0
            })
        );
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn database_and_kernel_processes_are_participants() {
        let p = Participants::with([77]);
        let stat = |comm: &str, ppid| ProcStat {
            comm: comm.into(),
            ppid,
            ticks: 0,
            children_ticks: 0,
        };
        assert!(p.includes(77, &stat("anything", 1)));
        assert!(p.includes(std::process::id(), &stat("x", 1)));
        assert!(p.includes(500, &stat("postgres", 400)));
        assert!(p.includes(501, &stat("kworker/0:1", 2)));
        assert!(!p.includes(502, &stat("cargo", 1)));
    }

    #[test]
    fn this_process_is_visible() {
        // On Linux the test's own memory is readable and non-zero.
        if cfg!(target_os = "linux") {
            assert!(peak_rss_kib(std::process::id()).is_some_and(|k| k > 0));
            assert!(machine().contains("logical CPUs"));
        }
    }

    #[test]
    fn stolen_time_is_the_eighth_number_of_the_cpu_line() {
        assert_eq!(
            parse_stolen("cpu  4932462 2717 1577668 8808563 91077 0 263132 71500 0 0"),
            Some(71_500)
        );
        // A kernel too old to report it, a per-CPU line, garbage: none.
        assert_eq!(parse_stolen("cpu  1 2 3 4 5 6 7"), None);
        assert_eq!(parse_stolen("cpu0 1 2 3 4 5 6 7 8 9 10"), None);
        assert_eq!(parse_stolen("cpu  1 2 3 4 5 6 7 x"), None);
    }

    #[test]
    fn either_share_past_its_bound_contends_the_run() {
        assert!(!judge(0.5, 0.0, 0.0).contended);
        assert!(!judge(0.5, CONTENDED_SHARE, STOLEN_SHARE).contended);
        assert!(judge(0.5, 0.11, 0.0).contended);
        // Stolen time alone: no process here took the CPU, yet the
        // machine was slow.
        let stolen = judge(0.5, 0.0, 0.06);
        assert!(stolen.contended);
        assert!((stolen.stolen_cpu_share - 0.06).abs() < 1e-12);
    }

    #[test]
    fn a_busy_outsider_is_flagged() {
        if !cfg!(target_os = "linux") {
            return;
        }
        // A child that spins is not a participant: its CPU time shows up.
        let watch = CpuWatch::start(Participants::with([]));
        let mut child = match std::process::Command::new("sh")
            .args(["-c", "i=0; while [ $i -lt 400000 ]; do i=$((i+1)); done"])
            .spawn()
        {
            Ok(c) => c,
            Err(_) => return,
        };
        // Sample while the child still exists (ended processes are not seen).
        std::thread::sleep(std::time::Duration::from_millis(700));
        let c = watch.finish();
        let _ = child.kill();
        let _ = child.wait();
        assert!(c.other_cpu_share > 0.05, "{c:?}");
    }

    #[test]
    fn a_window_charges_the_server_and_the_clients_children() {
        if !cfg!(target_os = "linux") {
            return;
        }
        let spin = "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done";
        // A spinning "server" is charged while the window is open.
        let mut server = std::process::Command::new("sh")
            .args(["-c", spin])
            .spawn()
            .unwrap();
        let window = CpuWindow::after(
            std::time::Duration::ZERO,
            CpuSubjects {
                server: Some(server.id()),
                postmaster: None,
            },
        );
        std::thread::sleep(std::time::Duration::from_millis(600));
        // A child of this process that ended and was waited for is the
        // client's (as pgbench is).
        let status = std::process::Command::new("sh")
            .args(["-c", spin])
            .status()
            .unwrap();
        assert!(status.success());
        let cpu = window.finish();
        let _ = server.kill();
        let _ = server.wait();
        assert!(cpu.server_s >= 0.2, "{cpu:?}");
        assert!(cpu.client_s >= 0.1, "{cpu:?}");
        assert!(cpu.database_s.abs() < f64::EPSILON, "{cpu:?}");
    }
}
