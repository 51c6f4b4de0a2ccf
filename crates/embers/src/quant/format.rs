//! How compressed storage is laid out in the native (safetensors) file, and how it is opened as
//! memory-mapped views without decoding:
//!
//! | `storage` | tensors |
//! | --- | --- |
//! | `f16` | `embeddings` F16 [rows, dims] |
//! | `int8` | `embeddings` I8 [rows, dims], `scales` F32 [rows], `offsets` F32 [rows] (affine only) |
//! | `pq` | `codes` U8 [rows, m] (one code a byte), or with 4-bit codes and metadata `pq_codes` = `packed4`: `codes` U8 [rows, ceil(m/2)] (two codes a byte: code 2i in the low nibble of byte i, code 2i+1 in its high nibble, which is 0 past an odd m); `quantizer.centroids` F32 [m, 2^bits, dims/m], `quantizer.rotation` F32 [dims, dims] (optional) |
//! | `rq` | `codes` U8 [rows, m], `quantizer.codebooks` F32 or F16 [m, 2^bits, dims] (row = Σ_j codebooks[j, codes[row, j]]), or I8 with `quantizer.codebook_scales` F32 [m, 2^bits] (codeword = I8 values × its scale) |
//!
//! The `storage` metadata entry names the kind; the shapes carry everything needed to decode,
//! but for the packing of 4-bit PQ codes, which `pq_codes` names (this embers writes 4-bit codes
//! packed, and still reads files whose 4-bit codes are one a byte, without `pq_codes`). Packed
//! codes are the bytes of the file; the fast scan's blocked copy of them is built in memory on
//! the first search ([`crate::storage::ScanCodes`]).

use crate::error::{Error, Result};
use crate::io::safetensors::bytemuck_free::Pod;
use crate::io::safetensors::{bytes_of, Dtype, SafetensorsFile, TensorOut};
use crate::storage::{Buffer, CodebookDtype, F16Matrix, Int8Matrix, PqMatrix, RqMatrix, Storage};

/// The tensors holding a compressed storage's rows (none for dense f32, which the native
/// writer stores itself).
pub fn storage_tensors(storage: &Storage) -> Vec<TensorOut<'_>> {
    let (rows, dims) = (storage.rows(), storage.dims());
    match storage {
        Storage::F16(m) => vec![TensorOut::new(
            "embeddings",
            Dtype::F16,
            vec![rows, dims],
            bytes_of(m.as_slice()),
        )],
        Storage::Int8(m) => {
            let mut t = vec![
                TensorOut::new(
                    "embeddings",
                    Dtype::I8,
                    vec![rows, dims],
                    bytes_of(m.codes()),
                ),
                TensorOut::new("scales", Dtype::F32, vec![rows], bytes_of(m.scales())),
            ];
            if let Some(o) = m.offsets() {
                t.push(TensorOut::new(
                    "offsets",
                    Dtype::F32,
                    vec![rows],
                    bytes_of(o),
                ));
            }
            t
        }
        Storage::Pq(m) => {
            let mut t = vec![
                TensorOut::new(
                    "codes",
                    Dtype::U8,
                    vec![rows, m.code_bytes()],
                    bytes_of(m.stored_codes()),
                ),
                TensorOut::new(
                    "quantizer.centroids",
                    Dtype::F32,
                    vec![m.subquantizers(), m.ksub(), m.dsub()],
                    bytes_of(m.centroids()),
                ),
            ];
            if let Some(r) = m.rotation() {
                t.push(TensorOut::new(
                    "quantizer.rotation",
                    Dtype::F32,
                    vec![dims, dims],
                    bytes_of(r),
                ));
            }
            t
        }
        Storage::Rq(m) => {
            let mut t = vec![TensorOut::new(
                "codes",
                Dtype::U8,
                vec![rows, m.stages()],
                bytes_of(m.codes()),
            )];
            t.push(match m.codebook_dtype() {
                CodebookDtype::F32 => TensorOut::new(
                    "quantizer.codebooks",
                    Dtype::F32,
                    vec![m.stages(), m.ksub(), dims],
                    bytes_of(m.codebooks()),
                ),
                CodebookDtype::F16 => TensorOut::new(
                    "quantizer.codebooks",
                    Dtype::F16,
                    vec![m.stages(), m.ksub(), dims],
                    bytes_of(&m.codebooks_f16()).to_vec(),
                ),
                CodebookDtype::Int8 => TensorOut::new(
                    "quantizer.codebooks",
                    Dtype::I8,
                    vec![m.stages(), m.ksub(), dims],
                    bytes_of(&m.codebooks_i8()).to_vec(),
                ),
            });
            if m.codebook_dtype() == CodebookDtype::Int8 {
                t.push(TensorOut::new(
                    "quantizer.codebook_scales",
                    Dtype::F32,
                    vec![m.stages(), m.ksub()],
                    bytes_of(m.codebook_scales()),
                ));
            }
            t
        }
        _ => Vec::new(),
    }
}

/// Metadata key naming how PQ codes are packed (`packed4`), absent when one a byte.
pub const PQ_CODES_KEY: &str = "pq_codes";
/// Value of [`PQ_CODES_KEY`] for 4-bit codes two a byte.
pub const PQ_PACKED4: &str = "packed4";

/// The metadata entries a storage kind needs besides `storage` (the packing of 4-bit PQ codes).
pub fn storage_metadata(storage: &Storage) -> Vec<(String, String)> {
    match storage {
        Storage::Pq(m) if m.is_packed() => vec![(PQ_CODES_KEY.into(), PQ_PACKED4.into())],
        _ => Vec::new(),
    }
}

/// True when a PQ file's codes are packed two a byte (metadata `pq_codes` = `packed4`); an
/// error for any other value.
fn pq_packed(file: &SafetensorsFile) -> Result<bool> {
    match file.metadata().get(PQ_CODES_KEY).map(String::as_str) {
        None => Ok(false),
        Some(PQ_PACKED4) => Ok(true),
        Some(other) => Err(Error::at_field(
            file.path(),
            format!("__metadata__.{PQ_CODES_KEY}"),
            format!(
                "{other:?} is not a known packing of PQ codes (this embers reads {PQ_PACKED4:?})"
            ),
        )),
    }
}

/// The storage kind named in a file's metadata (`f32` when absent).
pub fn storage_kind(file: &SafetensorsFile) -> &str {
    file.metadata()
        .get("storage")
        .map(String::as_str)
        .unwrap_or("f32")
}

