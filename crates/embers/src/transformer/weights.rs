//! The weights of a model folder: `model.safetensors` (or the shards named by
//! `model.safetensors.index.json`), memory-mapped, and embedding tables viewed in place whose
//! rows are converted from F32, F16 or BF16 to f32 on the fly.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use half::{bf16, f16};

use crate::error::{Error, Result};
use crate::io::safetensors::{Dtype, SafetensorsFile};

/// Prefixes a checkpoint may put in front of the embedding tensors' names.
pub const NAME_PREFIXES: &[&str] = &[
    "",
    "bert.",
    "model.",
    "transformer.",
    "roberta.",
    "distilbert.",
    "xlm-roberta.",
    "camembert.",
];

/// The safetensors file(s) of a model, memory-mapped.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    files: Vec<SafetensorsFile>,
    /// Tensor name → index into `files` (sharded checkpoints only).
    index: Option<BTreeMap<String, usize>>,
}

impl Checkpoint {
    /// Opens `dir/model.safetensors`, or the shards listed in `dir/model.safetensors.index.json`.
    /// Only the headers are read.
    pub fn open_dir(dir: &Path) -> Result<Self> {
        let single = dir.join("model.safetensors");
        if single.is_file() {
            return Ok(Checkpoint {
                files: vec![SafetensorsFile::open(&single)?],
                index: None,
            });
        }
        let index_path = dir.join("model.safetensors.index.json");
        if index_path.is_file() {
            return Self::open_sharded(dir, &index_path);
        }
        let hint = if dir.join("pytorch_model.bin").exists() {
            " (pytorch_model.bin is a pickle and is not read: convert it to safetensors)"
        } else {
            ""
        };
        Err(Error::io(
            &single,
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("the model folder has no model.safetensors or model.safetensors.index.json{hint}"),
            ),
        ))
    }

    fn open_sharded(dir: &Path, index_path: &Path) -> Result<Self> {
        let text = std::fs::read(index_path).map_err(|e| Error::io(index_path, e))?;
        let value: serde_json::Value = serde_json::from_slice(&text).map_err(|e| {
            Error::at_line(index_path, e.line() as u64, format!("not valid JSON: {e}"))
        })?;
        let map = value
            .get("weight_map")
            .and_then(|m| m.as_object())
            .ok_or_else(|| Error::at_field(index_path, "weight_map", "missing or not an object"))?;
        let mut shard_ids: BTreeMap<String, usize> = BTreeMap::new();
        let mut files = Vec::new();
        let mut index = BTreeMap::new();
        for (name, shard) in map {
            let shard = shard.as_str().ok_or_else(|| {
                Error::at_field(index_path, format!("weight_map.{name}"), "not a file name")
            })?;
            if shard.contains('/') || shard.contains('\\') || shard.starts_with('.') {
                return Err(Error::at_field(
                    index_path,
                    format!("weight_map.{name}"),
                    format!("{shard:?} is not a file in the model folder"),
                ));
            }
            // Only shards holding embedding tensors are opened.
            if !is_embedding_tensor(name) {
                continue;
            }
            let id = match shard_ids.get(shard) {
                Some(&id) => id,
                None => {
                    files.push(SafetensorsFile::open(dir.join(shard))?);
                    shard_ids.insert(shard.to_string(), files.len() - 1);
                    files.len() - 1
                }
            };
            index.insert(name.clone(), id);
        }
        Ok(Checkpoint {
            files,
            index: Some(index),
        })
    }

    /// The file holding `name`, if any.
    fn file_of(&self, name: &str) -> Option<&SafetensorsFile> {
        match &self.index {
            None => self.files[0].get(name).map(|_| &self.files[0]),
            Some(index) => index
                .get(name)
                .map(|&i| &self.files[i])
                .filter(|f| f.get(name).is_some()),
        }
    }

    /// Path shown in errors about the checkpoint as a whole.
    pub fn path(&self) -> &Path {
        self.files
            .first()
            .map(|f| f.path())
            .unwrap_or(Path::new("model.safetensors"))
    }

    /// Finds the first of `names` (each tried with every prefix of [`NAME_PREFIXES`]) and
    /// returns it as a table of the given shape. `None` when no name matches.
    pub fn find_table(&self, names: &[&str]) -> Result<Option<Table>> {
        for name in names {
            for prefix in NAME_PREFIXES {
                let full = format!("{prefix}{name}");
                if let Some(file) = self.file_of(&full) {
                    return Table::new(file, &full).map(Some);
                }
            }
        }
        Ok(None)
    }

    /// Like [`Checkpoint::find_table`], but a missing tensor is an error naming what was sought.
    pub fn require_table(&self, names: &[&str], what: &str) -> Result<Table> {
        self.find_table(names)?.ok_or_else(|| {
            Error::at_field(
                self.path(),
                names[0],
                format!(
                    "{what} not found (looked for {} with or without the prefixes {})",
                    names.join(", "),
                    NAME_PREFIXES[1..].join(" ")
                ),
            )
        })
    }
}

