//! Fuzzes the numpy reader: the input is `X.npy`, then `embers_fuzz::SEP`, then `X.vocab.txt`.
#![no_main]

use embers::io::Format;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (matrix, vocab) = embers_fuzz::split(data);
    let path = embers_fuzz::scratch_file("in.npy", matrix);
    embers_fuzz::scratch_file("in.vocab.txt", vocab);
    embers_fuzz::run_reader(&path, &embers_fuzz::format(Format::Npy));
});
