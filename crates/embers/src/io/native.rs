//! The native embers format: a safetensors file holding the matrix, the vocabulary, optional
//! norms (f32 files only: compressed kinds derive them from their codes when opened, so a
//! compressed file's bytes a row are its codes alone; older compressed files that carry a
//! `norms` tensor still open and use it) and subwords, and metadata with a CRC32 of the data
//! section. Opening maps the file and
//! reads the header and vocabulary only; the matrix is viewed in place, never copied.

use std::collections::BTreeMap;
use std::path::Path;

use crate::embeddings::Embeddings;
use crate::error::{Error, Result};
use crate::io::safetensors::{self, bytes_of, Dtype, SafetensorsFile, TensorOut};
use crate::storage::{DenseMatrix, Storage};
use crate::subword::{SubwordConfig, Subwords};
use crate::vocab::{PartsError, Vocab, WordList};

/// Value of the `format` metadata key in every native file.
pub const FORMAT_NAME: &str = "embers";
/// Version of the layout written by this release.
pub const FORMAT_VERSION: u32 = 1;

const RESERVED: &[&str] = &[
    "format", "version", "rows", "dims", "storage", "unk", "subwords", "checksum", "pq_codes",
];

/// What `embers info` shows, read from the header alone.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NativeInfo {
    pub rows: usize,
    pub dims: usize,
    pub storage: String,
    pub subwords: Option<SubwordConfig>,
    /// Bytes taken by the stored vectors (matrix or codes and their tables), not the vocabulary.
    pub vector_bytes: usize,
    pub file_bytes: u64,
    pub metadata: BTreeMap<String, String>,
}

/// True when `path` looks like a native file (a safetensors header naming the embers format).
pub fn is_native(path: &Path) -> bool {
    SafetensorsFile::open(path)
        .map(|f| f.metadata().get("format").map(String::as_str) == Some(FORMAT_NAME))
        .unwrap_or(false)
}

fn check_format(file: &SafetensorsFile) -> Result<()> {
    let path = file.path();
    match file.metadata().get("format").map(String::as_str) {
        Some(FORMAT_NAME) => {}
        Some(other) => {
            return Err(Error::at_field(path, "__metadata__.format", format!("format is {other:?}, not {FORMAT_NAME:?}")))
        }
        None => {
            return Err(Error::at_field(
                path,
                "__metadata__.format",
                "missing: this safetensors file was not written by embers (read one tensor of it with --tensor)",
            ))
        }
    }
    let version: u32 = file
        .metadata()
        .get("version")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| Error::at_field(path, "__metadata__.version", "missing or not a number"))?;
    if version > FORMAT_VERSION {
        return Err(Error::at_field(
            path,
            "__metadata__.version",
            format!("version {version} is newer than this embers reads ({FORMAT_VERSION})"),
        ));
    }
    Ok(())
}

/// Reads the header of a native file: shape, storage kind, metadata. Does not touch the matrix.
pub fn info(path: impl AsRef<Path>) -> Result<NativeInfo> {
    let path = path.as_ref();
    let file = SafetensorsFile::open(path)?;
    check_format(&file)?;
    let (rows, dims) = crate::quant::format::shape(&file)?;
    let mut vector_bytes = 0;
    for (name, t) in file.tensors() {
        if name == "embeddings"
            || name == "codes"
            || name.starts_with("quantizer.")
            || name == "scales"
            || name == "offsets"
            || name == "norms"
        {
            vector_bytes += t.end - t.start;
        }
    }
    let subwords = match file.metadata().get("subwords") {
        Some(s) => Some(serde_json::from_str(s).map_err(|e| {
            Error::at_field(path, "__metadata__.subwords", format!("invalid: {e}"))
        })?),
        None => None,
    };
    Ok(NativeInfo {
        rows,
        dims,
        storage: file
            .metadata()
            .get("storage")
            .cloned()
            .unwrap_or_else(|| "f32".into()),
        subwords,
        vector_bytes,
        file_bytes: file.mmap().len() as u64,
        metadata: file.metadata().clone(),
    })
}