fn is_embedding_tensor(name: &str) -> bool {
    name.contains("embed")
        || name.ends_with("wte.weight")
        || name.ends_with("wpe.weight")
        || name.contains("embeddings.")
}

/// A 1-D or 2-D tensor of a checkpoint, viewed in the memory map (never copied). Rows are
/// converted to f32 when read.
#[derive(Debug, Clone)]
pub struct Table {
    file: SafetensorsFile,
    name: String,
    dtype: Dtype,
    /// Absolute byte offset of the tensor in the file's memory map.
    offset: usize,
    rows: usize,
    cols: usize,
}

impl Table {
    fn new(file: &SafetensorsFile, name: &str) -> Result<Self> {
        let t = file.require(name)?;
        if !matches!(t.dtype, Dtype::F32 | Dtype::F16 | Dtype::BF16) {
            return Err(Error::at_field(
                file.path(),
                name,
                format!(
                    "dtype {} is not supported for embeddings (F32, F16 and BF16 are)",
                    t.dtype.name()
                ),
            ));
        }
        let (rows, cols) = match *t.shape {
            [n] => (1, n),
            [r, c] => (r, c),
            _ => {
                return Err(Error::at_field(
                    file.path(),
                    name,
                    format!("expected a 1-D or 2-D tensor, found shape {:?}", t.shape),
                ))
            }
        };
        Ok(Table {
            file: file.clone(),
            name: name.to_string(),
            dtype: t.dtype,
            offset: file.file_offset(name).expect("tensor exists"),
            rows,
            cols,
        })
    }

    /// The tensor's full name in the checkpoint.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The stored element type.
    pub fn dtype(&self) -> Dtype {
        self.dtype
    }

    /// Number of rows (1 for a vector).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Row width.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// The file the tensor lives in.
    pub fn file(&self) -> &SafetensorsFile {
        &self.file
    }

    /// Checks the shape against what the config says, naming both in the error.
    pub fn expect_shape(&self, rows: Option<usize>, cols: usize, config: &str) -> Result<()> {
        if rows.is_some_and(|r| r != self.rows) || cols != self.cols {
            let want = match rows {
                Some(r) => format!("[{r}, {cols}]"),
                None => format!("[{cols}]"),
            };
            let got = if rows.is_some() {
                format!("[{}, {}]", self.rows, self.cols)
            } else {
                format!("[{}]", self.cols)
            };
            return Err(Error::at_field(
                self.file.path(),
                self.name.clone(),
                format!("shape {got} does not match config.json ({config}: {want})"),
            ));
        }
        Ok(())
    }

    fn row_bytes(&self, i: usize) -> &[u8] {
        let w = self.cols * self.dtype.size();
        let start = self.offset + i * w;
        &self.file.mmap()[start..start + w]
    }

    /// Adds row `i` (converted to f32) to `out`. `i < rows()` and `out.len() == cols()`.
    pub fn add_row_to(&self, i: usize, out: &mut [f32]) {
        debug_assert_eq!(out.len(), self.cols);
        let b = self.row_bytes(i);
        match self.dtype {
            Dtype::F32 => {
                // SAFETY: every bit pattern is a valid f32; align_to only yields the aligned part.
                let (pre, mid, post) = unsafe { b.align_to::<f32>() };
                if pre.is_empty() && post.is_empty() && cfg!(target_endian = "little") {
                    crate::kernels::axpy(1.0, mid, out);
                } else {
                    for (o, c) in out.iter_mut().zip(b.chunks_exact(4)) {
                        *o += f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
                    }
                }
            }
            Dtype::F16 => {
                for (o, c) in out.iter_mut().zip(b.chunks_exact(2)) {
                    *o += f16::from_le_bytes([c[0], c[1]]).to_f32();
                }
            }
            Dtype::BF16 => {
                for (o, c) in out.iter_mut().zip(b.chunks_exact(2)) {
                    *o += bf16::from_le_bytes([c[0], c[1]]).to_f32();
                }
            }
            _ => unreachable!("dtype checked at open"),
        }
    }

    /// Row `i` as f32 values.
    pub fn row_f32(&self, i: usize) -> Vec<f32> {
        let mut v = vec![0.0; self.cols];
        self.add_row_to(i, &mut v);
        v
    }

    /// Byte offset of the tensor in its file's memory map, when it is stored as F32 (for
    /// zero-copy views).
    pub(crate) fn f32_offset(&self) -> Option<usize> {
        (self.dtype == Dtype::F32).then_some(self.offset)
    }

    /// The path of the file holding this table.
    pub fn path(&self) -> PathBuf {
        self.file.path().to_path_buf()
    }
}
