//! What `/proc` says about a process: CPU time used so far and resident memory.
//!
//! CPU time is `utime + stime` of `/proc/PID/stat` (all threads, dead ones included), in clock
//! ticks converted with the system's `CLK_TCK`. RSS is `VmRSS` of `/proc/PID/status`.
//! Linux only; elsewhere every reading is `None` and the report says so.

use std::sync::OnceLock;
use std::time::Duration;

/// Clock ticks per second (`getconf CLK_TCK`; 100 when that cannot be asked).
fn ticks_per_second() -> u64 {
    static TICKS: OnceLock<u64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse::<u64>().ok())
            .filter(|t| *t > 0)
            .unwrap_or(100)
    })
}

/// CPU time (user + system) a process has used so far.
pub fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: count from after it.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state is field 3, so utime (14) and stime (15) are at 11 and 12 here.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    let ticks = utime + stime;
    Some(Duration::from_nanos(
        ticks.saturating_mul(1_000_000_000) / ticks_per_second(),
    ))
}

/// Resident set size in bytes.
pub fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// CPU times of several processes at one moment.
#[derive(Debug, Clone)]
pub struct CpuSnapshot(Vec<(String, Option<Duration>)>);

impl CpuSnapshot {
    pub fn take(procs: &[(String, u32)]) -> Self {
        Self(
            procs
                .iter()
                .map(|(name, pid)| (name.clone(), cpu_time(*pid)))
                .collect(),
        )
    }

    /// CPU used by each process between `self` and `later`, per `calls`, in µs.
    pub fn per_call_us(&self, later: &CpuSnapshot, calls: u64) -> Vec<(String, Option<f64>)> {
        self.0
            .iter()
            .zip(&later.0)
            .map(|((name, before), (_, after))| {
                let used = match (before, after) {
                    (Some(b), Some(a)) if calls > 0 => {
                        Some(a.saturating_sub(*b).as_secs_f64() * 1e6 / calls as f64)
                    }
                    _ => None,
                };
                (name.clone(), used)
            })
            .collect()
    }
}
