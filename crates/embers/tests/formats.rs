//! The format readers and writers against files written by other tools (word2vec C, GloVe,
//! fastText, gensim — fetched by `scripts/fetch-testdata.sh`), with references parsed here by a
//! deliberately naive reader or computed by the original tools.

use std::path::{Path, PathBuf};

use embers::io::{self, Format, ReadOptions};
use embers::Embeddings;

fn testdata() -> PathBuf {
    embers_testkit::testdata("gensim")
}

fn gensim(name: &str) -> PathBuf {
    testdata().join("gensim").join(name)
}

/// A naive reference reader of `word v1 .. vd` text: `str::split_whitespace` and `str::parse`.
fn naive_text(path: &Path, header: bool) -> Vec<(String, Vec<f32>)> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .skip(usize::from(header))
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let mut f = l.split_whitespace();
            let w = f.next().unwrap().to_string();
            (w, f.map(|v| v.parse::<f32>().unwrap()).collect())
        })
        .collect()
}

/// A naive reference reader of word2vec binary.
fn naive_binary(path: &Path) -> Vec<(String, Vec<f32>)> {
    let bytes = std::fs::read(path).unwrap();
    let nl = bytes.iter().position(|&b| b == b'\n').unwrap();
    let header = std::str::from_utf8(&bytes[..nl]).unwrap();
    let mut h = header.split(' ').map(|x| x.parse::<usize>().unwrap());
    let (rows, dims) = (h.next().unwrap(), h.next().unwrap());
    let mut pos = nl + 1;
    let mut out = Vec::new();
    for _ in 0..rows {
        while bytes[pos] == b'\n' {
            pos += 1;
        }
        let sp = pos + bytes[pos..].iter().position(|&b| b == b' ').unwrap();
        let word = String::from_utf8(bytes[pos..sp].to_vec()).unwrap();
        let v = (0..dims)
            .map(|k| {
                let o = sp + 1 + 4 * k;
                f32::from_le_bytes(bytes[o..o + 4].try_into().unwrap())
            })
            .collect();
        out.push((word, v));
        pos = sp + 1 + 4 * dims;
    }
    out
}

fn assert_matches(e: &Embeddings, reference: &[(String, Vec<f32>)]) {
    assert_eq!(e.len(), reference.len());
    for (i, (w, v)) in reference.iter().enumerate() {
        assert_eq!(e.vocab().token(i as u32), Some(w.as_str()), "row {i}");
        assert_eq!(&e.vector(i as u32).unwrap(), v, "row {i} ({w})");
    }
}

fn assert_same(a: &Embeddings, b: &Embeddings) {
    assert_eq!(a.vocab().words(), b.vocab().words());
    assert_eq!(
        a.storage().to_dense().unwrap(),
        b.storage().to_dense().unwrap()
    );
}

/// Every writer's output reads back identically, in every text/binary format that can hold it.
fn assert_writers_round_trip(e: &Embeddings) {
    let dir = tempfile::tempdir().unwrap();
    for (format, name) in [
        (Format::Word2VecText, "x.txt"),
        (Format::Word2VecBinary, "x.bin"),
        (Format::Glove, "x.glove"),
        (Format::Native, "x.embers"),
        (Format::Npy, "x.npy"),
        (Format::FastTextBin, "x.ftbin"),
    ] {
        let p = dir.path().join(name);
        io::write(&p, e, format).unwrap();
        assert_eq!(io::sniff(&p).unwrap(), format, "{name}");
        let back = io::read(&p, &ReadOptions::default()).unwrap();
        assert_same(e, &back);
    }
}

#[test]
fn word2vec_c_text_files() {
    for name in [
        "word2vec_pre_kv_c",
        "EN.1-10.cbow1_wind5_hs0_neg10_size300_smpl1e-05.txt",
        "lee_fasttext.vec",
        "crime-and-punishment.vec",
    ] {
        let p = gensim(name);
        assert_eq!(io::sniff(&p).unwrap(), Format::Word2VecText, "{name}");
        let (e, report) = io::read_with_report(&p, &ReadOptions::default()).unwrap();
        assert!(report.duplicates.is_empty(), "{name}");
        assert_matches(&e, &naive_text(&p, true));
        assert_writers_round_trip(&e);
    }
    let e = io::read(gensim("word2vec_pre_kv_c"), &ReadOptions::default()).unwrap();
    assert_eq!((e.len(), e.dims()), (1750, 10));
}

