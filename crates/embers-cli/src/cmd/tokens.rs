//! `embers tokens`: the input embedding layer of a Hugging Face model folder — tokens, ids, type
//! ids and per-token vectors for a text (or every line of a file), and export of the model's
//! token embedding matrix with its vocabulary to the native format.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::{Args as ClapArgs, ValueEnum};
use embers::transformer::{InputEmbeddings, PositionMode, TokenEncoding, Truncation};
use embers::DenseMatrix;

#[derive(ClapArgs)]
pub struct Args {
    /// Hugging Face model folder (config.json, tokenizer.json, model.safetensors).
    #[arg(long)]
    model: PathBuf,
    /// Text to tokenize and embed.
    text: Option<String>,
    /// Second segment (sentence pair: type ids 1 in BERT-style models).
    #[arg(long)]
    pair: Option<String>,
    /// Embed every line of this file (plain or .gz) instead of one text.
    #[arg(long, conflicts_with_all = ["text", "pair"])]
    file: Option<PathBuf>,
    /// With --file: a tab splits each line into the text and its pair.
    #[arg(long, requires = "file")]
    tab_pairs: bool,
    /// With --file: only the first N lines.
    #[arg(long, requires = "file")]
    limit: Option<usize>,
    /// One JSON object per input: {"text", "tokens", "ids", "type_ids", "embeddings"}.
    #[arg(long)]
    json: bool,
    /// Write the vectors (all inputs' rows, in order) to a float32 .npy file; stdout then lists
    /// tokens and each input's row range instead of the vectors.
    #[arg(long, value_name = "OUT")]
    npy: Option<PathBuf>,
    /// Only print totals and speed (lines, tokens, tokens/s); the vectors are still computed.
    #[arg(long, conflicts_with_all = ["json", "npy"])]
    stats: bool,
    /// Apply the padding tokenizer.json configures (off by default).
    #[arg(long)]
    pad: bool,
    /// How text longer than the model's positions is handled: as tokenizer.json says (too long
    /// is an error if it does not cut), cut to the model's length, or never cut (an error).
    #[arg(long, value_enum, default_value_t = TruncateArg::Configured)]
    truncate: TruncateArg,
    /// Position part of the layer: the model's own, or the original Transformer's fixed
    /// sinusoids (optionally with token rows scaled by sqrt(hidden)).
    #[arg(long, value_enum, default_value_t = PositionsArg::Model)]
    positions: PositionsArg,
    /// Worker threads for --file (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Export the model's token embedding matrix and vocabulary to this native embers file
    /// (queryable with `embers similar`), instead of embedding text.
    #[arg(long, value_name = "OUT", conflicts_with_all = ["text", "pair", "file", "npy", "stats"])]
    export_vocab: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
enum TruncateArg {
    Configured,
    Model,
    Off,
}

#[derive(Clone, Copy, ValueEnum)]
enum PositionsArg {
    Model,
    Sinusoidal,
    SinusoidalScaled,
}

pub fn run(a: Args, progress: crate::progress::Mode) -> Result<()> {
    if let Some(out) = &a.export_vocab {
        let emb = embers::transformer::export_vocab(&a.model, out)?;
        let m = emb.metadata();
        let line = serde_json::json!({
            "output": out.display().to_string(),
            "rows": emb.len(),
            "dims": emb.dims(),
            "tensor": m.get("source.tensor"),
            "dtype": m.get("source.dtype"),
        });
        if a.json {
            println!("{line}");
        } else {
            println!(
                "wrote {} token rows × {} dims from {} ({}) to {}",
                emb.len(),
                emb.dims(),
                m.get("source.tensor").map(String::as_str).unwrap_or("?"),
                m.get("source.dtype").map(String::as_str).unwrap_or("?"),
                out.display()
            );
        }
        return Ok(());
    }
    let mut model = InputEmbeddings::from_dir(&a.model)?;
    model.set_padding(a.pad)?;
    model.set_truncation(match a.truncate {
        TruncateArg::Configured => Truncation::AsConfigured,
        TruncateArg::Model => Truncation::ToModel,
        TruncateArg::Off => Truncation::Off,
    })?;
    model.set_positions(match a.positions {
        PositionsArg::Model => PositionMode::Model,
        PositionsArg::Sinusoidal => PositionMode::Sinusoidal { scale: false },
        PositionsArg::SinusoidalScaled => PositionMode::Sinusoidal { scale: true },
    });
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut npy_rows: Vec<f32> = Vec::new();
    let mut npy_count = 0usize;

    if let Some(file) = &a.file {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(a.threads.unwrap_or(0))
            .build()?;
        let start = Instant::now();
        let reporter = crate::progress::Reporter::new(progress, "tokens");
        let mut reader = LineReader::open(file, a.limit)?;
        let mut tokens = 0usize;
        let mut chunk = Vec::new();
        // Lines in flight at once: enough to keep every thread busy, few enough that memory
        // stays flat however long the file is.
        const BATCH: usize = 256;
        loop {
            let first = reader.read(&mut chunk, BATCH)?;
            if chunk.is_empty() {
                break;
            }
            let inputs: Vec<(&str, Option<&str>)> = chunk
                .iter()
                .map(|l| match l.split_once('\t') {
                    Some((t, p)) if a.tab_pairs => (t, Some(p)),
                    _ => (l.as_str(), None),
                })
                .collect();
            let results = pool.install(|| model.embed_pairs(&inputs));
            let mut p = embers::progress::Progress::new(
                "tokens",
                reader.lines_read as u64,
                a.limit.map(|l| l as u64),
                "lines",
            );
            p.rate = Some(reader.lines_read as f64 / start.elapsed().as_secs_f64());
            reporter.report(&p);
            for (k, (&(line, pair), r)) in inputs.iter().zip(results).enumerate() {
                let (enc, m) =
                    r.with_context(|| format!("{}: line {}", file.display(), first + k))?;
                tokens += enc.len();
                if a.stats {
                    continue;
                }
                emit(
                    &mut out,
                    &a,
                    &model,
                    line,
                    pair,
                    &enc,
                    &m,
                    &mut npy_rows,
                    &mut npy_count,
                )?;
            }
        }
        reporter.finish();
        if a.stats {
            let secs = start.elapsed().as_secs_f64();
            let threads = pool.current_num_threads();
            writeln!(
                out,
                "{}",
                serde_json::json!({
                    "lines": reader.lines_read,
                    "tokens": tokens,
                    "seconds": secs,
                    "tokens_per_second": tokens as f64 / secs,
                    "threads": threads,
                })
            )?;
        }
    } else {
        let Some(text) = &a.text else {
            bail!("give a text, --file LINES or --export-vocab OUT");
        };
        let (enc, m) = model.embed_text(text, a.pair.as_deref())?;
        if a.stats {
            writeln!(
                out,
                "{}",
                serde_json::json!({"lines": 1, "tokens": enc.len()})
            )?;
        } else {
            emit(
                &mut out,
                &a,
                &model,
                text,
                a.pair.as_deref(),
                &enc,
                &m,
                &mut npy_rows,
                &mut npy_count,
            )?;
        }
    }
    if let Some(path) = &a.npy {
        write_npy(path, npy_count, model.hidden_size(), &npy_rows)?;
    }
    out.flush()?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn emit(
    out: &mut impl Write,
    a: &Args,
    model: &InputEmbeddings,
    text: &str,
    pair: Option<&str>,
    enc: &TokenEncoding,
    m: &DenseMatrix,
    npy_rows: &mut Vec<f32>,
    npy_count: &mut usize,
) -> Result<()> {
    let range = if a.npy.is_some() {
        let start = *npy_count;
        npy_rows.extend_from_slice(m.as_slice());
        *npy_count += m.rows();
        Some([start, *npy_count])
    } else {
        None
    };
    if a.json {
        let mut v = serde_json::json!({
            "text": text,
            "tokens": enc.tokens,
            "ids": enc.ids,
            "type_ids": enc.type_ids,
        });
        if let Some(p) = pair {
            v["pair"] = p.into();
        }
        if a.pad {
            v["attention_mask"] = enc.attention_mask.clone().into();
        }
        if enc.truncated {
            v["truncated"] = true.into();
        }
        match range {
            Some(r) => v["rows"] = r.to_vec().into(),
            None => {
                let rows: Vec<&[f32]> = (0..m.rows()).map(|t| m.row(t)).collect();
                v["embeddings"] = serde_json::to_value(rows)?;
            }
        }
        writeln!(out, "{v}")?;
        return Ok(());
    }
    let c = model.config();
    writeln!(
        out,
        "# {} ({}, hidden {}; {}){}{}",
        text,
        c.model_type,
        c.hidden_size,
        model.positions_note(),
        pair.map(|p| format!(" | pair: {p}")).unwrap_or_default(),
        if enc.truncated { " [truncated]" } else { "" }
    )?;
    if let Some([s, e]) = range {
        writeln!(out, "# rows {s}..{e} of the .npy file")?;
    }
    writeln!(out, "# position\ttoken\tid\ttype_id\tvector")?;
    for t in 0..enc.len() {
        write!(
            out,
            "{t}\t{}\t{}\t{}",
            enc.tokens[t], enc.ids[t], enc.type_ids[t]
        )?;
        if range.is_none() {
            let values: Vec<String> = m.row(t).iter().map(|x| format!("{x:.6}")).collect();
            write!(out, "\t{}", values.join(" "))?;
        }
        writeln!(out)?;
    }
    Ok(())
}

/// Reads a file of lines (plain or gzip) in batches, with 1-based line numbers for errors.
pub(crate) struct LineReader {
    path: PathBuf,
    inner: std::io::BufReader<Box<dyn std::io::Read + Send>>,
    limit: Option<usize>,
    pub(crate) lines_read: usize,
}

impl LineReader {
    pub(crate) fn open(path: &Path, limit: Option<usize>) -> Result<Self> {
        Ok(LineReader {
            path: path.to_path_buf(),
            inner: std::io::BufReader::new(embers::text::open_maybe_gz(path)?),
            limit,
            lines_read: 0,
        })
    }

    /// Replaces `out` with up to `n` next lines (without `\n` or `\r\n`); returns the line
    /// number of the first. `out` is empty at the end of the input.
    pub(crate) fn read(&mut self, out: &mut Vec<String>, n: usize) -> Result<usize> {
        out.clear();
        let first = self.lines_read + 1;
        let mut buf = Vec::new();
        while out.len() < n && self.limit.is_none_or(|l| self.lines_read < l) {
            buf.clear();
            let got = self
                .inner
                .read_until(b'\n', &mut buf)
                .map_err(|e| embers::Error::io(&self.path, e))?;
            if got == 0 {
                break;
            }
            self.lines_read += 1;
            if buf.last() == Some(&b'\n') {
                buf.pop();
            }
            if buf.last() == Some(&b'\r') {
                buf.pop();
            }
            let line = String::from_utf8(std::mem::take(&mut buf)).map_err(|_| {
                embers::Error::at_line(&self.path, self.lines_read as u64, "invalid UTF-8")
            })?;
            out.push(line);
        }
        Ok(first)
    }
}

/// Writes a C-order float32 `rows × cols` array as a NumPy `.npy` file (format 1.0), atomically.
pub(crate) fn write_npy(path: &Path, rows: usize, cols: usize, data: &[f32]) -> Result<()> {
    let mut header =
        format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {cols}), }}");
    // Magic (6) + version (2) + length (2) + header + '\n' is a multiple of 64.
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut f = embers::io::atomic::AtomicFile::create(path)?;
    f.write_all(b"\x93NUMPY\x01\x00")?;
    f.write_all(&(header.len() as u16).to_le_bytes())?;
    f.write_all(header.as_bytes())?;
    let mut bytes = Vec::with_capacity(data.len() * 4);
    for x in data {
        bytes.extend_from_slice(&x.to_le_bytes());
    }
    f.write_all(&bytes)?;
    f.commit()?;
    Ok(())
}
