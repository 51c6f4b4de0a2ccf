//! Fuzzes a Hugging Face model folder as `embers tokens` / `serve` open it: the input is
//! `config.json`, `embers_fuzz::SEP`, `tokenizer.json`, `SEP`, `model.safetensors`; the folder
//! is opened (`InputEmbeddings::from_dir`) and, when it opens, texts are embedded.
#![no_main]

use embers::transformer::InputEmbeddings;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    embers_fuzz::let_embers_catch_tokenizers_panics();
    let (config, rest) = embers_fuzz::split(data);
    let (tokenizer, weights) = embers_fuzz::split(rest);
    let dir = embers_fuzz::scratch_dir().join("folder");
    std::fs::create_dir_all(&dir).expect("scratch folder");
    for (name, bytes) in [
        ("config.json", config),
        ("tokenizer.json", tokenizer),
        ("model.safetensors", weights),
    ] {
        std::fs::write(dir.join(name), bytes).expect("scratch file");
    }
    if let Ok(layer) = InputEmbeddings::from_dir(&dir) {
        let _ = layer.embed_text("hello world", None);
        let _ = layer.embed_text("hello", Some("world hello"));
    }
});
