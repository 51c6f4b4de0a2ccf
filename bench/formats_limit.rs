//! The limit for loading a text embedding file on this machine: how fast the file can be read
//! from the page cache, and read + parsed into a fresh f32 matrix, on THREADS cores, with
//! nothing else done (no words kept, no checks, no output file).
//!
//! Each thread takes a contiguous share of the lines and `pread`s it in 4 MiB blocks into its
//! own buffer. "read" only counts the newlines; "read+parse" also parses every value after the
//! first field of a line into a newly allocated Vec<f32> (so its page faults are included), with
//! the same short-decimal fast path as embers (`-?D+.D+`, mantissa <= 2^24, one division) and
//! the standard library's parser for anything else.
//!
//! Standard library only: `rustc --edition 2021 -O -C target-cpu=native bench/formats_limit.rs -o FILE`, then
//! `FILE TEXT [THREADS] [RUNS]` (bench/formats.sh does this). Prints the wall time of each run,
//! the median, and the CPU seconds of all runs (from /proc/self/stat).

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::time::Instant;

const BLOCK: usize = 4 << 20;
const POW10: [f32; 11] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10];

#[inline]
fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t' || b == b'\r'
}

const POW10_U64: [u64; 8] = [1, 10, 100, 1000, 10_000, 100_000, 1_000_000, 10_000_000];

/// Digits at the start of 8 bytes and their value (as in embers' io/textvec.rs).
#[inline]
fn leading_digits(word: u64) -> (usize, u64) {
    const LOW: u64 = 0x0101_0101_0101_0101;
    let high = (word & (0xF0 * LOW)) ^ (0x30 * LOW);
    let plus6 = (word.wrapping_add(0x06 * LOW) & (0xF0 * LOW)) ^ (0x30 * LOW);
    let n = ((high | plus6).trailing_zeros() / 8) as usize;
    if n == 0 || n >= 8 {
        return (n.min(8), 0);
    }
    let digits = (word.wrapping_sub(0x30 * LOW) & (u64::MAX >> (8 * (8 - n)))) << (8 * (8 - n));
    let v = digits.wrapping_mul(10).wrapping_add(digits >> 8);
    const MASK: u64 = 0x0000_00FF_0000_00FF;
    let v = ((v & MASK)
        .wrapping_mul(0x000F_4240_0000_0064)
        .wrapping_add(((v >> 16) & MASK).wrapping_mul(0x0000_2710_0000_0001)))
        >> 32;
    (n, v)
}

#[inline]
fn parse_short(s: &[u8]) -> Option<(f32, usize)> {
    let neg = s.first() == Some(&b'-');
    let mut i = usize::from(neg);
    let mut m: u64 = 0;
    let int_start = i;
    while i < s.len() && s[i].is_ascii_digit() && i - int_start < 9 {
        m = m.wrapping_mul(10).wrapping_add(u64::from(s[i] - b'0'));
        i += 1;
    }
    if i == int_start {
        return None;
    }
    let mut frac = 0;
    if i < s.len() && s[i] == b'.' {
        i += 1;
        let f = i;
        if let Some(eight) = s.get(i..i + 8) {
            let (n, value) = leading_digits(u64::from_le_bytes(eight.try_into().unwrap()));
            if n < 8 {
                m = m * POW10_U64[n] + value;
                i += n;
            }
        }
        while i < s.len() && s[i].is_ascii_digit() && i - f < 11 {
            m = m.wrapping_mul(10).wrapping_add(u64::from(s[i] - b'0'));
            i += 1;
        }
        frac = i - f;
        if frac == 0 {
            return None;
        }
    }
    if (i < s.len() && !is_blank(s[i]) && s[i] != b'\n') || frac > 10 || m > 1 << 24 {
        return None;
    }
    let v = m as f32 / POW10[frac];
    Some((if neg { -v } else { v }, i))
}

#[inline]
fn parse(s: &[u8]) -> (f32, usize) {
    if let Some(r) = parse_short(s) {
        return r;
    }
    let end = s.iter().position(|&b| is_blank(b)).unwrap_or(s.len());
    let v = std::str::from_utf8(&s[..end])
        .ok()
        .and_then(|t| t.parse::<f32>().ok())
        .unwrap_or(f32::NAN);
    (v, end)
}

fn parse_line(line: &[u8], out: &mut Vec<f32>) {
    let Some(sp) = line.iter().position(|&b| b == b' ') else {
        return;
    };
    let mut pos = sp;
    while pos < line.len() {
        while pos < line.len() && is_blank(line[pos]) {
            pos += 1;
        }
        if pos == line.len() {
            break;
        }
        let (v, used) = parse(&line[pos..]);
        out.push(v);
        pos += used.max(1);
    }
}

