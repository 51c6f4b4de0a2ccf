//! Where the time of a read or write goes: with `EMBERS_IO_PROFILE` set, each phase of the text
//! and binary readers and of the native writer prints one line to stderr — wall time, the
//! process's user and system CPU time and minor page faults over the phase (from
//! `/proc/self/stat`, so in clock ticks, usually 10 ms; Linux only, zeros elsewhere), and the
//! `madvise` calls that gave input pages back. Off, a phase costs one relaxed load.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::Instant;

/// `madvise(DONTNEED)` calls made on mapped inputs (counted always; printed with the phases).
pub(crate) static RELEASES: AtomicUsize = AtomicUsize::new(0);

fn enabled() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("EMBERS_IO_PROFILE").is_some())
}

/// Counters of the process at one moment.
#[derive(Clone, Copy)]
struct Sample {
    at: Instant,
    user: f64,
    sys: f64,
    faults: u64,
    releases: usize,
}

fn sample() -> Sample {
    let (mut user, mut sys, mut faults) = (0.0, 0.0, 0);
    if let Ok(stat) = std::fs::read_to_string("/proc/self/stat") {
        // Fields after the command name (which is in parentheses and may hold spaces).
        if let Some(rest) = stat.rfind(')').map(|i| &stat[i + 2..]) {
            let f: Vec<&str> = rest.split(' ').collect();
            // state is field 3 of the full line, i.e. index 0 here; minflt 10, utime 14, stime 15.
            let num = |i: usize| {
                f.get(i - 3)
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(0)
            };
            faults = num(10);
            user = num(14) as f64 / 100.0;
            sys = num(15) as f64 / 100.0;
        }
    }
    Sample {
        at: Instant::now(),
        user,
        sys,
        faults,
        releases: RELEASES.load(Ordering::Relaxed),
    }
}

/// Phases of one read or write, printed as they end.
pub(crate) struct Phases {
    what: &'static str,
    last: Option<Sample>,
}

impl Phases {
    /// Starts timing the phases of `what` (e.g. "text read").
    pub(crate) fn start(what: &'static str) -> Self {
        Phases {
            what,
            last: enabled().then(sample),
        }
    }

    /// The phase `name` ends now.
    pub(crate) fn end(&mut self, name: &str) {
        let Some(last) = self.last else { return };
        let now = sample();
        eprintln!(
            "embers-io: {:<12} {:<22} {:8.1} ms wall {:6.2} s user {:6.2} s sys {:7} faults {:5} releases",
            self.what,
            name,
            now.at.duration_since(last.at).as_secs_f64() * 1e3,
            now.user - last.user,
            now.sys - last.sys,
            now.faults.saturating_sub(last.faults),
            now.releases - last.releases,
        );
        self.last = Some(sample());
    }
}
