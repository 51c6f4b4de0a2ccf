//! The safetensors container: a JSON header of named tensors, then their bytes. Reading is a
//! memory map and hands out borrowed byte slices; writing streams the tensors and a CRC32 of the
//! data section. Used by the native format and to pull tensors out of any checkpoint.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use memchr::memmem;
use memmap2::Mmap;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::io::atomic::AtomicFile;

/// Element type of a tensor, as safetensors names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dtype {
    F64,
    F32,
    F16,
    BF16,
    I64,
    U64,
    I32,
    U32,
    I16,
    U16,
    I8,
    U8,
    Bool,
}

impl Dtype {
    /// Size of one element in bytes.
    pub fn size(self) -> usize {
        match self {
            Dtype::F64 | Dtype::I64 | Dtype::U64 => 8,
            Dtype::F32 | Dtype::I32 | Dtype::U32 => 4,
            Dtype::F16 | Dtype::BF16 | Dtype::I16 | Dtype::U16 => 2,
            Dtype::I8 | Dtype::U8 | Dtype::Bool => 1,
        }
    }

    /// The name used in the header.
    pub fn name(self) -> &'static str {
        match self {
            Dtype::F64 => "F64",
            Dtype::F32 => "F32",
            Dtype::F16 => "F16",
            Dtype::BF16 => "BF16",
            Dtype::I64 => "I64",
            Dtype::U64 => "U64",
            Dtype::I32 => "I32",
            Dtype::U32 => "U32",
            Dtype::I16 => "I16",
            Dtype::U16 => "U16",
            Dtype::I8 => "I8",
            Dtype::U8 => "U8",
            Dtype::Bool => "BOOL",
        }
    }

    fn parse(name: &str) -> Option<Dtype> {
        Some(match name {
            "F64" => Dtype::F64,
            "F32" => Dtype::F32,
            "F16" => Dtype::F16,
            "BF16" => Dtype::BF16,
            "I64" => Dtype::I64,
            "U64" => Dtype::U64,
            "I32" => Dtype::I32,
            "U32" => Dtype::U32,
            "I16" => Dtype::I16,
            "U16" => Dtype::U16,
            "I8" => Dtype::I8,
            "U8" => Dtype::U8,
            "BOOL" => Dtype::Bool,
            _ => return None,
        })
    }
}

/// Where one tensor lives in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorInfo {
    pub dtype: Dtype,
    pub shape: Vec<usize>,
    /// Byte range within the data section.
    pub start: usize,
    pub end: usize,
}

/// An opened, memory-mapped safetensors file. Opening reads only the header.
#[derive(Debug, Clone)]
pub struct SafetensorsFile {
    path: PathBuf,
    mmap: Arc<Mmap>,
    data_start: usize,
    tensors: BTreeMap<String, TensorInfo>,
    metadata: BTreeMap<String, String>,
}

/// A tensor borrowed from a [`SafetensorsFile`].
#[derive(Debug, Clone, Copy)]
pub struct TensorView<'a> {
    pub dtype: Dtype,
    pub shape: &'a [usize],
    pub bytes: &'a [u8],
}

/// Largest header accepted (the format's own limit is 100 MB).
const MAX_HEADER: u64 = 100 << 20;

