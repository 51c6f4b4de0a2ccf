//! A model's token embedding matrix with its vocabulary, as [`Embeddings`] (and as a native
//! embers file), so that similarity and neighbour queries work on an LLM's vocabulary.

use std::path::Path;

use rayon::prelude::*;

use crate::embeddings::Embeddings;
use crate::error::Result;
use crate::storage::DenseMatrix;
use crate::vocab::Vocab;

use super::InputEmbeddings;

/// The token embedding matrix of the model folder `dir` (the raw rows, before positions or
/// LayerNorm), with one vocabulary entry per row: the tokenizer's token string for that id
/// (`Ġking`, `▁king`, `##ing` as the tokenizer writes them), or `<row:N>` for rows no token
/// uses (matrices padded past the tokenizer's vocabulary). F32 matrices stay memory-mapped; F16
/// and BF16 ones are converted to f32.
pub fn export_token_embeddings(dir: impl AsRef<Path>) -> Result<Embeddings> {
    let model = InputEmbeddings::from_dir(dir)?;
    let table = model.word_embeddings();
    let rows = table.rows();
    let dims = table.cols();
    let tokenizer = model.tokenizer();
    let words: Vec<String> = (0..rows as u32)
        .into_par_iter()
        .map(|id| {
            tokenizer
                .id_to_token(id)
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| format!("<row:{id}>"))
        })
        .collect();
    let mut vocab = Vocab::from_words(words).map_err(|e| {
        crate::error::Error::at_field(
            model.dir().join("tokenizer.json"),
            "model.vocab",
            format!("cannot become an embers vocabulary: {e}"),
        )
    })?;
    if let Some(unk) = tokenizer.unk_token() {
        if vocab.id(&unk).is_some() {
            vocab.set_unk(&unk)?;
        }
    }
    let mapped = table.f32_offset().and_then(|offset| {
        DenseMatrix::mapped(table.file().mmap().clone(), offset, rows, dims).ok()
    });
    let matrix = match mapped {
        Some(m) => m,
        None => {
            let mut data = vec![0f32; rows * dims];
            data.par_chunks_mut(dims.max(1))
                .enumerate()
                .for_each(|(i, row)| table.add_row_to(i, row));
            DenseMatrix::new(rows, dims, data)?
        }
    };
    let mut emb = Embeddings::new(vocab, matrix)?;
    let meta = emb.metadata_mut();
    meta.insert("source.model".into(), model.dir().display().to_string());
    meta.insert(
        "source.model_type".into(),
        model.config().model_type.clone(),
    );
    meta.insert("source.tensor".into(), table.name().to_string());
    meta.insert("source.dtype".into(), table.dtype().name().to_string());
    Ok(emb)
}

/// Writes the token embedding matrix and vocabulary of the model folder `dir` to `out` in the
/// native embers format (atomically). Returns the exported embeddings.
pub fn export_vocab(dir: impl AsRef<Path>, out: impl AsRef<Path>) -> Result<Embeddings> {
    let emb = export_token_embeddings(dir)?;
    crate::io::native::write(out, &emb)?;
    Ok(emb)
}