#[test]
fn word2vec_c_binary_file() {
    let p = gensim("euclidean_vectors.bin");
    assert_eq!(io::sniff(&p).unwrap(), Format::Word2VecBinary);
    let e = io::read(&p, &ReadOptions::default()).unwrap();
    assert_matches(&e, &naive_binary(&p));
    assert_writers_round_trip(&e);
    let opts = ReadOptions {
        limit: Some(7),
        ..Default::default()
    };
    let first = io::read(&p, &opts).unwrap();
    assert_matches(&first, &naive_binary(&p)[..7]);
}

#[test]
fn glove_file() {
    let p = gensim("test_glove.txt");
    assert_eq!(io::sniff(&p).unwrap(), Format::Glove);
    let e = io::read(&p, &ReadOptions::default()).unwrap();
    assert_matches(&e, &naive_text(&p, false));
    assert_writers_round_trip(&e);
}

#[test]
fn gzip_copies_read_the_same() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "test_glove.txt",
        "euclidean_vectors.bin",
        "word2vec_pre_kv_c",
    ] {
        let p = gensim(name);
        let gz = dir.path().join(format!("{name}.gz"));
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(&std::fs::read(&p).unwrap()).unwrap();
        std::fs::write(&gz, enc.finish().unwrap()).unwrap();
        let a = io::read(&p, &ReadOptions::default()).unwrap();
        let b = io::read(&gz, &ReadOptions::default()).unwrap();
        assert_same(&a, &b);
        let lim = ReadOptions {
            limit: Some(3),
            ..Default::default()
        };
        assert_eq!(io::read(&gz, &lim).unwrap().len(), 3);
    }
}

#[test]
fn broken_copies_fail_with_positions() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read(gensim("word2vec_pre_kv_c")).unwrap();
    let err = |bytes: &[u8], from: Format| {
        let p = dir.path().join("broken");
        std::fs::write(&p, bytes).unwrap();
        let opts = ReadOptions {
            format: Some(from),
            ..Default::default()
        };
        io::read(&p, &opts).unwrap_err().to_string()
    };
    // Truncated in the middle of a line: fewer rows than promised (the count is checked first).
    let cut = &text[..text.len() / 2];
    let e = err(cut, Format::Word2VecText);
    assert!(e.contains("line 881: the header promises 1750 rows"), "{e}");
    // The same cut with the header corrected: the last row is short.
    let fixed = [
        b"879 10".as_slice(),
        &cut[cut.iter().position(|&b| b == b'\n').unwrap()..],
    ]
    .concat();
    let e = err(&fixed, Format::Word2VecText);
    assert!(
        e.contains("line 880: the row has") && e.contains("expected 10"),
        "{e}"
    );
    // Truncated at a line end: fewer rows than the header promises.
    let at = cut.iter().rposition(|&b| b == b'\n').unwrap() + 1;
    let e = err(&text[..at], Format::Word2VecText);
    assert!(e.contains("the header promises 1750 rows"), "{e}");
    // A header promising more dims than the rows have.
    let mut bad = b"1750 11".to_vec();
    bad.extend_from_slice(&text[text.iter().position(|&b| b == b'\n').unwrap()..]);
    let e = err(&bad, Format::Word2VecText);
    assert!(
        e.contains("line 2: the row has 10 values, expected 11"),
        "{e}"
    );
    // NaN in the third row.
    let s = String::from_utf8(text.clone()).unwrap();
    let third = s.lines().nth(3).unwrap();
    let mut fields: Vec<&str> = third.split(' ').collect();
    fields[2] = "nan";
    let nan = s.replacen(third, &fields.join(" "), 1);
    let e = err(nan.as_bytes(), Format::Word2VecText);
    assert!(e.contains("line 4") && e.contains("NaN"), "{e}");
    // Invalid UTF-8 in a word.
    let mut inv = text.clone();
    let o = s.find("\nof ").unwrap() + 1;
    inv[o] = 0xff;
    let e = err(&inv, Format::Word2VecText);
    assert!(e.contains("line 4") && e.contains("UTF-8"), "{e}");

    let bin = std::fs::read(gensim("euclidean_vectors.bin")).unwrap();
    let e = err(&bin[..bin.len() - 10], Format::Word2VecBinary);
    assert!(e.contains("byte") && e.contains("truncated"), "{e}");
    let e = err(&bin[..100], Format::Word2VecBinary);
    assert!(e.contains("byte") && e.contains("truncated"), "{e}");
}