/// Reads `[start, end)` of `file` (both line starts); returns (newlines, values parsed).
fn run_share(file: &File, start: u64, end: u64, parse_values: bool, dims_hint: usize) -> (usize, usize) {
    let mut buf = vec![0u8; BLOCK];
    let mut have = 0usize; // bytes of an unfinished line at the front of buf
    let mut at = start;
    let mut lines = 0;
    let mut out: Vec<f32> = Vec::new();
    if parse_values {
        // About as many values as the share holds (8 bytes a value is a lower bound for 5
        // significant digits); pushed into fresh memory.
        out.reserve(((end - start) as usize / 8).max(dims_hint));
    }
    while at < end {
        if have == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
        let want = (buf.len() - have).min((end - at) as usize);
        let got = file.read_at(&mut buf[have..have + want], at).expect("read");
        assert!(got > 0, "file shrank");
        at += got as u64;
        let filled = have + got;
        let last = at >= end;
        let data = &buf[..filled];
        let mut line_start = 0;
        if parse_values {
            let mut i = 0;
            while let Some(nl) = data[i..].iter().position(|&b| b == b'\n') {
                parse_line(&data[line_start..i + nl], &mut out);
                lines += 1;
                i += nl + 1;
                line_start = i;
            }
            if last && line_start < filled {
                parse_line(&data[line_start..filled], &mut out);
                line_start = filled;
            }
        } else {
            lines += data.iter().filter(|&&b| b == b'\n').count();
            line_start = filled;
        }
        buf.copy_within(line_start..filled, 0);
        have = filled - line_start;
    }
    (lines, out.len())
}

fn cpu_seconds() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let rest = stat.rfind(')').map_or("", |i| &stat[i + 2..]);
    let f: Vec<&str> = rest.split(' ').collect();
    let num = |i: usize| f.get(i - 3).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0) / 100.0;
    (num(14), num(15))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let path = args.get(1).expect("usage: formats_limit TEXT [THREADS] [RUNS]");
    let threads: usize = args.get(2).map_or(2, |t| t.parse().expect("THREADS"));
    let runs: usize = args.get(3).map_or(5, |t| t.parse().expect("RUNS"));
    let file = File::open(path).expect("open");
    let len = file.metadata().expect("metadata").len();
    // Share boundaries at line starts.
    let mut bounds = vec![0u64];
    for k in 1..threads {
        let mut at = len * k as u64 / threads as u64;
        let mut b = [0u8; 4096];
        loop {
            let got = file.read_at(&mut b, at).expect("read");
            if got == 0 {
                at = len;
                break;
            }
            if let Some(i) = b[..got].iter().position(|&c| c == b'\n') {
                at += i as u64 + 1;
                break;
            }
            at += got as u64;
        }
        bounds.push(at.max(*bounds.last().unwrap()));
    }
    bounds.push(len);
    for (label, parse_values) in [("read", false), ("read+parse", true)] {
        let (u0, s0) = cpu_seconds();
        let mut walls = Vec::new();
        let mut result = (0, 0);
        for _ in 0..runs {
            let t = Instant::now();
            let parts: Vec<(usize, usize)> = std::thread::scope(|s| {
                let handles: Vec<_> = bounds
                    .windows(2)
                    .map(|w| {
                        let file = &file;
                        let (a, b) = (w[0], w[1]);
                        s.spawn(move || run_share(file, a, b, parse_values, 1))
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).collect()
            });
            walls.push(t.elapsed().as_secs_f64());
            result = parts.iter().fold((0, 0), |a, p| (a.0 + p.0, a.1 + p.1));
        }
        let (u1, s1) = cpu_seconds();
        let mut sorted = walls.clone();
        sorted.sort_by(|a, b| a.partial_cmp(b).unwrap());
        println!(
            "limit {label:<10} {threads} threads: median {:.3} s wall (runs {}), {:.3} s user + {:.3} s sys a run; {} lines, {} values, {:.0} MB/s",
            sorted[runs / 2],
            walls.iter().map(|w| format!("{w:.3}")).collect::<Vec<_>>().join(" "),
            (u1 - u0) / runs as f64,
            (s1 - s0) / runs as f64,
            result.0,
            result.1,
            len as f64 / sorted[runs / 2] / 1e6
        );
    }
}
