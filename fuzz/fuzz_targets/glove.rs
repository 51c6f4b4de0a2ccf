//! Fuzzes the GloVe text reader (no header; dims from the first line).
#![no_main]

use embers::io::Format;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = embers_fuzz::scratch_file("in.txt", data);
    embers_fuzz::run_reader(&path, &embers_fuzz::format(Format::Glove));
});
