//! Reading and writing embedding files: one module per format, plus atomic writes.

pub mod atomic;
pub mod native;
pub mod safetensors;