impl SafetensorsFile {
    /// Maps `path` and validates its header: sizes, dtypes, shapes against byte ranges, and that
    /// the ranges tile the data section without gaps or overlaps.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        super::input::regular_file(&path)?;
        let file = std::fs::File::open(&path).map_err(|e| Error::io(&path, e))?;
        let mmap = crate::io::mapping::map_file(&path, &file)?;
        Self::from_mmap(path, Arc::new(mmap))
    }

    fn from_mmap(path: PathBuf, mmap: Arc<Mmap>) -> Result<Self> {
        let bytes: &[u8] = &mmap;
        if bytes.len() < 8 {
            return Err(Error::at_byte(
                &path,
                0,
                "file too short for a safetensors header",
            ));
        }
        let n = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes"));
        if n > MAX_HEADER || 8 + n > bytes.len() as u64 {
            return Err(Error::at_byte(
                &path,
                0,
                format!(
                    "header length {n} does not fit in a file of {} bytes: not a safetensors file or truncated",
                    bytes.len()
                ),
            ));
        }
        let header_end = 8 + n as usize;
        let header: Value = serde_json::from_slice(&bytes[8..header_end]).map_err(|e| {
            Error::at_byte(
                &path,
                8 + e.column() as u64,
                format!("header is not valid JSON: {e}"),
            )
        })?;
        let obj = header
            .as_object()
            .ok_or_else(|| Error::at_byte(&path, 8, "header is not a JSON object"))?;
        let data_len = bytes.len() - header_end;
        let mut tensors = BTreeMap::new();
        let mut metadata = BTreeMap::new();
        for (name, v) in obj {
            if name == "__metadata__" {
                let m = v
                    .as_object()
                    .ok_or_else(|| Error::at_field(&path, "__metadata__", "not an object"))?;
                for (k, v) in m {
                    let s = v.as_str().ok_or_else(|| {
                        Error::at_field(&path, format!("__metadata__.{k}"), "value is not a string")
                    })?;
                    metadata.insert(k.clone(), s.to_string());
                }
                continue;
            }
            let bad = |msg: &str| Error::at_field(&path, name.clone(), msg.to_string());
            let dtype = v
                .get("dtype")
                .and_then(Value::as_str)
                .ok_or_else(|| bad("missing dtype"))?;
            let dtype =
                Dtype::parse(dtype).ok_or_else(|| bad(&format!("unknown dtype {dtype}")))?;
            let shape: Vec<usize> = v
                .get("shape")
                .and_then(Value::as_array)
                .ok_or_else(|| bad("missing shape"))?
                .iter()
                .map(|d| d.as_u64().map(|d| d as usize))
                .collect::<Option<_>>()
                .ok_or_else(|| bad("shape is not a list of sizes"))?;
            let offsets = v
                .get("data_offsets")
                .and_then(Value::as_array)
                .filter(|a| a.len() == 2)
                .ok_or_else(|| bad("missing data_offsets"))?;
            let (start, end) = match (offsets[0].as_u64(), offsets[1].as_u64()) {
                (Some(s), Some(e)) if s <= e && e <= data_len as u64 => (s as usize, e as usize),
                _ => {
                    return Err(bad(&format!(
                        "data_offsets {offsets:?} outside the data section of {data_len} bytes (truncated file?)"
                    )))
                }
            };
            let elements = shape
                .iter()
                .try_fold(1usize, |acc, &d| acc.checked_mul(d))
                .ok_or_else(|| bad("shape overflows"))?;
            if elements.checked_mul(dtype.size()) != Some(end - start) {
                return Err(bad(&format!(
                    "shape {shape:?} of {} needs {} bytes, data_offsets give {}",
                    dtype.name(),
                    elements.saturating_mul(dtype.size()),
                    end - start
                )));
            }
            tensors.insert(
                name.clone(),
                TensorInfo {
                    dtype,
                    shape,
                    start,
                    end,
                },
            );
        }
        let mut ranges: Vec<(usize, usize, &str)> = tensors
            .iter()
            .map(|(k, t)| (t.start, t.end, k.as_str()))
            .collect();
        ranges.sort_unstable();
        let mut at = 0;
        for (s, e, name) in &ranges {
            if *s != at {
                return Err(Error::at_field(
                    &path,
                    name.to_string(),
                    format!(
                        "tensor starts at {s}, expected {at}: gap or overlap in the data section"
                    ),
                ));
            }
            at = *e;
        }
        if at != data_len {
            return Err(Error::at_byte(
                &path,
                (header_end + at) as u64,
                format!("data section is {data_len} bytes but tensors cover {at}"),
            ));
        }
        Ok(SafetensorsFile {
            path,
            mmap,
            data_start: header_end,
            tensors,
            metadata,
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The `__metadata__` map.
    pub fn metadata(&self) -> &BTreeMap<String, String> {
        &self.metadata
    }

    /// Names and layouts of all tensors.
    pub fn tensors(&self) -> &BTreeMap<String, TensorInfo> {
        &self.tensors
    }

    /// The tensor `name`, if present.
    pub fn get(&self, name: &str) -> Option<TensorView<'_>> {
        let t = self.tensors.get(name)?;
        Some(TensorView {
            dtype: t.dtype,
            shape: &t.shape,
            bytes: &self.mmap[self.data_start + t.start..self.data_start + t.end],
        })
    }

    /// The tensor `name`, or an error naming the file and the tensor.
    pub fn require(&self, name: &str) -> Result<TensorView<'_>> {
        self.get(name)
            .ok_or_else(|| Error::at_field(&self.path, name, "tensor not found"))
    }

    /// Absolute byte offset in the file where tensor `name` starts.
    pub fn file_offset(&self, name: &str) -> Option<usize> {
        self.tensors.get(name).map(|t| self.data_start + t.start)
    }

    /// The whole memory map (shared), for zero-copy views.
    pub fn mmap(&self) -> &Arc<Mmap> {
        &self.mmap
    }

    /// The data section (everything after the header).
    pub fn data(&self) -> &[u8] {
        &self.mmap[self.data_start..]
    }
}

