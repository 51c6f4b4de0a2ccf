//! `embers lookup`: print the vectors of words.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use clap::Args as ClapArgs;
use embers::Source;

use super::info::ReadArgs;

#[derive(ClapArgs)]
pub struct Args {
    /// Embedding file (any supported format).
    file: PathBuf,
    /// Words to look up.
    #[arg(required = true)]
    words: Vec<String>,
    /// Give unknown words the `<unk>` row when the vocabulary has one.
    #[arg(long)]
    unk: bool,
    /// One JSON object per word.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    read: ReadArgs,
}

pub fn run(a: Args) -> Result<()> {
    let emb = a.read.load(&a.file)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut unknown = Vec::new();
    for word in &a.words {
        match emb.lookup(word, a.unk) {
            Some((vector, source)) => {
                if a.json {
                    let mut v = serde_json::json!({ "word": word, "vector": vector });
                    match source {
                        Source::Vocab(id) => v["id"] = id.into(),
                        Source::Subwords => v["source"] = "subwords".into(),
                        Source::Unk(id) => {
                            v["id"] = id.into();
                            v["source"] = "unk".into();
                        }
                    }
                    writeln!(out, "{v}")?;
                } else {
                    let note = match source {
                        Source::Vocab(_) => "",
                        Source::Subwords => "\t(from subwords)",
                        Source::Unk(_) => "\t(unknown: <unk> row)",
                    };
                    let values: Vec<String> = vector.iter().map(|x| format!("{x:.6}")).collect();
                    writeln!(out, "{word}\t{}{note}", values.join(" "))?;
                }
            }
            None => {
                if a.json {
                    writeln!(
                        out,
                        "{}",
                        serde_json::json!({ "word": word, "error": "unknown word" })
                    )?;
                } else {
                    unknown.push(word.clone());
                }
            }
        }
    }
    if !unknown.is_empty() {
        anyhow::bail!(
            "unknown word(s), not in the vocabulary of {}: {}",
            a.file.display(),
            unknown.join(", ")
        );
    }
    Ok(())
}
