//! One named tensor out of any safetensors checkpoint (for example the
//! `embeddings.word_embeddings.weight` of a Hugging Face model) as embeddings, with the
//! vocabulary from the model's `tokenizer.json` (`model.vocab`, token → id) or `vocab.txt`.

use std::path::{Path, PathBuf};

use crate::embeddings::Embeddings;
use crate::error::{Error, Position, Result};
use crate::io::input::{self, ReadReport};
use crate::io::safetensors::{Dtype, SafetensorsFile};
use crate::io::ReadOptions;
use crate::storage::DenseMatrix;
use crate::vocab::{Vocab, WordList};

/// A vocabulary read from a tokenizer file: tokens in id order and the unknown token, if named.
#[derive(Debug, Clone)]
pub struct TokenizerVocab {
    /// Tokens, index = id.
    pub tokens: Vec<String>,
    /// The unknown token (`model.unk_token` of tokenizer.json, or `[UNK]`/`<unk>` when present).
    pub unk: Option<String>,
}

/// Reads a vocabulary from `tokenizer.json` (its `model.vocab` map, plus `added_tokens`) or from
/// a `vocab.txt` (one token a line, line number = id). Ids must cover `0..n` without gaps.
pub fn read_vocab(path: &Path) -> Result<TokenizerVocab> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let is_json = path.extension().is_some_and(|e| e == "json")
        || bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    if !is_json {
        let text = std::str::from_utf8(&bytes).map_err(|e| {
            let line = bytes[..e.valid_up_to()]
                .iter()
                .filter(|&&b| b == b'\n')
                .count();
            Error::at_line(path, line as u64 + 1, "invalid UTF-8")
        })?;
        let tokens: Vec<String> = text
            .lines()
            .map(|l| l.strip_suffix('\r').unwrap_or(l).to_string())
            .collect();
        if let Some(i) = tokens.iter().position(String::is_empty) {
            return Err(Error::at_line(path, i as u64 + 1, "empty token"));
        }
        let unk = ["[UNK]", "<unk>"]
            .into_iter()
            .find(|u| tokens.iter().any(|t| t == u))
            .map(String::from);
        return Ok(TokenizerVocab { tokens, unk });
    }
    let json: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| Error::at_line(path, e.line() as u64, format!("invalid JSON: {e}")))?;
    let map = json
        .pointer("/model/vocab")
        .and_then(|v| v.as_object())
        .ok_or_else(|| {
            Error::at_field(
                path,
                "model.vocab",
                "missing or not a token → id map (only WordPiece/WordLevel/BPE tokenizers have one)",
            )
        })?;
    let mut pairs: Vec<(u64, String)> = Vec::with_capacity(map.len());
    for (tok, id) in map {
        let id = id.as_u64().ok_or_else(|| {
            Error::at_field(
                path,
                format!("model.vocab.{tok}"),
                "the id is not a non-negative integer",
            )
        })?;
        pairs.push((id, tok.clone()));
    }
    if let Some(added) = json.get("added_tokens").and_then(|a| a.as_array()) {
        for t in added {
            if let (Some(id), Some(content)) = (
                t.get("id").and_then(|i| i.as_u64()),
                t.get("content").and_then(|c| c.as_str()),
            ) {
                if !map.contains_key(content) {
                    pairs.push((id, content.to_string()));
                }
            }
        }
    }
    pairs.sort();
    for (i, (id, tok)) in pairs.iter().enumerate() {
        if *id != i as u64 {
            return Err(Error::at_field(
                path,
                "model.vocab",
                format!(
                    "token ids are not 0..{} without gaps: {tok:?} has id {id}, expected {i}",
                    pairs.len()
                ),
            ));
        }
    }
    let unk = json
        .pointer("/model/unk_token")
        .and_then(|u| u.as_str())
        .map(String::from);
    Ok(TokenizerVocab {
        tokens: pairs.into_iter().map(|(_, t)| t).collect(),
        unk,
    })
}

/// The vocabulary file beside a checkpoint: `tokenizer.json`, else `vocab.txt`.
pub fn find_vocab(checkpoint: &Path) -> Option<PathBuf> {
    let dir = checkpoint.parent().unwrap_or(Path::new("."));
    ["tokenizer.json", "vocab.txt"]
        .into_iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file())
}

/// The 2-D float tensors of a safetensors file, for messages.
fn candidates(file: &SafetensorsFile) -> String {
    let names: Vec<String> = file
        .tensors()
        .iter()
        .filter(|(_, t)| {
            t.shape.len() == 2
                && matches!(t.dtype, Dtype::F32 | Dtype::F16 | Dtype::BF16 | Dtype::F64)
        })
        .map(|(n, t)| format!("{n} {:?}", t.shape))
        .take(20)
        .collect();
    names.join(", ")
}

