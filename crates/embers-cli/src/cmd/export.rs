//! `embers export FILE --to milvus`: hands the file to the `embers.milvus` module of the Python
//! package. Milvus is reached over gRPC through its official client, pymilvus; rather than
//! re-implement that protocol here, the command runs `python -m embers.milvus` with the
//! interpreter where the embers Python package and pymilvus are installed ($EMBERS_PYTHON, else
//! `python3`), passing the arguments on and its exit code back.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::Command;

use anyhow::{bail, Context, Result};
use clap::Args as ClapArgs;

use crate::progress::Mode;

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Target {
    /// A Milvus server or cluster (http://host:19530), or Milvus Lite (a local .db file).
    Milvus,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum IndexKind {
    /// Graph index (M 16, efConstruction 200).
    Hnsw,
    /// Inverted lists with product-quantized codes (nlist ~ 4 sqrt(rows), m ~ dims/2, 8 bits).
    IvfPq,
    /// Inverted lists with full vectors.
    IvfFlat,
    /// Exhaustive search.
    Flat,
}

#[derive(ClapArgs)]
pub struct Args {
    /// Embedding file (any format embers reads).
    file: PathBuf,
    /// Where to: a vector database.
    #[arg(long, value_enum)]
    to: Target,
    /// Milvus URI: ./vectors.db for Milvus Lite, http://host:19530 for a server or cluster.
    #[arg(long)]
    uri: String,
    /// Collection to create (word: VARCHAR primary key, vector: FLOAT_VECTOR, COSINE metric).
    #[arg(long)]
    collection: String,
    /// Index built on the vectors after the inserts.
    #[arg(long, value_enum, default_value_t = IndexKind::Hnsw)]
    index: IndexKind,
    /// Rows per insert.
    #[arg(long, default_value_t = 10_000)]
    batch: usize,
    /// Replace an existing collection of that name.
    #[arg(long)]
    drop: bool,
    /// Export only the first N rows.
    #[arg(long)]
    limit: Option<usize>,
}

/// The Python interpreter to run: $EMBERS_PYTHON, else python3.
fn python() -> String {
    std::env::var("EMBERS_PYTHON")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "python3".to_string())
}

/// A `Command` running `python -m MODULE` with the Python that has the embers package, after
/// checking that it can `import` each of `imports` (else one clear line: what `what` needs,
/// and the pip command `install` that provides it).
pub(crate) fn python_module(
    module: &str,
    imports: &str,
    what: &str,
    install: &str,
) -> Result<Command> {
    let python = python();
    // Is the package there? One clear line instead of a Python traceback.
    let probe = Command::new(&python)
        .args(["-c", &format!("import {imports}")])
        .output()
        .with_context(|| {
            format!(
                "cannot run {python} (set EMBERS_PYTHON to the Python that has embers installed)"
            )
        })?;
    if !probe.status.success() {
        bail!(
            "{what} runs through Python, and {python} cannot import {imports}: install them \
             there ({install}) or set EMBERS_PYTHON to an interpreter that has them ({})",
            String::from_utf8_lossy(&probe.stderr)
                .trim()
                .lines()
                .last()
                .unwrap_or("")
        );
    }
    let mut cmd = Command::new(&python);
    cmd.args(["-m", module]);
    Ok(cmd)
}

pub fn run(a: Args, progress: Mode) -> Result<()> {
    if a.batch == 0 {
        bail!("--batch must be at least 1");
    }
    if !a.file.exists() {
        bail!("{}: no such file", a.file.display());
    }
    let mut cmd = python_module(
        "embers.milvus",
        "embers.milvus, pymilvus",
        "export to Milvus",
        "pip install ./python pymilvus milvus-lite",
    )?;
    let index = match a.index {
        IndexKind::Hnsw => "hnsw",
        IndexKind::IvfPq => "ivf_pq",
        IndexKind::IvfFlat => "ivf_flat",
        IndexKind::Flat => "flat",
    };
    let progress = match progress {
        Mode::Json => "json",
        Mode::None => "none",
        Mode::Bar => "bar",
        Mode::Auto if std::io::stderr().is_terminal() => "bar",
        Mode::Auto => "none",
    };
    cmd.arg(&a.file)
        .args(["--uri", &a.uri, "--collection", &a.collection])
        .args(["--index", index, "--batch", &a.batch.to_string()])
        .args(["--progress", progress]);
    if a.drop {
        cmd.arg("--drop");
    }
    if let Some(n) = a.limit {
        cmd.args(["--limit", &n.to_string()]);
    }
    let status = cmd.status().context("cannot run python -m embers.milvus")?;
    if !status.success() {
        bail!("export to Milvus failed ({status})");
    }
    let _ = a.to;
    Ok(())
}
