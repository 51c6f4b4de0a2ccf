//! Fuzzes the word2vec binary reader.
#![no_main]

use embers::io::Format;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = embers_fuzz::scratch_file("in.bin", data);
    embers_fuzz::run_reader(&path, &embers_fuzz::format(Format::Word2VecBinary));
});