/// Opens a native file by memory map. `limit` keeps only the first rows.
pub fn open(path: impl AsRef<Path>) -> Result<Embeddings> {
    let path = path.as_ref();
    let file = SafetensorsFile::open(path)?;
    check_format(&file)?;
    let vocab = read_vocab(&file)?;
    // Compressed kinds (f16, int8, pq) are opened as memory-mapped views by quant::format.
    if let Some(storage) = crate::quant::format::open_storage(&file, vocab.len())? {
        let mut embeddings = Embeddings::new(vocab, storage)?;
        finish(&file, &mut embeddings)?;
        return Ok(embeddings);
    }
    let emb = file.require("embeddings")?;
    let (rows, dims) = match (emb.dtype, emb.shape) {
        (Dtype::F32, [r, d]) => (*r, *d),
        (dtype, shape) => {
            return Err(Error::at_field(
                path,
                "embeddings",
                format!(
                    "expected a 2-D F32 tensor, found {} {:?}",
                    dtype.name(),
                    shape
                ),
            ))
        }
    };
    if rows != vocab.len() {
        return Err(Error::at_field(
            path,
            "embeddings",
            format!("{rows} rows but the vocabulary has {} tokens", vocab.len()),
        ));
    }
    let offset = file.file_offset("embeddings").expect("tensor exists");
    let matrix = DenseMatrix::mapped(file.mmap().clone(), offset, rows, dims)
        .map_err(|e| Error::at_field(path, "embeddings", e.to_string()))?;
    let mut embeddings = Embeddings::new(vocab, Storage::Dense(matrix))?;
    finish(&file, &mut embeddings)?;
    Ok(embeddings)
}

/// Reads the vocabulary tensors of an embers file (shared by every storage kind).
pub fn read_vocab(file: &SafetensorsFile) -> Result<Vocab> {
    let path = file.path();
    let bytes = file.require("vocab.bytes")?;
    let offsets = file.require("vocab.offsets")?;
    if bytes.dtype != Dtype::U8 {
        return Err(Error::at_field(path, "vocab.bytes", "expected U8"));
    }
    let offsets: Vec<u64> = match offsets.dtype {
        Dtype::U64 | Dtype::I64 => offsets
            .bytes
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")))
            .collect(),
        other => {
            return Err(Error::at_field(
                path,
                "vocab.offsets",
                format!("expected I64 or U64, found {}", other.name()),
            ))
        }
    };
    let words = WordList::from_utf8_parts(bytes.bytes, offsets).map_err(|e| {
        let (field, message) = match e {
            PartsError::Span => (
                "vocab.offsets",
                "offsets do not span vocab.bytes".to_string(),
            ),
            PartsError::Decrease(i) => ("vocab.offsets", format!("offsets decrease at token {i}")),
            PartsError::Utf8(i) => ("vocab.bytes", format!("token {i} is not valid UTF-8")),
            PartsError::Boundary(i) => (
                "vocab.offsets",
                format!("token {i} starts inside a UTF-8 character"),
            ),
        };
        Error::at_field(path, field, message)
    })?;
    let counts = match file.get("vocab.counts") {
        Some(c) if c.shape == [words.len()] && c.dtype.size() == 8 => c
            .bytes
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")))
            .collect(),
        Some(_) => {
            return Err(Error::at_field(
                path,
                "vocab.counts",
                "expected I64 with one count per token",
            ))
        }
        None => Vec::new(),
    };
    let mut vocab = Vocab::from_trusted_parts(words, counts);
    if let Some(unk) = file.metadata().get("unk") {
        vocab
            .set_unk(unk)
            .map_err(|e| Error::at_field(path, "__metadata__.unk", e.to_string()))?;
    }
    Ok(vocab)
}