/// Rows and dims of the stored matrix, from the tensor shapes alone (header only).
pub fn shape(file: &SafetensorsFile) -> Result<(usize, usize)> {
    let path = file.path();
    if storage_kind(file) == "pq" {
        let codes = file.require("codes")?;
        let cents = file.require("quantizer.centroids")?;
        let packed = pq_packed(file)?;
        let width = |m: usize| if packed { m.div_ceil(2) } else { m };
        return match (codes.shape, cents.shape) {
            ([rows, c], [m, _, dsub]) if *c == width(*m) => Ok((
                *rows,
                crate::size::product("quantizer.centroids", &[*m, *dsub])
                    .map_err(|e| Error::at_field(path, "quantizer.centroids", e.to_string()))?,
            )),
            _ => Err(Error::at_field(
                path,
                "codes",
                format!(
                    "codes {:?} and quantizer.centroids {:?} are not [rows, {}] and [m, 2^bits, dims/m]",
                    codes.shape,
                    cents.shape,
                    if packed { "ceil(m/2)" } else { "m" }
                ),
            )),
        };
    }
    if storage_kind(file) == "rq" {
        let codes = file.require("codes")?;
        let books = file.require("quantizer.codebooks")?;
        return match (codes.shape, books.shape) {
            ([rows, m], [m2, _, dims]) if m == m2 => Ok((*rows, *dims)),
            _ => Err(Error::at_field(
                path,
                "codes",
                format!(
                    "codes {:?} and quantizer.codebooks {:?} are not [rows, m] and [m, 2^bits, dims]",
                    codes.shape, books.shape
                ),
            )),
        };
    }
    let emb = file.require("embeddings")?;
    match emb.shape {
        [r, d] => Ok((*r, *d)),
        other => Err(Error::at_field(
            path,
            "embeddings",
            format!("not a 2-D tensor: shape {other:?}"),
        )),
    }
}

/// A zero-copy view of tensor `name`, which must have `dtype` and `shape`.
fn view<T: Pod>(
    file: &SafetensorsFile,
    name: &str,
    dtype: Dtype,
    shape: &[usize],
) -> Result<Buffer<T>> {
    let path = file.path();
    let t = file.require(name)?;
    if t.dtype != dtype || t.shape != shape {
        return Err(Error::at_field(
            path,
            name,
            format!(
                "expected {} {:?}, found {} {:?}",
                dtype.name(),
                shape,
                t.dtype.name(),
                t.shape
            ),
        ));
    }
    let offset = file.file_offset(name).expect("tensor exists");
    Buffer::mapped(file.mmap().clone(), offset, shape.iter().product())
        .map_err(|e| Error::at_field(path, name, e.to_string()))
}

