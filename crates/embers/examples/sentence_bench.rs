//! Times `StaticModel::encode` on a file of texts (bench/sentence.sh).
//! Usage: sentence_bench MODEL_DIR TEXTS_FILE OUT_F32 REPEATS
//! Prints {"seconds": best of REPEATS, "rows", "dims", "threads"}; writes the vectors as
//! little-endian f32 to OUT_F32 for the comparison with the other implementations.
use std::io::Write;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a: Vec<String> = std::env::args().collect();
    if a.len() != 5 {
        return Err("usage: sentence_bench MODEL_DIR TEXTS_FILE OUT_F32 REPEATS".into());
    }
    let model = embers::sentence::StaticModel::load(&a[1])?;
    let text = std::fs::read_to_string(&a[2])?;
    let texts: Vec<&str> = text.lines().collect();
    let repeats: usize = a[4].parse()?;
    let mut best = f64::MAX;
    let mut out = None;
    for _ in 0..repeats.max(1) {
        let t = std::time::Instant::now();
        let m = model.encode(&texts)?;
        best = best.min(t.elapsed().as_secs_f64());
        out = Some(m);
    }
    let m = out.expect("at least one run");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&a[3])?);
    for x in m.as_slice() {
        f.write_all(&x.to_le_bytes())?;
    }
    f.flush()?;
    println!(
        "{{\"seconds\": {best}, \"rows\": {}, \"dims\": {}, \"threads\": {}}}",
        m.rows(),
        m.dims(),
        rayon::current_num_threads()
    );
    Ok(())
}
