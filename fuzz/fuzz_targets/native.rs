//! Fuzzes the safetensors container and the native format on it: `SafetensorsFile::open` and
//! every tensor view, then `native::{info, open, verify}`.
#![no_main]

use embers::io::{native, safetensors};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = embers_fuzz::scratch_file("in.embers", data);
    if let Ok(file) = safetensors::SafetensorsFile::open(&path) {
        let _ = file.metadata().len();
        for name in file.tensors().keys() {
            let t = file
                .require(name)
                .expect("a listed tensor must be readable");
            let n: usize = t.shape.iter().product();
            assert_eq!(
                t.bytes.len(),
                n * t.dtype.size(),
                "tensor {name}: size mismatch"
            );
            if t.dtype == safetensors::Dtype::F32 {
                assert_eq!(safetensors::f32s(t.bytes).len(), n);
            }
        }
        let _ = native::read_vocab(&file);
    }
    let _ = native::info(&path);
    let _ = native::verify(&path);
    if let Ok(emb) = native::open(&path) {
        embers_fuzz::exercise(&emb);
    }
});
