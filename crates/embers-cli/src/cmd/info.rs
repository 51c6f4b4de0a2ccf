//! `embers info` and `embers verify`: what a file holds, and whether it is intact.

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::Args as ClapArgs;
use embers::io::{self, Format, ReadOptions};
use embers::Embeddings;

/// Options shared by every command that reads an embedding file.
#[derive(ClapArgs, Clone, Debug, Default)]
pub struct ReadArgs {
    /// Input format, sniffed when not given: native, word2vec (= vec), word2vec-binary, glove,
    /// fasttext, npy, safetensors.
    #[arg(long)]
    pub from: Option<String>,
    /// Read only the first N rows.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Replace invalid UTF-8 in words instead of failing.
    #[arg(long)]
    pub lossy: bool,
    /// Accept NaN and infinite values.
    #[arg(long)]
    pub allow_nonfinite: bool,
    /// Tensor to read from a safetensors checkpoint (e.g. embeddings.word_embeddings.weight).
    #[arg(long)]
    pub tensor: Option<String>,
    /// Vocabulary of a safetensors checkpoint (tokenizer.json or vocab.txt; default: beside it).
    #[arg(long)]
    pub vocab: Option<PathBuf>,
}

impl ReadArgs {
    pub fn options(&self) -> Result<ReadOptions> {
        Ok(ReadOptions {
            format: self.from.as_deref().map(Format::from_name).transpose()?,
            limit: self.limit,
            lossy: self.lossy,
            allow_nonfinite: self.allow_nonfinite,
            tensor: self.tensor.clone(),
            vocab: self.vocab.clone(),
        })
    }

    pub fn load(&self, path: &Path) -> Result<Embeddings> {
        Ok(io::read(path, &self.options()?)?)
    }
}

#[derive(ClapArgs)]
pub struct Args {
    /// Embedding file.
    file: PathBuf,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    read: ReadArgs,
}

#[derive(ClapArgs)]
pub struct VerifyArgs {
    /// Native embedding file.
    file: PathBuf,
}

pub fn run(a: Args) -> Result<()> {
    let format = match a.read.options()?.format {
        Some(f) => f,
        None => io::sniff(&a.file)?,
    };
    if format == Format::Native {
        // Header only: the matrix is not touched.
        let info = io::native::info(&a.file)?;
        let rotation = pq_rotation(&a.file, &info.metadata)?;
        if a.json {
            let v = serde_json::json!({
                "format": "native",
                "rows": info.rows,
                "dims": info.dims,
                "storage": info.storage,
                "subwords": info.subwords,
                "rotation": rotation.as_ref().map(|(kind, d)| serde_json::json!({
                    "kind": kind,
                    "shape": [d, d],
                })),
                "vector_bytes": info.vector_bytes,
                "compression": (info.rows * info.dims * 4) as f64 / info.vector_bytes.max(1) as f64,
                "file_bytes": info.file_bytes,
                "metadata": info.metadata,
            });
            println!("{v}");
        } else {
            println!("file      {}", a.file.display());
            println!("format    native (safetensors)");
            println!("shape     {} × {}", info.rows, info.dims);
            println!(
                "storage   {} ({} bytes of vectors and their tables, {:.3}× the f32 matrix)",
                info.storage,
                info.vector_bytes,
                info.vector_bytes as f64 / (info.rows * info.dims * 4).max(1) as f64
            );
            if let Some((kind, d)) = &rotation {
                println!("rotation  {kind}, {d} × {d} orthogonal (applied to rows and queries)");
            }
            match info.subwords {
                Some(s) => println!(
                    "subwords  {} buckets, n-grams {}..={}",
                    s.buckets, s.minn, s.maxn
                ),
                None => println!("subwords  none"),
            }
            for (k, v) in &info.metadata {
                println!("meta      {k} = {v}");
            }
        }
        return Ok(());
    }
    let emb = a.read.load(&a.file)?;
    if a.json {
        let v = serde_json::json!({
            "format": format.name(),
            "rows": emb.len(),
            "dims": emb.dims(),
            "storage": emb.storage().kind(),
            "subwords": emb.subwords().map(|s| s.config),
            "metadata": emb.metadata(),
        });
        println!("{v}");
    } else {
        println!("file      {}", a.file.display());
        println!("format    {}", format.name());
        println!("shape     {} × {}", emb.len(), emb.dims());
        println!("storage   {}", emb.storage().kind());
        match emb.subwords() {
            Some(s) => println!(
                "subwords  {} buckets, n-grams {}..={}",
                s.config.buckets, s.config.minn, s.config.maxn
            ),
            None => println!("subwords  none"),
        }
    }
    Ok(())
}

/// The PQ rotation of a native file, if it stores one: its kind (from the `quantizer`
/// settings; "orthogonal" when they do not say) and its order. Reads the header only.
fn pq_rotation(
    path: &Path,
    metadata: &std::collections::BTreeMap<String, String>,
) -> Result<Option<(String, usize)>> {
    let file = io::safetensors::SafetensorsFile::open(path)?;
    let Some(t) = file.get("quantizer.rotation") else {
        return Ok(None);
    };
    let kind = metadata
        .get("quantizer")
        .and_then(|q| serde_json::from_str::<serde_json::Value>(q).ok())
        .and_then(|q| q["rotation"]["kind"].as_str().map(str::to_string))
        .unwrap_or_else(|| "orthogonal".into());
    Ok(Some((kind, t.shape.first().copied().unwrap_or(0))))
}

pub fn verify(a: VerifyArgs) -> Result<()> {
    let sum = io::native::verify(&a.file)?;
    println!("{}: ok ({sum})", a.file.display());
    Ok(())
}