/// Reads tensor `options.tensor` of the safetensors file `path` as embeddings. The vocabulary
/// comes from `options.vocab`, else `tokenizer.json` or `vocab.txt` in the same folder; it
/// must have one token per row (or at least `options.limit` tokens). F32 tensors are viewed in
/// place (memory map); F16, BF16 and F64 are converted to f32.
pub fn read(path: impl AsRef<Path>, options: &ReadOptions) -> Result<(Embeddings, ReadReport)> {
    let path = path.as_ref();
    let file = SafetensorsFile::open(path)?;
    let name = options.tensor.as_deref().ok_or_else(|| {
        Error::invalid(
            "tensor",
            format!(
                "{} is a safetensors checkpoint: name the embedding tensor with --tensor (2-D float tensors: {})",
                path.display(),
                candidates(&file)
            ),
        )
    })?;
    let t = file.get(name).ok_or_else(|| {
        Error::at_field(
            path,
            name,
            format!("no such tensor; 2-D float tensors: {}", candidates(&file)),
        )
    })?;
    if t.shape.len() != 2 || t.shape[1] == 0 {
        return Err(Error::at_field(
            path,
            name,
            format!("shape {:?} is not rows × dims", t.shape),
        ));
    }
    let (rows, dims) = (t.shape[0], t.shape[1]);
    let vpath = match &options.vocab {
        Some(v) => v.clone(),
        None => find_vocab(path).ok_or_else(|| {
            Error::invalid(
                "vocab",
                format!(
                    "no tokenizer.json or vocab.txt beside {}; name the vocabulary with --vocab",
                    path.display()
                ),
            )
        })?,
    };
    let vocab = read_vocab(&vpath)?;
    let used = options.limit.map_or(rows, |l| l.min(rows));
    if vocab.tokens.len() < used || (options.limit.is_none() && vocab.tokens.len() != rows) {
        return Err(Error::shape(
            format!("vocabulary {} for tensor {name}", vpath.display()),
            format!("{rows} tokens (one per row)"),
            vocab.tokens.len(),
        ));
    }
    let words: WordList = vocab.tokens.iter().take(used).collect();
    let n = used * dims;
    let elem = t.dtype.size();
    let raw = &t.bytes[..n * elem];
    let check = |data: &[f32]| -> Result<()> {
        if !options.allow_nonfinite {
            if let Some(k) = data.iter().position(|v| !v.is_finite()) {
                return Err(Error::at_field(
                    path,
                    name,
                    format!(
                        "row {} column {} is {}; use --allow-nonfinite to accept it",
                        k / dims,
                        k % dims,
                        data[k]
                    ),
                ));
            }
        }
        Ok(())
    };
    let mut report = ReadReport::default();
    let distinct = crate::vocab::repeats(&words).is_empty();
    let (voc, matrix) = match (t.dtype, distinct) {
        (Dtype::F32, true) if file.file_offset(name).is_some() => {
            let off = file.file_offset(name).unwrap();
            let m = match DenseMatrix::mapped(file.mmap().clone(), off, used, dims) {
                Ok(m) => m,
                Err(_) => {
                    DenseMatrix::new(used, dims, crate::io::safetensors::f32s(raw).into_owned())?
                }
            };
            check(m.as_slice())?;
            (Vocab::from_word_list(words, Vec::new())?, m)
        }
        (dtype, _) => {
            let data: Vec<f32> = match dtype {
                Dtype::F32 => crate::io::safetensors::f32s(raw).into_owned(),
                Dtype::F64 => raw
                    .chunks_exact(8)
                    .map(|b| f64::from_le_bytes(b.try_into().unwrap()) as f32)
                    .collect(),
                Dtype::F16 => raw
                    .chunks_exact(2)
                    .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
                    .collect(),
                Dtype::BF16 => raw
                    .chunks_exact(2)
                    .map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32())
                    .collect(),
                other => {
                    return Err(Error::at_field(
                        path,
                        name,
                        format!("dtype {} is not a float type", other.name()),
                    ))
                }
            };
            check(&data)?;
            input::dedup_rows(words, None, data, dims, &mut report, |r| {
                Position::Field(format!("token id {r}"))
            })?
        }
    };
    let mut emb = Embeddings::new(voc, matrix)?;
    if let Some(unk) = vocab.unk {
        if emb.vocab().id(&unk).is_some() {
            emb.vocab_mut().set_unk(&unk)?;
        }
    }
    emb.metadata_mut()
        .insert("source_tensor".into(), name.to_string());
    Ok((emb, report))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokenizer_json_and_vocab_txt() {
        let dir = tempfile::tempdir().unwrap();
        let j = dir.path().join("tokenizer.json");
        std::fs::write(
            &j,
            r#"{"added_tokens":[{"id":3,"content":"[X]"}],"model":{"unk_token":"[UNK]","vocab":{"b":1,"[UNK]":0,"c d":2}}}"#,
        )
        .unwrap();
        let v = read_vocab(&j).unwrap();
        assert_eq!(v.tokens, ["[UNK]", "b", "c d", "[X]"]);
        assert_eq!(v.unk.as_deref(), Some("[UNK]"));
        std::fs::write(&j, r#"{"model":{"vocab":{"a":0,"b":2}}}"#).unwrap();
        let err = read_vocab(&j).unwrap_err().to_string();
        assert!(err.contains("without gaps"), "{err}");
        let t = dir.path().join("vocab.txt");
        std::fs::write(&t, "[PAD]\n[UNK]\nx\n").unwrap();
        let v = read_vocab(&t).unwrap();
        assert_eq!(v.tokens, ["[PAD]", "[UNK]", "x"]);
        assert_eq!(v.unk.as_deref(), Some("[UNK]"));
    }
}