/// Runs `fasttext print-word-vectors MODEL` on `words`; the tool must be installed
/// (`apt-get install fasttext`; `.ci/run` does it).
fn fasttext_vectors(model: &Path, words: &[&str]) -> Vec<(String, Vec<f32>)> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new("fasttext")
        .arg("print-word-vectors")
        .arg(model)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the `fasttext` tool (Debian package fasttext) must be installed for this test");
    let mut stdin = child.stdin.take().unwrap();
    let input = words.join("\n") + "\n";
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(
        out.status.success(),
        "fasttext failed on {}",
        model.display()
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let rows: Vec<(String, Vec<f32>)> = text
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let n = f.len();
            // The word is everything but the last DIMS fields; DIMS is the same on every line.
            (
                f[0].to_string(),
                f[1..n].iter().map(|v| v.parse().unwrap()).collect(),
            )
        })
        .collect();
    assert_eq!(rows.len(), words.len());
    rows
}

/// Word vectors computed by gensim 4.4 (`load_facebook_vectors`), for old-layout files the
/// fastText tool no longer loads. gensim must be installed (`.ci/run` does it).
fn gensim_vectors(model: &Path, words: &[&str]) -> Vec<Vec<f32>> {
    let script = "import json,sys\nfrom gensim.models.fasttext import load_facebook_vectors\n\
                  kv=load_facebook_vectors(sys.argv[1])\n\
                  print(json.dumps([kv[w].tolist() for w in json.loads(sys.argv[2])]))";
    let out = embers_testkit::python()
        .args(["-c", script])
        .arg(model)
        .arg(serde_json::to_string(words).unwrap())
        .output()
        .expect("the reference Python runs (scripts/test.sh sets it up)");
    assert!(
        out.status.success(),
        "gensim 4.4 is needed for this test (pip install gensim==4.4.0): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn close(a: &[f32], b: &[f32], what: &str) {
    assert_eq!(a.len(), b.len(), "{what}");
    for (k, (x, y)) in a.iter().zip(b).enumerate() {
        let tol = 1e-4 * x.abs().max(y.abs()).max(1.0);
        assert!((x - y).abs() <= tol, "{what}[{k}]: {x} vs {y}");
    }
}

const OOV: &[&str] = &[
    "overwhelmingly",
    "qzxv",
    "королевство",
    "naïveté",
    "unseenword",
];

fn probe_words(e: &Embeddings) -> Vec<String> {
    let mut words: Vec<String> = e
        .vocab()
        .words()
        .iter()
        .take(12)
        .map(String::from)
        .collect();
    words.push(e.vocab().words()[e.len() - 1].to_owned());
    for w in OOV {
        assert!(e.vocab().id(w).is_none(), "{w} should be out of vocabulary");
        words.push(w.to_string());
    }
    words
}

#[test]
fn fasttext_current_format_matches_the_fasttext_tool() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["lee_fasttext_new.bin", "crime-and-punishment.bin"] {
        let p = gensim(name);
        assert_eq!(io::sniff(&p).unwrap(), Format::FastTextBin, "{name}");
        let e = io::read(&p, &ReadOptions::default()).unwrap();
        assert!(e.subwords().is_some());
        let words = probe_words(&e);
        let refs: Vec<&str> = words.iter().map(String::as_str).collect();
        for (w, want) in refs.iter().zip(fasttext_vectors(&p, &refs)) {
            close(&e.get(w).unwrap(), &want.1, &format!("{name} {w}"));
        }
        // Our reader + writer reproduce the file byte for byte.
        let model = io::fasttext::FastTextModel::read_bin(&p, &ReadOptions::default()).unwrap();
        assert!(model.version.is_some());
        let copy = dir.path().join("copy.bin");
        model.write_bin(&copy).unwrap();
        let (mut ours, theirs) = (std::fs::read(&copy).unwrap(), std::fs::read(&p).unwrap());
        ours[4..8].copy_from_slice(&theirs[4..8]); // the version we write is 12
        assert!(ours == theirs, "{name}");
        // Embeddings written as .bin load in fastText with the same vectors, OOV included.
        let out = dir.path().join("out.bin");
        io::write(&out, &e, Format::FastTextBin).unwrap();
        for (w, got) in refs.iter().zip(fasttext_vectors(&out, &refs)) {
            close(&e.get(w).unwrap(), &got.1, &format!("written {name} {w}"));
        }
        let back = io::read(&out, &ReadOptions::default()).unwrap();
        assert_eq!(back.vocab().words(), e.vocab().words());
        for w in &refs {
            close(
                &back.get(w).unwrap(),
                &e.get(w).unwrap(),
                &format!("reread {name} {w}"),
            );
        }
    }
}

