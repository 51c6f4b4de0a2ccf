//! Fuzzes the word2vec text reader (also fastText `.vec`), and format sniffing on its input.
#![no_main]

use embers::io::{self, Format};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = embers_fuzz::scratch_file("in.vec", data);
    let _ = io::sniff(&path);
    embers_fuzz::run_reader(&path, &embers_fuzz::format(Format::Word2VecText));
});
