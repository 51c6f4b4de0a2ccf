//! What the benchmark examples share (a module of each, not an example of its own).

/// CPU seconds (user + system) from a `/proc` stat file: `/proc/self/stat` for this process,
/// `/proc/thread-self/stat` for the calling thread (Linux; 0 elsewhere). Fields 14 and 15 of
/// the line (utime, stime, in clock ticks of 1/100 s) are 11 and 12 after the command name,
/// which is in parentheses and may hold spaces.
pub fn cpu_seconds(stat: &str) -> f64 {
    let line = std::fs::read_to_string(stat).unwrap_or_default();
    let after = line.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (tick(11) + tick(12)) / 100.0
}