#[test]
fn fasttext_writer_without_subwords_loads_in_fasttext() {
    // Vectors without subwords become a model with no buckets: fastText prints the rows as they
    // are, and zeros for unknown words.
    let dir = tempfile::tempdir().unwrap();
    let e = io::read(gensim("word2vec_pre_kv_c"), &ReadOptions::default()).unwrap();
    let out = dir.path().join("w.bin");
    io::write(&out, &e, Format::FastTextBin).unwrap();
    let words = ["the", "of", "mathematics", "zzzzq"];
    for (w, got) in words.iter().zip(fasttext_vectors(&out, &words)) {
        let want = e.get(w).unwrap_or(vec![0.0; 10]);
        close(&want, &got.1, w);
    }
}

#[test]
fn fasttext_old_format_matches_gensim() {
    for name in ["lee_fasttext.bin", "non_ascii_fasttext.bin"] {
        let p = gensim(name);
        assert_eq!(io::sniff(&p).unwrap(), Format::FastTextBin, "{name}");
        let model = io::fasttext::FastTextModel::read_bin(&p, &ReadOptions::default()).unwrap();
        assert_eq!(model.version, None);
        let e = io::read(&p, &ReadOptions::default()).unwrap();
        let words = probe_words(&e);
        let refs: Vec<&str> = words.iter().map(String::as_str).collect();
        for (w, want) in refs.iter().zip(gensim_vectors(&p, &refs)) {
            close(&e.get(w).unwrap(), &want, &format!("{name} {w}"));
        }
    }
    // The .vec written by fastText with the same model holds the same in-vocabulary vectors.
    let bin = io::read(gensim("lee_fasttext.bin"), &ReadOptions::default()).unwrap();
    let vec = io::read(gensim("lee_fasttext.vec"), &ReadOptions::default()).unwrap();
    assert_eq!(bin.vocab().words(), vec.vocab().words());
    for (i, w) in vec.vocab().words().iter().enumerate() {
        close(&bin.get(w).unwrap(), &vec.vector(i as u32).unwrap(), w);
    }
    let bin = io::read(gensim("crime-and-punishment.bin"), &ReadOptions::default()).unwrap();
    let vec = io::read(gensim("crime-and-punishment.vec"), &ReadOptions::default()).unwrap();
    for (i, w) in vec.vocab().words().iter().enumerate() {
        close(&bin.get(w).unwrap(), &vec.vector(i as u32).unwrap(), w);
    }
}

#[test]
fn fasttext_cp852_needs_lossy() {
    let p = gensim("cp852_fasttext.bin");
    let err = io::read(&p, &ReadOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("byte") && err.contains("UTF-8") && err.contains("--lossy"),
        "{err}"
    );
    let lossy = ReadOptions {
        lossy: true,
        ..Default::default()
    };
    let (e, report) = io::read_with_report(&p, &lossy).unwrap();
    let model = io::fasttext::FastTextModel::read_bin(&p, &lossy).unwrap();
    // Distinct byte strings can become the same word once invalid bytes are replaced: the
    // first is kept, the others reported.
    assert!(!report.duplicates.is_empty());
    assert_eq!(e.len() + report.duplicates.len(), model.nwords());
    // Words that are valid UTF-8, and OOV words, agree with gensim.
    let mut words: Vec<&str> = e
        .vocab()
        .words()
        .iter()
        .filter(|w| w.is_ascii())
        .take(10)
        .collect();
    words.extend(OOV.iter().filter(|w| e.vocab().id(w).is_none()));
    for (w, want) in words.iter().zip(gensim_vectors(&p, &words)) {
        close(&e.get(w).unwrap(), &want, &format!("cp852 {w}"));
    }
}

