//! Fuzzes reading one tensor of a safetensors checkpoint with its vocabulary: the input is the
//! checkpoint, then `embers_fuzz::SEP`, then the vocabulary, read as `tokenizer.json` and as
//! `vocab.txt`. The tensor read is `w` (the seeds name their tensor so).
#![no_main]

use embers::io::{hf, Format, ReadOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (checkpoint, vocab) = embers_fuzz::split(data);
    let path = embers_fuzz::scratch_file("model.safetensors", checkpoint);
    let json = embers_fuzz::scratch_file("tokenizer.json", vocab);
    let txt = embers_fuzz::scratch_file("vocab.txt", vocab);
    let _ = hf::read_vocab(&json);
    let _ = hf::read_vocab(&txt);
    for v in [json, txt] {
        let base = ReadOptions {
            tensor: Some("w".into()),
            vocab: Some(v),
            ..embers_fuzz::format(Format::Safetensors)
        };
        embers_fuzz::run_reader(&path, &base);
    }
});