/// Receives the bytes of a streamed tensor, piece by piece.
pub type Sink<'s> = dyn FnMut(&[u8]) -> Result<()> + 's;

/// Produces the bytes of a streamed tensor by handing them, in order, to the sink.
pub type Fill<'a> = dyn Fn(&mut Sink<'_>) -> Result<()> + 'a;

/// The bytes of a tensor to write: held, or produced while writing.
pub enum TensorData<'a> {
    Bytes(std::borrow::Cow<'a, [u8]>),
    /// `len` bytes produced by `fill` (e.g. values converted or computed a block at a time,
    /// so the whole tensor never sits in memory).
    Stream {
        len: usize,
        fill: Box<Fill<'a>>,
    },
}

impl TensorData<'_> {
    /// Number of bytes.
    pub fn len(&self) -> usize {
        match self {
            TensorData::Bytes(b) => b.len(),
            TensorData::Stream { len, .. } => *len,
        }
    }

    /// True when there are no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One tensor to write: its name, dtype, shape and bytes (little-endian, C order).
pub struct TensorOut<'a> {
    pub name: String,
    pub dtype: Dtype,
    pub shape: Vec<usize>,
    pub data: TensorData<'a>,
}

impl<'a> TensorOut<'a> {
    /// A tensor borrowing (or owning) `bytes`.
    pub fn new(
        name: impl Into<String>,
        dtype: Dtype,
        shape: Vec<usize>,
        bytes: impl Into<std::borrow::Cow<'a, [u8]>>,
    ) -> Self {
        TensorOut {
            name: name.into(),
            dtype,
            shape,
            data: TensorData::Bytes(bytes.into()),
        }
    }