#[test]
fn fasttext_broken_copies_fail_with_positions() {
    let dir = tempfile::tempdir().unwrap();
    let bin = std::fs::read(gensim("lee_fasttext_new.bin")).unwrap();
    let p = dir.path().join("broken.bin");
    let opts = ReadOptions {
        format: Some(Format::FastTextBin),
        ..Default::default()
    };
    for cut in [10, 70, 200, bin.len() / 2, bin.len() - 4] {
        std::fs::write(&p, &bin[..cut]).unwrap();
        let e = io::read(&p, &opts).unwrap_err().to_string();
        assert!(
            e.contains("byte") && e.contains("truncated"),
            "cut {cut}: {e}"
        );
    }
    let mut bad = bin.clone();
    let at = bin.len() - 4 * 7;
    bad[at..at + 4].copy_from_slice(&f32::NAN.to_le_bytes());
    std::fs::write(&p, &bad).unwrap();
    let e = io::read(&p, &opts).unwrap_err().to_string();
    assert!(
        e.contains(&format!("byte {at}")) && e.contains("NaN"),
        "{e}"
    );
}

/// Runs a Python snippet with numpy (installed with gensim by `.ci/run`).
fn python(script: &str, args: &[&str]) -> String {
    let out = embers_testkit::python()
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("the reference Python runs (scripts/test.sh sets it up)");
    assert!(
        out.status.success(),
        "the numpy reference failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn npy_files_written_by_numpy() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    // numpy writes the same 5 × 3 matrix in several dtypes and orders, and prints it.
    let printed = python(
        "import numpy as np, sys, json\nd=sys.argv[1]\n\
         m=(np.arange(15).reshape(5,3)-7)/np.float64(3)\n\
         np.save(d+'/f32.npy', m.astype('<f4')); np.save(d+'/f64.npy', m)\n\
         np.save(d+'/f16.npy', m.astype('<f2')); np.save(d+'/be.npy', m.astype('>f4'))\n\
         np.save(d+'/fortran.npy', np.asfortranarray(m.astype('<f4')))\n\
         np.save(d+'/int.npy', np.arange(6).reshape(2,3))\n\
         print(json.dumps({'f32': m.astype('<f4').tolist(), 'f16': m.astype('<f2').astype('f4').tolist()}))",
        &[d],
    );
    let want: serde_json::Value = serde_json::from_str(&printed).unwrap();
    let words = "a\nb\nc d\né\nf\n";
    for (name, key) in [
        ("f32", "f32"),
        ("f64", "f32"),
        ("f16", "f16"),
        ("be", "f32"),
    ] {
        let p = dir.path().join(format!("{name}.npy"));
        std::fs::write(io::npy::vocab_path(&p), words).unwrap();
        assert_eq!(io::sniff(&p).unwrap(), Format::Npy);
        let e = io::read(&p, &ReadOptions::default()).unwrap();
        assert_eq!(&e.vocab().words()[2], "c d");
        let reference: Vec<(String, Vec<f32>)> = words
            .lines()
            .zip(want[key].as_array().unwrap())
            .map(|(w, r)| {
                let v = r
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_f64().unwrap() as f32);
                (w.to_string(), v.collect())
            })
            .collect();
        assert_matches(&e, &reference);
    }
    for bad in ["fortran", "int"] {
        let p = dir.path().join(format!("{bad}.npy"));
        std::fs::write(io::npy::vocab_path(&p), words).unwrap();
        let err = io::read(&p, &ReadOptions::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(if bad == "int" { "descr" } else { "Fortran" }),
            "{err}"
        );
    }
    // Our writer's output loads in numpy with the same values.
    let e = io::read(gensim("word2vec_pre_kv_c"), &ReadOptions::default()).unwrap();
    let out = dir.path().join("out.npy");
    io::write(&out, &e, Format::Npy).unwrap();
    let printed = python(
        "import numpy as np, sys, json\nm=np.load(sys.argv[1])\n\
         print(json.dumps([str(m.dtype), list(m.shape), m[[0, 7, 1749]].tolist()]))",
        &[out.to_str().unwrap()],
    );
    let got: serde_json::Value = serde_json::from_str(&printed).unwrap();
    assert_eq!(got[0], "float32");
    assert_eq!(got[1], serde_json::json!([1750, 10]));
    for (k, id) in [0u32, 7, 1749].into_iter().enumerate() {
        let row: Vec<f32> = got[2][k]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap() as f32)
            .collect();
        assert_eq!(row, e.vector(id).unwrap());
    }
    assert_same(&e, &io::read(&out, &ReadOptions::default()).unwrap());
}

