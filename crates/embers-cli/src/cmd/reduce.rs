//! `embers reduce`: fewer dimensions by PCA or truncation, written as a native file whose
//! metadata holds the projection (so query vectors of the original space can be projected).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use clap::Args as ClapArgs;
use embers::reduce::{self, Method, ReduceOptions};

use super::info::ReadArgs;

#[derive(ClapArgs)]
pub struct Args {
    /// Input embedding file (any readable format).
    input: PathBuf,
    /// Output file (native format).
    output: PathBuf,
    /// Output dimensions (1 ..= the input's).
    #[arg(long)]
    dims: usize,
    /// pca (principal components of the centred rows) or truncate (the first dims, for
    /// Matryoshka-trained models).
    #[arg(long, default_value = "pca")]
    method: String,
    /// pca: fit on a seeded sample of this many rows instead of all of them.
    #[arg(long)]
    sample: Option<usize>,
    /// pca: seed of the sample.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    read: ReadArgs,
}

pub fn run(a: Args) -> Result<()> {
    let method = Method::from_name(&a.method)?;
    if a.sample.is_some() && method != Method::Pca {
        anyhow::bail!("--sample only applies to --method pca");
    }
    let emb = a.read.load(&a.input)?;
    let t = Instant::now();
    let (out, projection) = reduce::reduce(
        &emb,
        &ReduceOptions {
            dims: a.dims,
            method,
            sample: a.sample,
            seed: a.seed,
        },
    )?;
    let seconds = t.elapsed().as_secs_f64();
    embers::io::native::write(&a.output, &out)?;
    let explained = projection.explained_ratio();
    if a.json {
        println!(
            "{}",
            serde_json::json!({
                "output": a.output,
                "method": method.name(),
                "rows": out.len(),
                "input_dims": projection.input_dims,
                "dims": projection.dims,
                "fitted_rows": projection.fitted_rows,
                "explained_variance_ratio": (method == Method::Pca).then_some(explained),
                "explained_variance": projection.explained_variance,
                "seconds": seconds,
            })
        );
    } else {
        let kept = match method {
            Method::Pca => format!(
                ", {:.2}% of the variance kept (fitted on {} rows)",
                100.0 * explained,
                projection.fitted_rows
            ),
            Method::Truncate => String::new(),
        };
        println!(
            "{} × {} → {} × {} by {}{kept} in {seconds:.2} s → {}",
            emb.len(),
            projection.input_dims,
            out.len(),
            projection.dims,
            method.name(),
            a.output.display()
        );
    }
    Ok(())
}
