//! `embers predict` and `embers test`: fastText supervised models (`.bin`, `.ftz`).

use std::io::{Read, Write};
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args as ClapArgs;
use embers::supervised::{Classifier, Prediction};

#[derive(ClapArgs)]
pub struct Args {
    /// Supervised fastText model (`.bin` or quantized `.ftz`).
    model: PathBuf,
    /// Lines to classify (each gets fastText's end-of-line token, as its Python `predict`).
    #[arg(conflicts_with = "file")]
    text: Vec<String>,
    /// Classify every line of a file (`-` for stdin), as `fasttext predict-prob` reads it.
    #[arg(long, short = 'f')]
    file: Option<PathBuf>,
    /// Labels per line.
    #[arg(short, long, default_value_t = 1)]
    k: usize,
    /// Only labels with at least this probability.
    #[arg(long, default_value_t = 0.0)]
    threshold: f32,
    /// One JSON object per line: {"labels": [...], "probs": [...]}.
    #[arg(long)]
    json: bool,
}

#[derive(ClapArgs)]
pub struct TestArgs {
    /// Supervised fastText model (`.bin` or quantized `.ftz`).
    model: PathBuf,
    /// Labelled lines (`__label__x ... text`), `-` for stdin.
    file: PathBuf,
    /// Predictions per line.
    #[arg(short, long, default_value_t = 1)]
    k: usize,
    /// Only predictions with at least this probability.
    #[arg(long, default_value_t = 0.0)]
    threshold: f32,
}

fn read_input(path: &PathBuf) -> Result<Vec<u8>> {
    if path.as_os_str() == "-" {
        let mut v = Vec::new();
        std::io::stdin().read_to_end(&mut v)?;
        Ok(v)
    } else {
        std::fs::read(path).with_context(|| format!("{}", path.display()))
    }
}

fn write_line(
    out: &mut impl Write,
    m: &Classifier,
    preds: &[Prediction],
    json: bool,
) -> Result<()> {
    if json {
        let labels: Vec<&str> = preds.iter().map(|p| m.label(p.label)).collect();
        let probs: Vec<f32> = preds.iter().map(|p| p.prob).collect();
        writeln!(
            out,
            "{}",
            serde_json::json!({ "labels": labels, "probs": probs })
        )?;
    } else {
        let mut first = true;
        for p in preds {
            if !first {
                out.write_all(b" ")?;
            }
            first = false;
            write!(out, "{} {}", m.label(p.label), p.prob)?;
        }
        out.write_all(b"\n")?;
    }
    Ok(())
}

pub fn run(a: Args) -> Result<()> {
    if a.k == 0 {
        anyhow::bail!("-k must be at least 1");
    }
    if a.file.is_none() && a.text.is_empty() {
        anyhow::bail!("give TEXT arguments or --file FILE");
    }
    let m = Classifier::read(&a.model)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if let Some(f) = &a.file {
        let data = read_input(f)?;
        for preds in m.predict_lines(&data, a.k, a.threshold) {
            write_line(&mut out, &m, &preds, a.json)?;
        }
    } else {
        for t in &a.text {
            let preds = m.predict(t, a.k, a.threshold);
            write_line(&mut out, &m, &preds, a.json)?;
        }
    }
    out.flush()?;
    Ok(())
}

pub fn test(a: TestArgs) -> Result<()> {
    if a.k == 0 {
        anyhow::bail!("-k must be at least 1");
    }
    let m = Classifier::read(&a.model)?;
    let data = read_input(&a.file)?;
    let r = m.test(&data, a.k, a.threshold);
    println!("N\t{}", r.n);
    println!("P@{}\t{}", a.k, sig3(r.precision()));
    println!("R@{}\t{}", a.k, sig3(r.recall()));
    Ok(())
}

/// A number as C++ streams print it with `setprecision(3)`: 3 significant digits, trailing
/// zeros dropped (what `fasttext test` prints).
fn sig3(x: f64) -> String {
    if !x.is_finite() {
        return if x.is_nan() {
            "nan".into()
        } else {
            x.to_string()
        };
    }
    if x == 0.0 {
        return "0".into();
    }
    let e = x.abs().log10().floor() as i32;
    if !(-5..3).contains(&e) {
        return format!("{x:.2e}");
    }
    let decimals = (2 - e).max(0) as usize;
    let mut t = format!("{x:.decimals$}");
    if t.contains('.') {
        t = t.trim_end_matches('0').trim_end_matches('.').to_string();
    }
    t
}