/// Attaches norms, subwords and user metadata of an embers file to freshly opened embeddings.
pub fn finish(file: &SafetensorsFile, embeddings: &mut Embeddings) -> Result<()> {
    let path = file.path();
    let rows = embeddings.len();
    let dims = embeddings.dims();
    if let Some(n) = file.get("norms") {
        if n.dtype != Dtype::F32 || n.shape != [rows] {
            return Err(Error::at_field(
                path,
                "norms",
                format!("expected F32 [{rows}]"),
            ));
        }
        *embeddings = std::mem::replace(embeddings, placeholder())
            .with_norms(safetensors::f32s(n.bytes).into_owned())?;
    }
    if let Some(cfg) = file.metadata().get("subwords") {
        let config: SubwordConfig = serde_json::from_str(cfg)
            .map_err(|e| Error::at_field(path, "__metadata__.subwords", format!("invalid: {e}")))?;
        let t = file.require("subwords")?;
        if t.dtype != Dtype::F32 || t.shape != [config.buckets as usize, dims] {
            return Err(Error::at_field(
                path,
                "subwords",
                format!(
                    "expected F32 [{}, {dims}], found {} {:?}",
                    config.buckets,
                    t.dtype.name(),
                    t.shape
                ),
            ));
        }
        let offset = file.file_offset("subwords").expect("tensor exists");
        let matrix =
            DenseMatrix::mapped(file.mmap().clone(), offset, config.buckets as usize, dims)
                .map_err(|e| Error::at_field(path, "subwords", e.to_string()))?;
        *embeddings = std::mem::replace(embeddings, placeholder())
            .with_subwords(Subwords { config, matrix })?;
    }
    for (k, v) in file.metadata() {
        if !RESERVED.contains(&k.as_str()) {
            embeddings.metadata_mut().insert(k.clone(), v.clone());
        }
    }
    Ok(())
}

fn placeholder() -> Embeddings {
    Embeddings::new(Vocab::default(), DenseMatrix::zeros(0, 0)).expect("empty matches empty")
}

/// Values written `BLOCK` at a time by streamed tensors.
const BLOCK: usize = 1 << 15;

/// The tensors and metadata shared by every storage kind: vocabulary, norms, subwords.
/// The offsets (held in memory as 32-bit values) and norms not yet computed are produced while
/// the file is written, a block at a time, rather than as whole copies.
pub fn common_tensors(embeddings: &Embeddings) -> (Vec<TensorOut<'_>>, BTreeMap<String, String>) {
    let vocab = embeddings.vocab();
    let words = vocab.words();
    let n = words.len() + 1;
    let mut tensors = vec![
        TensorOut::new(
            "vocab.bytes",
            Dtype::U8,
            vec![words.text().len()],
            words.text().as_bytes(),
        ),
        TensorOut::streamed("vocab.offsets", Dtype::U64, vec![n], n * 8, move |sink| {
            let mut buf = Vec::with_capacity(BLOCK * 8);
            let mut offsets = words.offsets();
            loop {
                buf.clear();
                for o in offsets.by_ref().take(BLOCK) {
                    buf.extend_from_slice(&o.to_le_bytes());
                }
                if buf.is_empty() {
                    return Ok(());
                }
                sink(&buf)?;
            }
        }),
    ];
    if vocab.counts().iter().any(|&c| c > 0) {
        tensors.push(TensorOut::new(
            "vocab.counts",
            Dtype::I64,
            vec![vocab.len()],
            bytes_of(vocab.counts()),
        ));
    }
    if embeddings.storage().as_dense().is_some() {
        tensors.push(norms_tensor(embeddings));
    }
    let mut meta: BTreeMap<String, String> = embeddings
        .metadata()
        .iter()
        .filter(|(k, _)| !RESERVED.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    meta.insert("format".into(), FORMAT_NAME.into());
    meta.insert("version".into(), FORMAT_VERSION.to_string());
    meta.insert("rows".into(), embeddings.len().to_string());
    meta.insert("dims".into(), embeddings.dims().to_string());
    meta.insert("storage".into(), embeddings.storage().kind().into());
    meta.extend(crate::quant::format::storage_metadata(embeddings.storage()));
    if let Some(unk) = vocab.unk_id().and_then(|u| vocab.token(u)) {
        meta.insert("unk".into(), unk.into());
    }
    if let Some(s) = embeddings.subwords() {
        meta.insert(
            "subwords".into(),
            serde_json::to_string(&s.config).expect("plain struct"),
        );
        tensors.push(TensorOut::new(
            "subwords",
            Dtype::F32,
            vec![s.matrix.rows(), s.matrix.dims()],
            bytes_of(s.matrix.as_slice()),
        ));
    }
    (tensors, meta)
}

/// The row norms: the cached ones, or for a dense matrix whose norms were never asked for,
/// computed a block of rows at a time as they are written (nothing is cached).
fn norms_tensor(embeddings: &Embeddings) -> TensorOut<'_> {
    let rows = embeddings.len();
    match embeddings.storage().as_dense() {
        Some(m) if !embeddings.has_norms() => {
            TensorOut::streamed("norms", Dtype::F32, vec![rows], rows * 4, move |sink| {
                let mut norms = vec![0f32; BLOCK];
                for first in (0..rows).step_by(BLOCK) {
                    let out = &mut norms[..BLOCK.min(rows - first)];
                    m.row_norms_into(first, out);
                    sink(bytes_of(out))?;
                }
                Ok(())
            })
        }
        _ => TensorOut::new(
            "norms",
            Dtype::F32,
            vec![rows],
            bytes_of(embeddings.norms()),
        ),
    }
}