#[test]
fn safetensors_tensor_of_a_hugging_face_checkpoint() {
    let model = testdata().join("minilm/model.safetensors");
    assert_eq!(io::sniff(&model).unwrap(), Format::Safetensors);
    let err = io::read(&model, &ReadOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("--tensor") && err.contains("embeddings.word_embeddings.weight"),
        "{err}"
    );
    let opts = ReadOptions {
        tensor: Some("embeddings.word_embeddings.weight".into()),
        ..Default::default()
    };
    let e = io::read(&model, &opts).unwrap();
    assert_eq!((e.len(), e.dims()), (30522, 384));
    assert_eq!(e.vocab().unk_id(), e.vocab().id("[UNK]"));
    // Reference: numpy reads the tensor from the raw file, json the vocabulary.
    let printed = python(
        "import json, struct, sys, numpy as np\nb=open(sys.argv[1],'rb').read()\n\
         n=struct.unpack('<Q', b[:8])[0]; h=json.loads(b[8:8+n])\n\
         t=h['embeddings.word_embeddings.weight']; s,e=t['data_offsets']\n\
         m=np.frombuffer(b[8+n+s:8+n+e], dtype='<f4').reshape(t['shape'])\n\
         v=json.load(open(sys.argv[2]))['model']['vocab']; inv={i:w for w,i in v.items()}\n\
         ids=[0,100,101,2003,7592,30521]\n\
         print(json.dumps([[inv[i], m[i].tolist()] for i in ids]))",
        &[
            model.to_str().unwrap(),
            testdata().join("minilm/tokenizer.json").to_str().unwrap(),
        ],
    );
    let rows: Vec<(String, Vec<f32>)> = serde_json::from_str(&printed).unwrap();
    for (w, v) in rows {
        assert_eq!(e.get(&w).unwrap(), v, "{w}");
    }
    // vocab.txt gives the same vocabulary as tokenizer.json.
    let with_txt = ReadOptions {
        vocab: Some(testdata().join("minilm/vocab.txt")),
        limit: Some(1000),
        ..opts.clone()
    };
    let e2 = io::read(&model, &with_txt).unwrap();
    assert_eq!(
        e2.vocab().words(),
        &e.vocab().words().iter().take(1000).collect::<Vec<_>>()
    );
    let bad = ReadOptions {
        tensor: Some("embeddings.position_embeddings.weight".into()),
        ..Default::default()
    };
    let err = io::read(&model, &bad).unwrap_err().to_string();
    assert!(err.contains("512 tokens"), "{err}");
}

#[test]
fn safetensors_half_precision_tensors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    // numpy writes a safetensors file by hand: F16 and BF16 (top half of f32) tensors.
    let printed = python(
        "import json, struct, sys, numpy as np\nd=sys.argv[1]\n\
         m=(np.arange(12, dtype='f4').reshape(4,3)-5)/7\n\
         f16=m.astype('<f2'); bf=(m.view('<u4')>>16).astype('<u2')\n\
         h={'a':{'dtype':'F16','shape':[4,3],'data_offsets':[0,24]},\
            'b':{'dtype':'BF16','shape':[4,3],'data_offsets':[24,48]}}\n\
         hb=json.dumps(h).encode(); hb+=b' '*((8-len(hb)%8)%8)\n\
         open(d+'/m.safetensors','wb').write(struct.pack('<Q',len(hb))+hb+f16.tobytes()+bf.tobytes())\n\
         open(d+'/vocab.txt','w').write('w\\nx\\ny\\nz\\n')\n\
         print(json.dumps([f16.astype('f4').tolist(), (bf.astype('<u4')<<16).view('<f4').tolist()]))",
        &[d],
    );
    let want: Vec<Vec<Vec<f32>>> = serde_json::from_str(&printed).unwrap();
    for (k, name) in ["a", "b"].into_iter().enumerate() {
        let opts = ReadOptions {
            tensor: Some(name.into()),
            ..Default::default()
        };
        let e = io::read(dir.path().join("m.safetensors"), &opts).unwrap();
        for (i, w) in ["w", "x", "y", "z"].into_iter().enumerate() {
            assert_eq!(e.get(w).unwrap(), want[k][i], "{name} {w}");
        }
    }
}
