//! Fuzzes the fastText `.bin` reader (current layout with magic and version, and the pre-0.9
//! layout without), including out-of-vocabulary vectors from the subwords it keeps.
#![no_main]

use embers::io::Format;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = embers_fuzz::scratch_file("in.bin", data);
    embers_fuzz::run_reader(&path, &embers_fuzz::format(Format::FastTextBin));
});