/// Writes `embeddings` as a native file, atomically, with a checksum (and row norms for f32).
pub fn write(path: impl AsRef<Path>, embeddings: &Embeddings) -> Result<()> {
    let dense;
    let (mut tensors, meta) = common_tensors(embeddings);
    let compressed = crate::quant::format::storage_tensors(embeddings.storage());
    if !compressed.is_empty() {
        tensors.extend(compressed);
        return safetensors::write(path, &tensors, &meta, Some("checksum"));
    }
    let matrix: &[f32] = match embeddings.storage().as_dense() {
        Some(m) => m.as_slice(),
        None => {
            dense = embeddings.storage().to_dense()?;
            dense.as_slice()
        }
    };
    tensors.push(TensorOut::new(
        "embeddings",
        Dtype::F32,
        vec![embeddings.len(), embeddings.dims()],
        bytes_of(matrix),
    ));
    safetensors::write(path, &tensors, &meta, Some("checksum"))
}

/// Recomputes the CRC32 of the data section and compares it with the stored one.
/// Returns the checksum on success; a mismatch or a missing checksum is an error.
pub fn verify(path: impl AsRef<Path>) -> Result<String> {
    let path = path.as_ref();
    let file = SafetensorsFile::open(path)?;
    check_format(&file)?;
    let stored = file
        .metadata()
        .get("checksum")
        .ok_or_else(|| Error::at_field(path, "__metadata__.checksum", "missing"))?;
    let actual = safetensors::crc32_of(file.data());
    if &actual != stored {
        return Err(Error::at_field(
            path,
            "__metadata__.checksum",
            format!(
                "data section checksum is {actual}, the header says {stored}: the file is corrupt"
            ),
        ));
    }
    // The bytes are the ones written; now the header must describe them: every tensor of the
    // storage kind with its dtype and shape (a full open checks those), and the metadata's
    // rows, dims and storage equal to what the tensors hold.
    let emb = open(path)?;
    check_metadata(&file, &emb)?;
    check_norms(&file, &emb)?;
    Ok(actual)
}