    /// A tensor of `len` bytes that `fill` produces while the file is written.
    pub fn streamed(
        name: impl Into<String>,
        dtype: Dtype,
        shape: Vec<usize>,
        len: usize,
        fill: impl Fn(&mut Sink<'_>) -> Result<()> + 'a,
    ) -> Self {
        TensorOut {
            name: name.into(),
            dtype,
            shape,
            data: TensorData::Stream {
                len,
                fill: Box::new(fill),
            },
        }
    }
}

/// Writes a safetensors file atomically. Tensors are laid out by alignment (8-byte types first,
/// then 4-, 2- and 1-byte types) and the header is padded so the data section starts at a
/// multiple of 64 bytes, so every tensor can be viewed in place from a memory map.
/// When `checksum` is set, a CRC32 of the data section is stored in the metadata under that key:
/// it is computed while the data is written and filled into the header at the end, so every
/// tensor is read (or produced) once.
pub fn write(
    path: impl AsRef<Path>,
    tensors: &[TensorOut<'_>],
    metadata: &BTreeMap<String, String>,
    checksum: Option<&str>,
) -> Result<()> {
    let path = path.as_ref();
    let mut order: Vec<&TensorOut<'_>> = tensors.iter().collect();
    order.sort_by_key(|t| std::cmp::Reverse(t.dtype.size()));
    let mut header = serde_json::Map::new();
    let mut at = 0usize;
    for t in &order {
        let elements: usize = t.shape.iter().product();
        if elements * t.dtype.size() != t.data.len() {
            return Err(Error::shape(
                format!("tensor {}", t.name),
                elements * t.dtype.size(),
                t.data.len(),
            ));
        }
        header.insert(
            t.name.clone(),
            serde_json::json!({
                "dtype": t.dtype.name(),
                "shape": t.shape,
                "data_offsets": [at, at + t.data.len()],
            }),
        );
        at += t.data.len();
    }
    const PLACEHOLDER: &str = "crc32:00000000";
    let mut meta = metadata.clone();
    if let Some(key) = checksum {
        meta.insert(key.to_string(), PLACEHOLDER.to_string());
    }
    header.insert(
        "__metadata__".into(),
        serde_json::to_value(&meta).expect("strings"),
    );
    let mut json = serde_json::to_vec(&Value::Object(header)).expect("JSON of plain values");
    while !(8 + json.len()).is_multiple_of(64) {
        json.push(b' ');
    }
    // Where the checksum's hex digits go: the value of `key` inside the metadata object (quotes
    // within names and values are escaped, so these patterns match only the real entries).
    let checksum_at = match checksum {
        Some(key) => {
            let meta_start = memmem::find(&json, b"\"__metadata__\":").expect("metadata written");
            let entry = serde_json::to_vec(&serde_json::json!({ key: PLACEHOLDER }))
                .expect("JSON of a string");
            // `{"key":"crc32:00000000"}` without its braces.
            let entry = &entry[1..entry.len() - 1];
            let within = memmem::find(&json[meta_start..], entry).expect("checksum entry written");
            Some(8 + meta_start + within + entry.len() - 1 - 8)
        }
        None => None,
    };
    let mut phases = crate::io::profile::Phases::start("native write");
    let mut out = AtomicFile::create(path)?;
    phases.end("create");
    out.write_all(&(json.len() as u64).to_le_bytes())?;
    out.write_all(&json)?;
    let mut crc = crc32fast::Hasher::new();
    for t in &order {
        // Every piece goes through here: counted against the promised length, hashed, written.
        let len = t.data.len();
        let mut written = 0usize;
        let mut emit = |piece: &[u8]| {
            written += piece.len();
            if written > len {
                return Err(Error::shape(format!("tensor {}", t.name), len, written));
            }
            // Hashed and written a cache-sized piece at a time.
            for piece in piece.chunks(crate::io::atomic::WRITE_PIECE) {
                if checksum.is_some() {
                    crc.update(piece);
                }
                out.write_all(piece)?;
            }
            Ok(())
        };
        match &t.data {
            TensorData::Bytes(b) => emit(b)?,
            TensorData::Stream { fill, .. } => fill(&mut emit)?,
        }
        if written != len {
            return Err(Error::shape(format!("tensor {}", t.name), len, written));
        }
        phases.end(&t.name);
    }
    if let Some(at) = checksum_at {
        out.patch(at as u64, format!("{:08x}", crc.finalize()).as_bytes())?;
    }
    out.commit()
}

/// CRC32 of a data section, in the form stored by [`write`] (`crc32:xxxxxxxx`).
pub fn crc32_of(data: &[u8]) -> String {
    // Large inputs are hashed in parallel pieces and combined.
    const PIECE: usize = 16 << 20;
    if data.len() <= PIECE {
        return format!("crc32:{:08x}", crc32fast::hash(data));
    }
    use rayon::prelude::*;
    let parts: Vec<crc32fast::Hasher> = data
        .par_chunks(PIECE)
        .map(|c| {
            let mut h = crc32fast::Hasher::new();
            h.update(c);
            h
        })
        .collect();
    let mut total = crc32fast::Hasher::new();
    for p in parts {
        total.combine(&p);
    }
    format!("crc32:{:08x}", total.finalize())
}

/// Reinterprets little-endian bytes as `f32`s without copying when aligned, copying otherwise.
pub fn f32s(bytes: &[u8]) -> std::borrow::Cow<'_, [f32]> {
    // SAFETY: every bit pattern is a valid f32; align_to only yields the aligned middle part.
    let (pre, mid, post) = unsafe { bytes.align_to::<f32>() };
    if pre.is_empty() && post.is_empty() && cfg!(target_endian = "little") {
        std::borrow::Cow::Borrowed(mid)
    } else {
        std::borrow::Cow::Owned(
            bytes
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
                .collect(),
        )
    }
}

/// The little-endian bytes of a slice of plain numbers.
pub fn bytes_of<T: bytemuck_free::Pod>(values: &[T]) -> &[u8] {
    // SAFETY: `Pod` is only implemented for plain number types without padding.
    unsafe {
        std::slice::from_raw_parts(values.as_ptr() as *const u8, std::mem::size_of_val(values))
    }
}

/// Marker for plain number types whose memory is their little-endian encoding on this target.
pub mod bytemuck_free {
    /// A plain number type: no padding, every bit pattern valid.
    ///
    /// # Safety
    /// Implement only for primitive numeric types.
    pub unsafe trait Pod: Copy {}
    unsafe impl Pod for f32 {}
    unsafe impl Pod for f64 {}
    unsafe impl Pod for u8 {}
    unsafe impl Pod for i8 {}
    unsafe impl Pod for u16 {}
    unsafe impl Pod for i16 {}
    unsafe impl Pod for u32 {}
    unsafe impl Pod for i32 {}
    unsafe impl Pod for u64 {}
    unsafe impl Pod for i64 {}
    unsafe impl Pod for half::f16 {}
    unsafe impl Pod for half::bf16 {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_then_open_round_trips_and_validates() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.safetensors");
        let a: Vec<f32> = (0..12).map(|i| i as f32 * 0.5).collect();
        let b: Vec<u8> = b"hello".to_vec();
        let c: Vec<i64> = vec![0, 2, 5];
        let mut meta = BTreeMap::new();
        meta.insert("format".to_string(), "test".to_string());
        write(
            &p,
            &[
                TensorOut::new("a", Dtype::F32, vec![3, 4], bytes_of(&a)),
                TensorOut::new("b", Dtype::U8, vec![5], bytes_of(&b)),
                TensorOut::new("c", Dtype::I64, vec![3], bytes_of(&c)),
            ],
            &meta,
            Some("checksum"),
        )
        .unwrap();
        let f = SafetensorsFile::open(&p).unwrap();
        let t = f.require("a").unwrap();
        assert_eq!(t.shape, &[3, 4]);
        assert!(matches!(f32s(t.bytes), std::borrow::Cow::Borrowed(_)));
        assert_eq!(&*f32s(t.bytes), &a[..]);
        assert_eq!(f.require("b").unwrap().bytes, b"hello");
        assert_eq!(f.metadata()["checksum"], crc32_of(f.data()));
        assert!(f.require("zzz").unwrap_err().to_string().contains("zzz"));