/// Opens the compressed rows of a native file as memory-mapped views, validating every shape
/// against `rows` (the vocabulary size) and the kind named in the metadata. Returns `None` for
/// dense f32 files, which the native reader opens itself.
pub fn open_storage(file: &SafetensorsFile, rows: usize) -> Result<Option<Storage>> {
    let path = file.path();
    let kind = storage_kind(file);
    if kind == "f32" {
        return Ok(None);
    }
    let (r, dims) = shape(file)?;
    if r != rows {
        let name = if kind == "pq" || kind == "rq" {
            "codes"
        } else {
            "embeddings"
        };
        return Err(Error::at_field(
            path,
            name,
            format!("{r} rows but the vocabulary has {rows} tokens"),
        ));
    }
    if let Some(d) = file.metadata().get("dims") {
        if d.parse::<usize>().ok() != Some(dims) {
            return Err(Error::at_field(
                path,
                "__metadata__.dims",
                format!("says {d} but the tensors hold {dims} dimensions"),
            ));
        }
    }
    let bad = |name: &str, e: Error| Error::at_field(path, name, e.to_string());
    let storage: Storage = match kind {
        "f16" => F16Matrix::new(
            rows,
            dims,
            view(file, "embeddings", Dtype::F16, &[rows, dims])?,
        )
        .map_err(|e| bad("embeddings", e))?
        .into(),
        "int8" => {
            let codes = view(file, "embeddings", Dtype::I8, &[rows, dims])?;
            let scales = view(file, "scales", Dtype::F32, &[rows])?;
            let offsets = match file.get("offsets") {
                Some(_) => Some(view(file, "offsets", Dtype::F32, &[rows])?),
                None => None,
            };
            Int8Matrix::new(rows, dims, codes, scales, offsets)
                .map_err(|e| bad("scales", e))?
                .into()
        }
        "pq" => {
            let m = file.require("quantizer.centroids")?.shape[0];
            let ksub = file.require("quantizer.centroids")?.shape[1];
            if !ksub.is_power_of_two() || !(2..=256).contains(&ksub) {
                return Err(Error::at_field(
                    path,
                    "quantizer.centroids",
                    format!("{ksub} centroids per codebook is not 2^bits with bits in 1..=8"),
                ));
            }
            let bits = ksub.trailing_zeros();
            let packed = pq_packed(file)?;
            if packed && bits != 4 {
                return Err(Error::at_field(
                    path,
                    "codes",
                    format!("packed two a byte ({PQ_CODES_KEY} = {PQ_PACKED4}) but the codebooks have {ksub} centroids, not 16"),
                ));
            }
            let cents = view(
                file,
                "quantizer.centroids",
                Dtype::F32,
                &[m, ksub, dims / m.max(1)],
            )?;
            let rotation = match file.get("quantizer.rotation") {
                Some(_) => Some(view(file, "quantizer.rotation", Dtype::F32, &[dims, dims])?),
                None => None,
            };
            if packed {
                let codes = view(file, "codes", Dtype::U8, &[rows, m.div_ceil(2)])?;
                PqMatrix::from_packed(rows, dims, m, codes, cents, rotation)
            } else {
                let codes = view(file, "codes", Dtype::U8, &[rows, m])?;
                PqMatrix::new(rows, dims, m, bits, codes, cents, rotation)
            }
            .map_err(|e| bad("codes", e))?
            .into()
        }
        "rq" => {
            let m = file.require("codes")?.shape[1];
            let ksub = file.require("quantizer.codebooks")?.shape[1];
            if !ksub.is_power_of_two() || !(2..=256).contains(&ksub) {
                return Err(Error::at_field(
                    path,
                    "quantizer.codebooks",
                    format!("{ksub} codewords per codebook is not 2^bits with bits in 1..=8"),
                ));
            }
            let bits = ksub.trailing_zeros();
            crate::size::product("quantizer.codebooks", &[m, ksub, dims])
                .map_err(|e| bad("quantizer.codebooks", e))?;
            let codes = view(file, "codes", Dtype::U8, &[rows, m])?;
            let shape = [m, ksub, dims];
            // Half-precision and 8-bit codebooks are widened once (they are small); f32 ones
            // are mapped.
            let mut scales = None;
            let (books, dtype): (Buffer<f32>, _) = match file.require("quantizer.codebooks")?.dtype
            {
                Dtype::F16 => {
                    let h: Buffer<half::f16> =
                        view(file, "quantizer.codebooks", Dtype::F16, &shape)?;
                    let wide: Vec<f32> = h.as_slice().iter().map(|v| v.to_f32()).collect();
                    (wide.into(), CodebookDtype::F16)
                }
                Dtype::I8 => {
                    let q: Buffer<i8> = view(file, "quantizer.codebooks", Dtype::I8, &shape)?;
                    let s: Buffer<f32> =
                        view(file, "quantizer.codebook_scales", Dtype::F32, &[m, ksub])?;
                    let wide: Vec<f32> = q
                        .as_slice()
                        .chunks(dims.max(1))
                        .zip(s.as_slice())
                        .flat_map(|(w, &s)| w.iter().map(move |&v| v as f32 * s))
                        .collect();
                    scales = Some(s.as_slice().to_vec());
                    (wide.into(), CodebookDtype::Int8)
                }
                _ => (
                    view(file, "quantizer.codebooks", Dtype::F32, &shape)?,
                    CodebookDtype::F32,
                ),
            };
            let rq =
                RqMatrix::new(rows, dims, m, bits, codes, books).map_err(|e| bad("codes", e))?;
            match scales {
                Some(s) => rq
                    .with_int8_codebooks(s)
                    .map_err(|e| bad("quantizer.codebook_scales", e))?,
                None => rq
                    .with_codebook_dtype(dtype)
                    .map_err(|e| bad("quantizer.codebooks", e))?,
            }
            .into()
        }
        other => {
            return Err(Error::at_field(
                path,
                "__metadata__.storage",
                format!(
                    "unknown storage kind {other:?} (this embers reads f32, f16, int8, pq, rq)"
                ),
            ))
        }
    };
    Ok(Some(storage))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::embeddings::Embeddings;
    use crate::io::{native, safetensors};
    use crate::progress::silent;
    use crate::quant::{quantize, OpqStart, PqConfig, Rotation, RqConfig, Target};
    use crate::rng::Rng;
    use crate::storage::pack_codes;
    use crate::storage::DenseMatrix;
    use crate::vocab::Vocab;

    fn model(rows: usize, dims: usize) -> Embeddings {
        let mut rng = Rng::new(21);
        let m =
            DenseMatrix::new(rows, dims, (0..rows * dims).map(|_| rng.normal()).collect()).unwrap();
        let vocab = Vocab::from_words((0..rows).map(|i| format!("w{i}")).collect()).unwrap();
        Embeddings::new(vocab, m).unwrap()
    }

    fn targets() -> Vec<Target> {
        let pq = PqConfig {
            subquantizers: 6,
            bits: 6,
            sample: 300,
            iterations: 5,
            seed: 2,
            rotation: None,
        };
        vec![
            Target::F16,
            Target::Int8 { affine: false },
            Target::Int8 { affine: true },
            Target::Pq(pq.clone()),
            // 4-bit codes, packed two a byte (m odd).
            Target::Pq(PqConfig {
                subquantizers: 3,
                bits: 4,
                ..pq.clone()
            }),
            Target::Pq(PqConfig {
                rotation: Some(Rotation::opq(3, OpqStart::Auto)),
                ..pq
            }),
            // Half-precision codebooks, codes for the cosine objective.
            Target::Rq(RqConfig {
                subquantizers: 3,
                bits: 5,
                beam: 3,
                sample: 300,
                iterations: 5,
                refine: 1,
                seed: 4,
                objective: crate::quant::rq::Objective::Cosine {
                    parallel_weight: 0.25,
                },
                codebook_dtype: CodebookDtype::F16,
                local_search: 0,
            }),
            // 8-bit codebooks with a scale a codeword.
            Target::Rq(RqConfig {
                subquantizers: 3,
                bits: 5,
                beam: 2,
                sample: 300,
                iterations: 5,
                refine: 0,
                seed: 6,
                objective: Default::default(),
                codebook_dtype: CodebookDtype::Int8,
                local_search: 0,
            }),
            Target::Rq(RqConfig {
                subquantizers: 4,
                bits: 6,
                beam: 3,
                sample: 300,
                iterations: 5,
                refine: 1,
                seed: 2,
                objective: Default::default(),
                codebook_dtype: Default::default(),
                local_search: 2,
            }),
        ]
    }

    #[test]
    fn every_kind_round_trips_through_a_mapped_native_file() {
        let dir = tempfile::tempdir().unwrap();
        let e = model(300, 24);
        for t in targets() {
            let q = quantize(&e, &t, &silent).unwrap();
            let p = dir.path().join("q.embers");
            native::write(&p, &q).unwrap();
            native::verify(&p).unwrap();
            let back = native::open(&p).unwrap();
            assert_eq!(back.storage().kind(), q.storage().kind());
            assert!(back.storage().is_mapped(), "{t:?} not mapped");
            assert_eq!(
                back.storage().to_dense().unwrap(),
                q.storage().to_dense().unwrap()
            );
            // Compressed files store no norms: they are derived from the codes when opened.
            assert!(!back.has_norms());
            for (a, b) in back.norms().iter().zip(q.norms()) {
                assert!((a - b).abs() <= 1e-5 * b.max(1.0), "{a} vs {b}");
            }
            // The settings (an OPQ rotation also records the start kept and the sample errors).
            assert_eq!(back.metadata()["quantizer"], q.metadata()["quantizer"]);
            if !matches!(
                t,
                Target::Pq(PqConfig {
                    rotation: Some(_),
                    ..
                })
            ) {
                assert_eq!(back.metadata()["quantizer"], t.describe());
            }
            if let (Storage::Pq(a), Storage::Pq(b)) = (q.storage(), back.storage()) {
                assert_eq!(a.rotation(), b.rotation());
                assert_eq!(b.rotation().is_some(), t.describe().contains("opq"));
                // Scores on codes (ADC on the rotated query) agree with the written model's.
                let query: Vec<f32> = (0..24).map(|i| (i as f32 * 0.37).sin()).collect();
                let (mut sa, mut sb) = (vec![0.0; 300], vec![0.0; 300]);
                q.storage().dot_all(&query, &mut sa);
                back.storage().dot_all(&query, &mut sb);
                assert_eq!(sa, sb);
            }
            if let (Storage::Rq(a), Storage::Rq(b)) = (q.storage(), back.storage()) {
                assert_eq!(a.codes(), b.codes());
                assert_eq!(a.codebooks(), b.codebooks());
                // Scores on codes (one lookup table a query) agree with the written model's.
                let query: Vec<f32> = (0..24).map(|i| (i as f32 * 0.37).sin()).collect();
                let (mut sa, mut sb) = (vec![0.0; 300], vec![0.0; 300]);
                q.storage().dot_all(&query, &mut sa);
                back.storage().dot_all(&query, &mut sb);
                assert_eq!(sa, sb);
            }
            let info = native::info(&p).unwrap();
            assert_eq!((info.rows, info.dims), (300, 24));
            assert_eq!(info.storage, q.storage().kind());
            // Vectors = the storage's own bytes: codes (and scales) and tables, no norms.
            assert_eq!(info.vector_bytes, q.storage().stored_bytes());
            // Writing an opened (mapped) file again gives the same bytes.
            let p2 = dir.path().join("q2.embers");
            native::write(&p2, &back).unwrap();
            assert_eq!(std::fs::read(&p).unwrap(), std::fs::read(&p2).unwrap());
        }
    }

    #[test]
    fn numpy_decodes_our_files_to_the_same_rows() {
        // An independent decoder: plain json + numpy over the safetensors bytes, following the
        // layout documented at the top of this module.
        let dir = tempfile::tempdir().unwrap();
        let e = model(300, 24);
        for (i, t) in targets().into_iter().enumerate() {
            let q = quantize(&e, &t, &silent).unwrap();
            let p = dir.path().join(format!("q{i}.embers"));
            let out = dir.path().join(format!("q{i}.f32"));
            native::write(&p, &q).unwrap();
            let script = r#"
import json, struct, sys, numpy as np
raw = open(sys.argv[1], 'rb').read()
n = struct.unpack('<Q', raw[:8])[0]
h = json.loads(raw[8:8 + n]); base = 8 + n
def t(name, dt):
    x = h[name]; a, b = x['data_offsets']
    return np.frombuffer(raw[base + a:base + b], dtype=dt).reshape(x['shape'])
kind = h['__metadata__']['storage']
if kind == 'f16':
    rows = t('embeddings', '<f2').astype(np.float64)
elif kind == 'int8':
    c = t('embeddings', 'i1').astype(np.float64)
    rows = c * t('scales', '<f4')[:, None].astype(np.float64)
    if 'offsets' in h:
        rows += t('offsets', '<f4')[:, None]
elif kind == 'rq':
    bdt = {'F16': '<f2', 'I8': 'i1', 'F32': '<f4'}[h['quantizer.codebooks']['dtype']]
    codes = t('codes', 'u1'); books = t('quantizer.codebooks', bdt).astype(np.float64)
    if bdt == 'i1':
        books = books * t('quantizer.codebook_scales', '<f4')[:, :, None].astype(np.float64)
    rows = sum(books[j][codes[:, j]] for j in range(codes.shape[1]))
else:
    codes = t('codes', 'u1'); cents = t('quantizer.centroids', '<f4')
    m = cents.shape[0]
    if h['__metadata__'].get('pq_codes') == 'packed4':
        assert codes.shape[1] == (m + 1) // 2
        codes = np.stack([codes & 15, codes >> 4], axis=2).reshape(codes.shape[0], -1)
        assert (codes[:, m:] == 0).all()
        codes = codes[:, :m]
    rows = np.concatenate([cents[j][codes[:, j]] for j in range(m)], axis=1)
    if 'quantizer.rotation' in h:
        rows = rows.astype(np.float64) @ t('quantizer.rotation', '<f4').astype(np.float64).T
rows.astype('<f4').tofile(sys.argv[2])
"#;
            let status = embers_testkit::python()
                .args(["-c", script])
                .arg(&p)
                .arg(&out)
                .status()
                .expect("the reference Python runs (scripts/test.sh sets it up)");
            assert!(status.success(), "numpy decoding failed for {t:?}");
            let want = safetensors::f32s(&std::fs::read(&out).unwrap()).into_owned();
            let got = q.storage().to_dense().unwrap();
            for (a, b) in got.as_slice().iter().zip(&want) {
                assert!((a - b).abs() <= 1e-6 * (1.0 + b.abs()), "{t:?}: {a} vs {b}");
            }
            assert_eq!(want.len(), 300 * 24);
        }
    }

    #[test]
    fn numpy_reads_rq_files_and_agrees_on_error_and_scores() {
        // Independent of embers' decoder: numpy reads the RQ tensors by the documented layout,
        // reconstructs every row as the sum of its codewords in float64, and computes the
        // relative squared error against the original and the scores of a query.
        let dir = tempfile::tempdir().unwrap();
        let e = model(600, 16);
        let t = Target::Rq(RqConfig {
            subquantizers: 5,
            bits: 7,
            beam: 4,
            sample: 600,
            iterations: 8,
            refine: 2,
            seed: 11,
            objective: Default::default(),
            codebook_dtype: Default::default(),
            local_search: 0,
        });
        let q = quantize(&e, &t, &silent).unwrap();
        let p = dir.path().join("rq.embers");
        native::write(&p, &q).unwrap();
        let orig = dir.path().join("orig.f32");
        std::fs::write(&orig, bytes_of(e.storage().to_dense().unwrap().as_slice())).unwrap();
        let query: Vec<f32> = (0..16).map(|i| (i as f32 * 0.71).cos()).collect();
        let qpath = dir.path().join("q.f32");
        std::fs::write(&qpath, bytes_of(&query)).unwrap();
        let out = dir.path().join("out.f64");
        let script = r#"
import json, struct, sys, numpy as np
raw = open(sys.argv[1], 'rb').read()
n = struct.unpack('<Q', raw[:8])[0]
h = json.loads(raw[8:8 + n]); base = 8 + n
def t(name, dt):
    x = h[name]; a, b = x['data_offsets']
    return np.frombuffer(raw[base + a:base + b], dtype=dt).reshape(x['shape'])
assert h['__metadata__']['storage'] == 'rq'
codes = t('codes', 'u1').astype(np.int64)
books = t('quantizer.codebooks', '<f4').astype(np.float64)
m, k, d = books.shape
assert codes.shape[1] == m and codes.max() < k
xh = np.zeros((codes.shape[0], d))
for j in range(m):
    xh += books[j][codes[:, j]]
x = np.fromfile(sys.argv[2], dtype='<f4').astype(np.float64).reshape(-1, d)
q = np.fromfile(sys.argv[3], dtype='<f4').astype(np.float64)
rel = ((x - xh) ** 2).sum() / (x ** 2).sum()
np.concatenate([[rel], xh @ q, np.linalg.norm(xh, axis=1)]).astype('<f8').tofile(sys.argv[4])
"#;
        let status = embers_testkit::python()
            .args(["-c", script])
            .arg(&p)
            .arg(&orig)
            .arg(&qpath)
            .arg(&out)
            .status()
            .expect("the reference Python runs (scripts/test.sh sets it up)");
        assert!(status.success(), "numpy failed");
        let want: Vec<f64> = std::fs::read(&out)
            .unwrap()
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
            .collect();
        assert_eq!(want.len(), 1 + 2 * 600);
        let back = native::open(&p).unwrap();
        let (x, xh) = (
            e.storage().to_dense().unwrap(),
            back.storage().to_dense().unwrap(),
        );
        let (mut err, mut tot) = (0.0f64, 0.0f64);
        for (a, b) in x.as_slice().iter().zip(xh.as_slice()) {
            err += (*a as f64 - *b as f64).powi(2);
            tot += (*a as f64).powi(2);
        }
        let rel = err / tot;
        assert!(
            (rel - want[0]).abs() <= 1e-6 * want[0],
            "{rel} vs numpy {}",
            want[0]
        );
        assert!(rel < 0.9, "{rel}");
        let mut scores = vec![0.0f32; 600];
        back.storage().dot_all(&query, &mut scores);
        for (i, s) in scores.iter().enumerate() {
            let w = want[1 + i];
            assert!(
                (*s as f64 - w).abs() <= 1e-4 * (1.0 + w.abs()),
                "row {i}: {s} vs {w}"
            );
            let nw = want[1 + 600 + i];
            let n = back.norms()[i] as f64;
            assert!((n - nw).abs() <= 1e-5 * (1.0 + nw), "norm {i}: {n} vs {nw}");
        }
    }

    #[test]
    fn older_files_with_stored_norms_still_open() {
        // Files written before compressed kinds dropped their f32 norms carry a `norms` tensor
        // [rows] after the vocabulary: built here exactly as that writer laid them out.
        let dir = tempfile::tempdir().unwrap();
        let e = model(300, 24);
        for (i, t) in targets().into_iter().enumerate() {
            let q = quantize(&e, &t, &silent).unwrap();
            let norms = q.norms().to_vec();
            let (mut tensors, meta) = native::common_tensors(&q);
            assert!(tensors.iter().all(|x| x.name != "norms"), "{t:?}");
            tensors.push(TensorOut::new(
                "norms",
                Dtype::F32,
                vec![300],
                bytes_of(&norms).to_vec(),
            ));
            tensors.extend(storage_tensors(q.storage()));
            let p = dir.path().join(format!("old{i}.embers"));
            safetensors::write(&p, &tensors, &meta, Some("checksum")).unwrap();
            let back = native::open(&p).unwrap();
            assert!(back.has_norms(), "{t:?}: the stored norms are used");
            assert_eq!(back.norms(), &norms[..]);
            assert_eq!(
                back.storage().to_dense().unwrap(),
                q.storage().to_dense().unwrap()
            );
            native::verify(&p).unwrap();
            // `embers info` counts the stored norms too: 4 bytes a row on top of the storage.
            let info = native::info(&p).unwrap();
            assert_eq!(info.vector_bytes, q.storage().stored_bytes() + 300 * 4);

            // An old file whose norms tensor has the wrong shape fails naming file and tensor.
            let (mut tensors, meta) = native::common_tensors(&q);
            tensors.push(TensorOut::new(
                "norms",
                Dtype::F32,
                vec![299],
                bytes_of(&norms[..299]).to_vec(),
            ));
            tensors.extend(storage_tensors(q.storage()));
            let bad = dir.path().join(format!("bad{i}.embers"));
            safetensors::write(&bad, &tensors, &meta, Some("checksum")).unwrap();
            let err = native::open(&bad).unwrap_err().to_string();
            assert!(
                err.contains(&format!("bad{i}.embers")) && err.contains("norms"),
                "{err}"
            );
        }
    }

    /// Writes a native-looking file from raw tensors, to build inconsistent ones.
    fn raw_file(
        path: &std::path::Path,
        storage: &str,
        extra: Vec<TensorOut<'_>>,
        dims_meta: Option<&str>,
    ) {
        raw_file_meta(path, storage, extra, dims_meta, &[]);
    }

    fn raw_file_meta(
        path: &std::path::Path,
        storage: &str,
        extra: Vec<TensorOut<'_>>,
        dims_meta: Option<&str>,
        more: &[(&str, &str)],
    ) {
        let vocab = Vocab::from_words((0..4).map(|i| format!("w{i}")).collect()).unwrap();
        let bytes = vocab.words().text().as_bytes().to_vec();
        let offsets: Vec<u64> = vocab.words().offsets().collect();
        let mut tensors = vec![
            TensorOut::new("vocab.bytes", Dtype::U8, vec![bytes.len()], bytes.clone()),
            TensorOut::new(
                "vocab.offsets",
                Dtype::U64,
                vec![offsets.len()],
                bytes_of(&offsets).to_vec(),
            ),
        ];
        tensors.extend(extra);
        let mut meta = BTreeMap::new();
        meta.insert("format".to_string(), native::FORMAT_NAME.to_string());
        meta.insert("version".to_string(), "1".to_string());
        meta.insert("storage".to_string(), storage.to_string());
        if let Some(d) = dims_meta {
            meta.insert("dims".to_string(), d.to_string());
        }
        for (k, v) in more {
            meta.insert(k.to_string(), v.to_string());
        }
        safetensors::write(path, &tensors, &meta, Some("checksum")).unwrap();
    }

    #[test]
    fn four_bit_pq_codes_are_packed_and_old_unpacked_files_still_open() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("pq4.embers");
        // 4 rows, m = 3 (odd), dsub = 2: 16 centroids a codebook, centroid c of codebook j
        // = [100 j + c, -c].
        let cents: Vec<f32> = (0..3)
            .flat_map(|j| (0..16).flat_map(move |c| [(100 * j + c) as f32, -(c as f32)]))
            .collect();
        let codes: Vec<u8> = vec![0, 1, 2, 15, 14, 13, 7, 0, 9, 3, 3, 3];
        let want = |row: usize| -> Vec<f32> {
            (0..3)
                .flat_map(|j| {
                    let c = codes[row * 3 + j] as usize;
                    [(100 * j + c) as f32, -(c as f32)]
                })
                .collect()
        };
        let centroids = || {
            TensorOut::new(
                "quantizer.centroids",
                Dtype::F32,
                vec![3, 16, 2],
                bytes_of(&cents).to_vec(),
            )
        };
        // An old file: 4-bit codes one a byte, no `pq_codes`.
        raw_file(
            &p,
            "pq",
            vec![
                TensorOut::new("codes", Dtype::U8, vec![4, 3], codes.clone()),
                centroids(),
            ],
            Some("6"),
        );
        let old = native::open(&p).unwrap();
        for r in 0..4 {
            assert_eq!(old.get(&format!("w{r}")).unwrap(), want(r), "old row {r}");
        }
        let Storage::Pq(pq) = old.storage() else {
            panic!("pq")
        };
        assert!(pq.is_packed());
        assert_eq!(*pq.codes(), codes[..]);
        // Written back: packed, two codes a byte, and named so.
        let p2 = dir.path().join("pq4-new.embers");
        native::write(&p2, &old).unwrap();
        native::verify(&p2).unwrap();
        let file = SafetensorsFile::open(&p2).unwrap();
        assert_eq!(file.require("codes").unwrap().shape, &[4, 2]);
        assert_eq!(
            file.metadata().get(PQ_CODES_KEY).map(String::as_str),
            Some(PQ_PACKED4)
        );
        let info = native::info(&p2).unwrap();
        assert_eq!(info.vector_bytes, 4 * 2 + 3 * 16 * 2 * 4);
        let new = native::open(&p2).unwrap();
        for r in 0..4 {
            assert_eq!(
                new.get(&format!("w{r}")).unwrap(),
                want(r),
                "packed row {r}"
            );
        }
        // The packed bytes by the documented layout: code 2i low, 2i + 1 high, 0 past m.
        let packed: Vec<u8> = vec![0x10, 0x02, 0xEF, 0x0D, 0x07, 0x09, 0x33, 0x03];
        assert_eq!(pack_codes(&codes, 3), packed);
        // Malformed packed files: each refused with the tensor named, never a panic.
        let packed_file = |shape: Vec<usize>, bytes: Vec<u8>, meta: &str, cents: TensorOut| {
            raw_file_meta(
                &p,
                "pq",
                vec![TensorOut::new("codes", Dtype::U8, shape, bytes), cents],
                Some("6"),
                &[(PQ_CODES_KEY, meta)],
            );
            native::open(&p).map(|_| ()).unwrap_err().to_string()
        };
        let cases: Vec<(String, &str)> = vec![
            // Truncated: one code a byte's width under the packed name.
            (
                packed_file(vec![4, 3], codes.clone(), PQ_PACKED4, centroids()),
                "codes",
            ),
            (
                packed_file(vec![4, 1], packed[..4].to_vec(), PQ_PACKED4, centroids()),
                "codes",
            ),
            // The padding nibble of odd m set.
            (
                packed_file(
                    vec![4, 2],
                    [&packed[..7], &[0x13][..]].concat(),
                    PQ_PACKED4,
                    centroids(),
                ),
                "row 3",
            ),
            // An unknown packing.
            (
                packed_file(vec![4, 2], packed.clone(), "packed3", centroids()),
                "pq_codes",
            ),
            // Packed but not 16 centroids a codebook.
            (
                packed_file(
                    vec![4, 2],
                    packed.clone(),
                    PQ_PACKED4,
                    TensorOut::new(
                        "quantizer.centroids",
                        Dtype::F32,
                        vec![3, 8, 2],
                        bytes_of(&cents[..48]).to_vec(),
                    ),
                ),
                "not 16",
            ),
        ];
        for (i, (e, want)) in cases.iter().enumerate() {
            assert!(
                e.contains("pq4.embers") && e.contains(want),
                "case {i}: {e}"
            );
        }
    }

    #[test]
    fn inconsistent_files_are_refused_with_the_field_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.embers");
        let f32s = |n: usize| vec![0u8; n * 4];
        let cases: Vec<(&str, Vec<TensorOut<'_>>, Option<&str>, &str)> = vec![
            (
                "int8",
                vec![
                    TensorOut::new("embeddings", Dtype::I8, vec![4, 6], vec![0u8; 24]),
                    TensorOut::new("scales", Dtype::F32, vec![3], f32s(3)),
                ],
                None,
                "scales",
            ),
            (
                "int8",
                vec![TensorOut::new(
                    "embeddings",
                    Dtype::I8,
                    vec![4, 6],
                    vec![0u8; 24],
                )],
                None,
                "scales",
            ),
            (
                "f16",
                vec![TensorOut::new(
                    "embeddings",
                    Dtype::F32,
                    vec![4, 6],
                    f32s(24),
                )],
                None,
                "expected F16",
            ),
            (
                "f16",
                vec![TensorOut::new(
                    "embeddings",
                    Dtype::F16,
                    vec![5, 6],
                    vec![0u8; 60],
                )],
                None,
                "5 rows but the vocabulary has 4",
            ),
            (
                "f16",
                vec![TensorOut::new(
                    "embeddings",
                    Dtype::F16,
                    vec![4, 6],
                    vec![0u8; 48],
                )],
                Some("7"),
                "__metadata__.dims",
            ),
            (
                "pq",
                vec![
                    TensorOut::new("codes", Dtype::U8, vec![4, 2], vec![0, 1, 2, 9, 0, 0, 0, 0]),
                    TensorOut::new("quantizer.centroids", Dtype::F32, vec![2, 8, 3], f32s(48)),
                ],
                None,
                "code 1 of row 1 is 9",
            ),
            (
                "pq",
                vec![
                    TensorOut::new("codes", Dtype::U8, vec![4, 2], vec![0u8; 8]),
                    TensorOut::new("quantizer.centroids", Dtype::F32, vec![3, 8, 3], f32s(72)),
                ],
                None,
                "not [rows, m]",
            ),
            (
                "pq",
                vec![
                    TensorOut::new("codes", Dtype::U8, vec![4, 2], vec![0u8; 8]),
                    TensorOut::new("quantizer.centroids", Dtype::F32, vec![2, 6, 3], f32s(36)),
                ],
                None,
                "not 2^bits",
            ),
            (
                "pq",
                vec![
                    TensorOut::new("codes", Dtype::U8, vec![4, 2], vec![0u8; 8]),
                    TensorOut::new("quantizer.centroids", Dtype::F32, vec![2, 8, 3], f32s(48)),
                    TensorOut::new("quantizer.rotation", Dtype::F32, vec![5, 5], f32s(25)),
                ],
                None,
                "quantizer.rotation",
            ),
            (
                "rq",
                vec![
                    TensorOut::new("codes", Dtype::U8, vec![4, 2], vec![0, 1, 2, 9, 0, 0, 0, 0]),
                    TensorOut::new("quantizer.codebooks", Dtype::F32, vec![2, 8, 6], f32s(96)),
                ],
                None,
                "code 1 of row 1 is 9",
            ),
            (
                "rq",
                vec![
                    TensorOut::new("codes", Dtype::U8, vec![4, 2], vec![0u8; 8]),
                    TensorOut::new("quantizer.codebooks", Dtype::F32, vec![3, 8, 6], f32s(144)),
                ],
                None,
                "not [rows, m]",
            ),
            (
                "rq",
                vec![
                    TensorOut::new("codes", Dtype::U8, vec![4, 2], vec![0u8; 8]),
                    TensorOut::new("quantizer.codebooks", Dtype::F32, vec![2, 6, 6], f32s(72)),
                ],
                None,
                "not 2^bits",
            ),
            (
                "rq",
                vec![
                    TensorOut::new("codes", Dtype::U8, vec![4, 2], vec![0u8; 8]),
                    TensorOut::new(
                        "quantizer.codebooks",
                        Dtype::BF16,
                        vec![2, 8, 6],
                        vec![0u8; 192],
                    ),
                ],
                None,
                "expected F32",
            ),
            (
                // 8-bit codebooks without their scales.
                "rq",
                vec![
                    TensorOut::new("codes", Dtype::U8, vec![4, 2], vec![0u8; 8]),
                    TensorOut::new(
                        "quantizer.codebooks",
                        Dtype::I8,
                        vec![2, 8, 6],
                        vec![0u8; 96],
                    ),
                ],
                None,
                "quantizer.codebook_scales",
            ),
            (
                "rq",
                vec![
                    TensorOut::new("codes", Dtype::U8, vec![5, 2], vec![0u8; 10]),
                    TensorOut::new("quantizer.codebooks", Dtype::F32, vec![2, 8, 6], f32s(96)),
                ],
                None,
                "5 rows but the vocabulary has 4",
            ),
            (
                "rq",
                vec![
                    TensorOut::new("codes", Dtype::U8, vec![4, 0], Vec::new()),
                    TensorOut::new("quantizer.codebooks", Dtype::F32, vec![0, 8, 6], Vec::new()),
                ],
                None,
                "subquantizers",
            ),
            (
                "rq",
                vec![TensorOut::new("codes", Dtype::U8, vec![4, 2], vec![0u8; 8])],
                None,
                "quantizer.codebooks",
            ),
            (
                "rq",
                vec![
                    TensorOut::new("codes", Dtype::U8, vec![4, 2], vec![0u8; 8]),
                    TensorOut::new("quantizer.codebooks", Dtype::F32, vec![2, 8, 6], f32s(96)),
                ],
                Some("5"),
                "__metadata__.dims",
            ),
            (
                "int4",
                vec![TensorOut::new(
                    "embeddings",
                    Dtype::I8,
                    vec![4, 6],
                    vec![0u8; 24],
                )],
                None,
                "unknown storage kind",
            ),
        ];
        for (storage, tensors, dims, want) in cases {
            raw_file(&p, storage, tensors, dims);
            let e = native::open(&p).unwrap_err().to_string();
            assert!(
                e.contains("bad.embers") && e.contains(want),
                "{storage}: {e}"
            );
        }
        // A consistent hand-made PQ file opens and decodes by the documented layout.
        let cents: Vec<f32> = (0..48).map(|i| i as f32).collect();
        raw_file(
            &p,
            "pq",
            vec![
                TensorOut::new("codes", Dtype::U8, vec![4, 2], vec![0, 1, 2, 7, 0, 0, 5, 3]),
                TensorOut::new(
                    "quantizer.centroids",
                    Dtype::F32,
                    vec![2, 8, 3],
                    bytes_of(&cents).to_vec(),
                ),
            ],
            Some("6"),
        );
        let e = native::open(&p).unwrap();
        assert_eq!(e.storage().kind(), "pq");
        // Row 1: codebook 0 centroid 2 = [6, 7, 8]; codebook 1 centroid 7 = 24 + 21.. = [45, 46, 47].
        assert_eq!(e.get("w1").unwrap(), vec![6.0, 7.0, 8.0, 45.0, 46.0, 47.0]);
        assert_eq!(native::info(&p).unwrap().dims, 6);
        // A consistent hand-made RQ file: rows are sums of codewords of all dims.
        raw_file(
            &p,
            "rq",
            vec![
                TensorOut::new("codes", Dtype::U8, vec![4, 2], vec![0, 1, 2, 7, 0, 0, 5, 3]),
                TensorOut::new(
                    "quantizer.codebooks",
                    Dtype::F32,
                    vec![2, 8, 3],
                    bytes_of(&cents).to_vec(),
                ),
            ],
            Some("3"),
        );
        let e = native::open(&p).unwrap();
        assert_eq!(e.storage().kind(), "rq");
        // Row 1: codebook 0 codeword 2 = [6, 7, 8] plus codebook 1 codeword 7 = [45, 46, 47].
        assert_eq!(e.get("w1").unwrap(), vec![51.0, 53.0, 55.0]);
        let info = native::info(&p).unwrap();
        assert_eq!((info.dims, info.vector_bytes), (3, 4 * 2 + 48 * 4));
    }

    #[test]
    fn truncated_or_corrupt_rq_files_are_errors_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let e = model(300, 24);
        let t = targets().pop().unwrap();
        let q = quantize(&e, &t, &silent).unwrap();
        assert_eq!(q.storage().kind(), "rq");
        let p = dir.path().join("rq.embers");
        native::write(&p, &q).unwrap();
        let good = std::fs::read(&p).unwrap();
        // Cut anywhere: in the header, in the codes, in the codebooks.
        for cut in [
            4,
            100,
            good.len() / 2,
            good.len() - 4 * 24 - 1,
            good.len() - 1,
        ] {
            let bad = dir.path().join("cut.embers");
            std::fs::write(&bad, &good[..cut]).unwrap();
            let err = native::open(&bad).unwrap_err().to_string();
            assert!(err.contains("cut.embers"), "cut at {cut}: {err}");
        }
        // A codebook value flipped to NaN is refused (checksum aside: open checks values).
        let cb = native::info(&p).unwrap();
        assert_eq!(cb.vector_bytes, 300 * 4 + 4 * 64 * 24 * 4);
        let file = safetensors::SafetensorsFile::open(&p).unwrap();
        let at = file.file_offset("quantizer.codebooks").unwrap();
        drop(file);
        let mut nan = good.clone();
        nan[at..at + 4].copy_from_slice(&f32::NAN.to_le_bytes());
        let bad = dir.path().join("nan.embers");
        std::fs::write(&bad, &nan).unwrap();
        let err = native::open(&bad).unwrap_err().to_string();
        assert!(
            err.contains("nan.embers") && err.contains("finite"),
            "{err}"
        );
        assert!(native::verify(&bad).is_err(), "the checksum catches it too");
    }

    #[test]
    fn half_precision_rq_codebooks_round_trip_and_malformed_ones_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let e = model(300, 24);
        let t = targets()
            .into_iter()
            .find(|t| t.describe().contains(r#""codebook_dtype":"f16""#))
            .unwrap();
        let q = quantize(&e, &t, &silent).unwrap();
        let Storage::Rq(rq) = q.storage() else {
            panic!("not rq")
        };
        assert_eq!(rq.codebook_dtype(), CodebookDtype::F16);
        // Every codebook value is exactly a half: stored in 2 bytes, read back bit for bit.
        for v in rq.codebooks() {
            assert_eq!(half::f16::from_f32(*v).to_f32().to_bits(), v.to_bits());
        }
        assert_eq!(q.storage().stored_bytes(), 300 * 3 + 3 * 32 * 24 * 2);
        let p = dir.path().join("h.embers");
        native::write(&p, &q).unwrap();
        assert_eq!(
            native::info(&p).unwrap().vector_bytes,
            300 * 3 + 3 * 32 * 24 * 2
        );
        let back = native::open(&p).unwrap();
        let Storage::Rq(b) = back.storage() else {
            panic!("not rq")
        };
        assert_eq!(b.codebook_dtype(), CodebookDtype::F16);
        assert_eq!(b.codebooks(), rq.codebooks());
        assert_eq!(b.codes(), rq.codes());
        assert!(back.metadata()["quantizer"].contains(r#""codebook_dtype":"f16""#));
        assert!(back.metadata()["quantizer"].contains(r#""kind":"cosine""#));

        let good = std::fs::read(&p).unwrap();
        let file = safetensors::SafetensorsFile::open(&p).unwrap();
        let at = file.file_offset("quantizer.codebooks").unwrap();
        drop(file);
        // An infinite half is refused when the file is opened.
        let mut inf = good.clone();
        inf[at..at + 2].copy_from_slice(&half::f16::INFINITY.to_le_bytes());
        let bad = dir.path().join("inf.embers");
        std::fs::write(&bad, &inf).unwrap();
        let err = native::open(&bad).unwrap_err().to_string();
        assert!(
            err.contains("inf.embers") && err.contains("finite"),
            "{err}"
        );
        // Codebooks of another 2-byte dtype (BF16; same length, so the container is valid):
        // refused naming the tensor and what was expected.
        let n = u64::from_le_bytes(good[..8].try_into().unwrap()) as usize;
        let header = std::str::from_utf8(&good[8..8 + n]).unwrap();
        let j: serde_json::Value = serde_json::from_str(header).unwrap();
        assert_eq!(j["quantizer.codebooks"]["dtype"], "F16");
        let swapped = header.replacen(r#""dtype":"F16""#, r#""dtype":"BF16""#, 1);
        assert_eq!(swapped.len(), n + 1);
        // The header one byte longer (offsets are relative to its end), space-padded to 8.
        let h = swapped.trim_end();
        let len = h.len().div_ceil(8) * 8;
        let mut raw = Vec::new();
        raw.extend_from_slice(&(len as u64).to_le_bytes());
        raw.extend_from_slice(format!("{h:<len$}").as_bytes());
        raw.extend_from_slice(&good[8 + n..]);
        let bad = dir.path().join("bf16.embers");
        std::fs::write(&bad, &raw).unwrap();
        let err = native::open(&bad).unwrap_err().to_string();
        assert!(
            err.contains("bf16.embers") && err.contains("quantizer.codebooks"),
            "{err}"
        );
    }

    #[test]
    fn int8_rq_codebooks_round_trip_and_bad_scales_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let e = model(300, 24);
        let t = targets()
            .into_iter()
            .find(|t| t.describe().contains(r#""codebook_dtype":"int8""#))
            .unwrap();
        let q = quantize(&e, &t, &silent).unwrap();
        let Storage::Rq(rq) = q.storage() else {
            panic!("not rq")
        };
        assert_eq!(rq.codebook_dtype(), CodebookDtype::Int8);
        // 1 byte a codebook value and 4 a codeword's scale.
        let want = 300 * 3 + 3 * 32 * 24 + 3 * 32 * 4;
        assert_eq!(q.storage().stored_bytes(), want);
        let p = dir.path().join("i.embers");
        native::write(&p, &q).unwrap();
        assert_eq!(native::info(&p).unwrap().vector_bytes, want);
        let back = native::open(&p).unwrap();
        let Storage::Rq(b) = back.storage() else {
            panic!("not rq")
        };
        assert_eq!(b.codebooks(), rq.codebooks());
        assert_eq!(b.codebook_scales(), rq.codebook_scales());
        assert_eq!(b.codes(), rq.codes());
        // Every value is q × its codeword's scale, |q| ≤ 127, the largest at ±127.
        for (w, &s) in rq.codebooks().chunks(24).zip(rq.codebook_scales()) {
            let max = w.iter().fold(0.0f32, |a, v| a.max((v / s).round().abs()));
            assert!(s == 0.0 || max == 127.0, "{max}");
        }
        // A negative or NaN scale is refused naming the tensor.
        let good = std::fs::read(&p).unwrap();
        let file = safetensors::SafetensorsFile::open(&p).unwrap();
        let at = file.file_offset("quantizer.codebook_scales").unwrap();
        drop(file);
        for (v, name) in [(-1.0f32, "neg"), (f32::NAN, "nan")] {
            let mut raw = good.clone();
            raw[at..at + 4].copy_from_slice(&v.to_le_bytes());
            let bad = dir.path().join(format!("{name}.embers"));
            std::fs::write(&bad, &raw).unwrap();
            let err = native::open(&bad).unwrap_err().to_string();
            assert!(err.contains(&format!("{name}.embers")), "{err}");
            assert!(
                err.contains("codebook_scales") || err.contains("finite"),
                "{err}"
            );
        }
        // An int8 value of -128 (outside the symmetric range the writer uses) is refused.
        let file = safetensors::SafetensorsFile::open(&p).unwrap();
        let at = file.file_offset("quantizer.codebooks").unwrap();
        drop(file);
        let mut raw = good.clone();
        raw[at] = 0x80;
        let bad = dir.path().join("m128.embers");
        std::fs::write(&bad, &raw).unwrap();
        let err = native::open(&bad).unwrap_err().to_string();
        assert!(
            err.contains("m128.embers") && err.contains("8-bit"),
            "{err}"
        );
    }

    #[test]
    fn rq_codebooks_beyond_half_precision_are_an_error_not_a_panic() {
        let mut rng = Rng::new(3);
        let m =
            DenseMatrix::new(300, 8, (0..300 * 8).map(|_| rng.normal() * 1.0e6).collect()).unwrap();
        let vocab = Vocab::from_words((0..300).map(|i| format!("w{i}")).collect()).unwrap();
        let e = Embeddings::new(vocab, m).unwrap();
        let t = Target::Rq(RqConfig {
            subquantizers: 2,
            bits: 4,
            sample: 300,
            codebook_dtype: CodebookDtype::F16,
            local_search: 0,
            ..RqConfig::for_dims(8)
        });
        let err = quantize(&e, &t, &silent).unwrap_err().to_string();
        assert!(
            err.contains("codebook_dtype") && err.contains("f16"),
            "{err}"
        );
    }
}