/// The metadata's `rows`, `dims` and `storage` against the opened tensors.
fn check_metadata(file: &SafetensorsFile, emb: &Embeddings) -> Result<()> {
    let path = file.path();
    let meta = file.metadata();
    let held = [
        ("rows", emb.len().to_string()),
        ("dims", emb.dims().to_string()),
        ("storage", emb.storage().kind().to_string()),
    ];
    for (key, actual) in held {
        match meta.get(key) {
            Some(v) if *v == actual => {}
            Some(v) => {
                return Err(Error::at_field(
                    path,
                    format!("__metadata__.{key}"),
                    format!("says {v:?} but the tensors hold {actual}"),
                ))
            }
            None => {
                return Err(Error::at_field(
                    path,
                    format!("__metadata__.{key}"),
                    format!("missing (the tensors hold {actual})"),
                ))
            }
        }
    }
    Ok(())
}

/// The stored row norms against the norms of the stored rows (decoded for compressed kinds):
/// a file whose norms disagree would answer every cosine query wrongly.
fn check_norms(file: &SafetensorsFile, emb: &Embeddings) -> Result<()> {
    let Some(t) = file.get("norms") else {
        return Ok(());
    };
    let stored = safetensors::f32s(t.bytes);
    let mut row = vec![0f32; emb.dims()];
    for (i, &s) in stored.iter().enumerate() {
        emb.storage().row_into(i, &mut row);
        let actual = crate::kernels::norm(&row);
        let ok =
            (s - actual).abs() <= 1e-3 * actual.abs().max(1.0) || (s.is_nan() && actual.is_nan());
        if !ok {
            return Err(Error::at_field(
                file.path(),
                "norms",
                format!("row {i}: stored norm {s}, the row's norm is {actual}"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Embeddings {
        let mut vocab = Vocab::from_words_and_counts(
            vec!["<unk>".into(), "new york".into(), "日本".into()],
            vec![0, 7, 3],
        )
        .unwrap();
        vocab.set_unk("<unk>").unwrap();
        let m = DenseMatrix::new(3, 4, (0..12).map(|i| i as f32 - 5.5).collect()).unwrap();
        let mut e = Embeddings::new(vocab, m).unwrap();
        e.metadata_mut().insert("trained.by".into(), "test".into());
        e
    }

    #[test]
    fn round_trip_is_exact_and_mapped() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("e.embers");
        let e = sample();
        write(&p, &e).unwrap();
        let back = open(&p).unwrap();
        assert_eq!(back.vocab(), e.vocab());
        assert!(back.storage().as_dense().unwrap().is_mapped());
        assert_eq!(
            back.storage().as_dense().unwrap(),
            e.storage().as_dense().unwrap()
        );
        assert_eq!(back.norms(), e.norms());
        assert_eq!(back.metadata()["trained.by"], "test");
        assert_eq!(
            back.lookup("zzz", true).unwrap().1,
            crate::embeddings::Source::Unk(0)
        );
        let i = info(&p).unwrap();
        assert_eq!((i.rows, i.dims, i.storage.as_str()), (3, 4, "f32"));
        verify(&p).unwrap();
    }

    #[test]
    fn corruption_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("e.embers");
        write(&p, &sample()).unwrap();
        let mut bytes = std::fs::read(&p).unwrap();
        let n = bytes.len();
        bytes[n - 20] ^= 0x40;
        std::fs::write(&p, &bytes).unwrap();
        let e = verify(&p).unwrap_err().to_string();
        assert!(e.contains("checksum"), "{e}");
        std::fs::write(&p, &bytes[..n - 1]).unwrap();
        assert!(open(&p).is_err());
    }

    /// Found by `cargo fuzz` (target `native`): offsets that start at 0, end at the length of
    /// `vocab.bytes` and do not decrease at the first token, but run past the end in between,
    /// made `read_vocab` slice out of bounds.
    #[test]
    fn offsets_past_the_end_are_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.embers");
        let offsets: Vec<u8> = [0u64, 1000, 3]
            .iter()
            .flat_map(|o| o.to_le_bytes())
            .collect();
        let tensors = [
            TensorOut::new("vocab.bytes", Dtype::U8, vec![3], &b"abc"[..]),
            TensorOut::new("vocab.offsets", Dtype::U64, vec![3], offsets),
        ];
        safetensors::write(&p, &tensors, &BTreeMap::new(), None).unwrap();
        let file = SafetensorsFile::open(&p).unwrap();
        let e = read_vocab(&file).unwrap_err().to_string();
        assert!(e.contains("offsets decrease at token 1"), "{e}");
        drop(file);
        // An offset inside a multi-byte character, and bytes that are not UTF-8.
        for (bytes, offsets, want) in [
            (
                "a猫".as_bytes(),
                [0u64, 2, 4],
                "token 1 starts inside a UTF-8 character",
            ),
            (&b"ab\xff"[..], [0u64, 2, 3], "token 1 is not valid UTF-8"),
        ] {
            let offsets: Vec<u8> = offsets.iter().flat_map(|o| o.to_le_bytes()).collect();
            let tensors = [
                TensorOut::new("vocab.bytes", Dtype::U8, vec![bytes.len()], bytes),
                TensorOut::new("vocab.offsets", Dtype::U64, vec![3], offsets),
            ];
            safetensors::write(&p, &tensors, &BTreeMap::new(), None).unwrap();
            let file = SafetensorsFile::open(&p).unwrap();
            let e = read_vocab(&file).unwrap_err().to_string();
            assert!(e.contains(want), "{e}");
        }
    }

    /// Rewrites metadata key `key` of a safetensors file to `value`, keeping the data section
    /// (and so its checksum) byte for byte; the header grows by whole 64-byte steps so the
    /// data stays aligned.
    fn set_metadata(bytes: &[u8], key: &str, value: &str) -> Vec<u8> {
        let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        let mut header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
        header["__metadata__"][key] = serde_json::Value::String(value.into());
        let mut text = serde_json::to_vec(&header).unwrap();
        let mut len = n;
        while len < text.len() {
            len += 64;
        }
        text.resize(len, b' ');
        let mut out = (len as u64).to_le_bytes().to_vec();
        out.extend_from_slice(&text);
        out.extend_from_slice(&bytes[8 + n..]);
        out
    }

    /// Finding 13 of issue 15: `verify` passed files whose metadata contradicted the tensors.
    #[test]
    fn verify_checks_metadata_and_norms_against_the_tensors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("e.embers");
        write(&p, &sample()).unwrap();
        let good = std::fs::read(&p).unwrap();
        // Same header, reserialised: still fine (the helper itself is harmless).
        std::fs::write(&p, set_metadata(&good, "trained.by", "test")).unwrap();
        verify(&p).unwrap();
        for (key, value, want) in [
            ("storage", "int8", "embeddings"),
            ("storage", "f16", "embeddings"),
            ("rows", "0", "__metadata__.rows"),
            ("rows", "99999999999", "__metadata__.rows"),
            ("dims", "51", "__metadata__.dims"),
            ("dims", "x", "__metadata__.dims"),
        ] {
            std::fs::write(&p, set_metadata(&good, key, value)).unwrap();
            let e = verify(&p)
                .map(|s| format!("verify passed ({s})"))
                .unwrap_or_else(|e| e.to_string());
            assert!(e.contains(want), "{key}={value}: {e}");
        }
        // Norms that disagree with the rows, under a correct checksum: refused.
        // (Norms computed on a separate copy: `with_norms` does not replace norms once set.)
        let bad: Vec<f32> = sample().norms().iter().map(|x| x * 2.0 + 1.0).collect();
        let e = sample().with_norms(bad).unwrap();
        write(&p, &e).unwrap();
        let err = verify(&p).unwrap_err().to_string();
        assert!(err.contains("norm"), "{err}");
        // Compressed kinds written by us verify.
        for target in ["f16", "int8"] {
            let q = dir.path().join(format!("{target}.embers"));
            let t = crate::quant::Target::from_name(target, 4).unwrap();
            let c = crate::quant::quantize(&sample(), &t, &crate::progress::silent).unwrap();
            write(&q, &c).unwrap();
            verify(&q).unwrap();
        }
    }
}