        // Truncation is caught at open.
        let bytes = std::fs::read(&p).unwrap();
        let q = dir.path().join("short.safetensors");
        std::fs::write(&q, &bytes[..bytes.len() - 3]).unwrap();
        let e = SafetensorsFile::open(&q).unwrap_err().to_string();
        assert!(e.contains("short.safetensors"), "{e}");
        std::fs::write(&q, &bytes[..4]).unwrap();
        assert!(SafetensorsFile::open(&q).is_err());
        std::fs::write(&q, b"\xff\xff\xff\xff\xff\xff\xff\xffjunk").unwrap();
        assert!(SafetensorsFile::open(&q).is_err());
    }

    #[test]
    fn streamed_tensors_write_the_same_file_and_wrong_lengths_leave_none() {
        let dir = tempfile::tempdir().unwrap();
        let values: Vec<u64> = (0..10_000).map(|i| i * 3).collect();
        let mut meta = BTreeMap::new();
        // A user value that looks like the checksum entry (and sorts before it) must not be
        // taken for it.
        meta.insert(
            "a_note".to_string(),
            r#""checksum":"crc32:00000000""#.to_string(),
        );
        let held = dir.path().join("held.safetensors");
        write(
            &held,
            &[TensorOut::new(
                "v",
                Dtype::U64,
                vec![10_000],
                bytes_of(&values),
            )],
            &meta,
            Some("checksum"),
        )
        .unwrap();
        // The same values produced 999 at a time.
        let streamed = dir.path().join("streamed.safetensors");
        let fill = |sink: &mut Sink<'_>| {
            for piece in values.chunks(999) {
                sink(bytes_of(piece))?;
            }
            Ok(())
        };
        let out = TensorOut::streamed("v", Dtype::U64, vec![10_000], 80_000, fill);
        write(&streamed, &[out], &meta, Some("checksum")).unwrap();
        assert_eq!(
            std::fs::read(&held).unwrap(),
            std::fs::read(&streamed).unwrap()
        );
        let f = SafetensorsFile::open(&streamed).unwrap();
        assert_eq!(f.metadata()["checksum"], crc32_of(f.data()));
        assert_eq!(f.metadata()["a_note"], meta["a_note"]);

        // Too few or too many bytes: an error naming the tensor, and no file.
        for (n, name) in [(9_000, "short"), (11_000, "long")] {
            let p = dir.path().join(format!("{name}.safetensors"));
            let fill = |sink: &mut Sink<'_>| sink(bytes_of(&values[..n.min(10_000)]));
            let fill_long = |sink: &mut Sink<'_>| {
                sink(bytes_of(&values))?;
                sink(bytes_of(&values[..n - 10_000]))
            };
            let out = if n < 10_000 {
                TensorOut::streamed("v", Dtype::U64, vec![10_000], 80_000, fill)
            } else {
                TensorOut::streamed("v", Dtype::U64, vec![10_000], 80_000, fill_long)
            };
            let e = write(&p, &[out], &meta, None).unwrap_err().to_string();
            assert!(e.contains("tensor v"), "{e}");
            assert!(!p.exists());
        }
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }
}
