//! `embers serve`: the HTTP API and the explorer page over one or more models (a thin wrapper
//! over the `embers-server` crate: argument checks, model loading, runtime, signals).

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Args as ClapArgs;
use embers::search::{Hnsw, HnswParams};
use embers::transformer::InputEmbeddings;
use embers_server::registry::{split_model_arg, valid_name};
use embers_server::{Limits, Registry};

use super::info::ReadArgs;

#[derive(ClapArgs)]
pub struct Args {
    /// Embedding files (any supported format), transformer model folders (config.json,
    /// tokenizer.json, model.safetensors), static sentence model folders (model2vec) or fastText
    /// supervised models (.bin, .ftz: answered by /predict) to serve; `NAME=PATH` serves one
    /// under NAME, otherwise the file stem (folder name) is the name.
    #[arg(required = true, value_name = "FILE")]
    models: Vec<String>,
    /// Address to listen on (loopback by default; port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// Worker threads (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
    /// Most words, pairs, points or /v1/embeddings inputs in one request.
    #[arg(long, default_value_t = Limits::default().max_batch)]
    max_batch: usize,
    /// Most tokens in one input of /v1/embeddings.
    #[arg(long, default_value_t = Limits::default().max_input_tokens)]
    max_input_tokens: usize,
    /// Largest k of a neighbour query.
    #[arg(long, default_value_t = Limits::default().max_k)]
    max_k: usize,
    /// Largest request body, in bytes.
    #[arg(long, default_value_t = Limits::default().max_body)]
    max_body: usize,
    /// Longest time to answer one request, in seconds.
    #[arg(long, default_value_t = Limits::default().timeout.as_secs_f64())]
    timeout: f64,
    /// Answer `ann: true` queries for every model: open FILE.hnsw, or build the index in
    /// memory when there is none (without this flag, existing FILE.hnsw indexes are still used).
    #[arg(long)]
    ann: bool,
    /// Threads for CPU-heavy requests (subword vectors of unknown words, projections,
    /// approximate searches, transformer embeddings); default: one per core.
    #[arg(long)]
    heavy_threads: Option<usize>,
    /// Heavy requests that may wait for a thread; more are answered 503 `busy` at once.
    #[arg(long, default_value_t = Limits::default().heavy_queue)]
    heavy_queue: usize,
    /// Largest answer, in bytes (estimated before the work; larger gets 413).
    #[arg(long, default_value_t = Limits::default().max_answer)]
    max_answer: usize,
    /// Longest unknown word, in bytes, given a subword vector.
    #[arg(long, default_value_t = Limits::default().max_word)]
    max_word: usize,
    /// Candidate list size of approximate searches (larger: slower, more accurate).
    #[arg(long, default_value_t = Limits::default().ef)]
    ef: usize,
    /// Do not build the int8 copy of each f32 model that screens exact queries answered alone
    /// or in small batches (a quarter of the matrix's memory, built at start; the answers are
    /// the same either way).
    #[arg(long)]
    no_query_screen: bool,
    /// Memory-map model files in place instead of reading them into the server's memory.
    /// Saves memory on large files, but then a served file must only ever be replaced by
    /// rename (as every embers writer does, or `mv`): rewriting it in place (`cp new old`)
    /// can kill the server with SIGBUS. Without this flag nothing done to a file after it is
    /// loaded affects the server.
    #[arg(long)]
    mmap: bool,
    #[command(flatten)]
    read: ReadArgs,
}

impl Args {
    fn limits(&self) -> Result<Limits> {
        if self.max_batch == 0
            || self.max_input_tokens == 0
            || self.max_k == 0
            || self.max_body == 0
            || self.ef == 0
            || self.max_answer == 0
            || self.heavy_threads == Some(0)
        {
            bail!("--max-batch, --max-input-tokens, --max-k, --max-body, --max-answer, --heavy-threads and --ef must be at least 1");
        }
        if self.heavy_threads.is_some_and(|n| n > 1024) || self.heavy_queue > 1 << 20 {
            bail!("--heavy-threads must be at most 1024 and --heavy-queue at most 1048576");
        }
        if !(self.timeout.is_finite() && self.timeout > 0.0 && self.timeout < 1e6) {
            bail!(
                "--timeout must be a positive number of seconds, got {}",
                self.timeout
            );
        }
        Ok(Limits {
            max_body: self.max_body,
            max_batch: self.max_batch,
            max_k: self.max_k,
            timeout: Duration::from_secs_f64(self.timeout),
            ef: self.ef,
            heavy_threads: self
                .heavy_threads
                .unwrap_or(Limits::default().heavy_threads),
            heavy_queue: self.heavy_queue,
            max_answer: self.max_answer,
            max_word: self.max_word,
            max_input_tokens: self.max_input_tokens,
        })
    }
}

pub fn run(a: Args) -> Result<()> {
    let limits = a.limits()?;
    if a.threads == Some(0) {
        bail!("--threads must be at least 1");
    }
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();

    // Names first, so a clash is reported before anything is loaded.
    let specs: Vec<_> = a.models.iter().map(|m| split_model_arg(m)).collect();
    for (i, (name, path)) in specs.iter().enumerate() {
        if !valid_name(name) {
            bail!(
                "model name {name:?} (for {}) must use only A-Z a-z 0-9 . _ -; name it with NAME=PATH",
                path.display()
            );
        }
        if specs[..i].iter().any(|(n, _)| n == name) {
            bail!("model name {name:?} is used twice; name models with NAME=PATH");
        }
    }

    // Model files are read into private memory unless --mmap: see embers::io::mapping for why
    // a long-running process must not map files that others may rewrite in place.
    embers::io::mapping::set_map_mode(if a.mmap {
        embers::io::mapping::MapMode::Map
    } else {
        embers::io::mapping::MapMode::Copy
    });
    let mut registry = Registry::new();
    registry.set_query_screen(!a.no_query_screen);
    for (name, path) in specs {
        if path.is_dir() && embers::sentence::is_static_model_dir(&path) {
            let model = embers::sentence::StaticModel::load(&path)
                .with_context(|| format!("loading static model {name:?}"))?;
            tracing::info!(
                model = %name,
                path = %path.display(),
                dims = model.dims(),
                "static sentence model loaded"
            );
            registry.add_sentence(&name, &path, model)?;
            continue;
        }
        if path.is_dir() {
            let layer = InputEmbeddings::from_dir(&path)
                .with_context(|| format!("loading transformer {name:?}"))?;
            tracing::info!(
                model = %name,
                path = %path.display(),
                family = layer.family().name(),
                hidden = layer.hidden_size(),
                "transformer loaded"
            );
            registry.add_transformer(&name, &path, layer)?;
            // A sentence-transformers folder (modules.json) also answers /v1/embeddings with
            // its whole encoder, pooling and normalisation.
            if path.join("modules.json").is_file() && embers::sentence::is_transformer_dir(&path) {
                let model = embers::sentence::SentenceTransformer::load(&path)
                    .with_context(|| format!("loading sentence transformer {name:?}"))?;
                tracing::info!(
                    model = %name,
                    dims = model.dims(),
                    pooling = ?model.pooling().iter().map(|p| p.name()).collect::<Vec<_>>(),
                    normalize = model.normalize(),
                    "sentence-transformers encoder loaded (/v1/embeddings)"
                );
                registry.add_sentence_transformer(&name, &path, model)?;
            }
            continue;
        }
        let forced = a.read.options()?.format.is_some();
        if !forced && embers::supervised::is_supervised_file(&path)? {
            let classifier = embers::supervised::Classifier::read(&path)
                .with_context(|| format!("loading classifier {name:?}"))?;
            tracing::info!(
                model = %name,
                path = %path.display(),
                labels = classifier.nlabels(),
                dims = classifier.args.dim,
                quantized = classifier.is_quantized(),
                "fastText classifier loaded"
            );
            registry.add_classifier(&name, &path, classifier)?;
            continue;
        }
        let emb = a
            .read
            .load(&path)
            .with_context(|| format!("loading model {name:?}"))?;
        tracing::info!(
            model = %name,
            path = %path.display(),
            rows = emb.len(),
            dims = emb.dims(),
            storage = emb.storage().kind(),
            "model loaded"
        );
        let index_path = Hnsw::path_for(&path);
        let index = if index_path.exists() {
            let ix = Hnsw::open(&index_path, &emb)?;
            tracing::info!(model = %name, index = %index_path.display(), "ANN index opened");
            Some(ix)
        } else if a.ann {
            tracing::info!(model = %name, "no {} : building the ANN index in memory", index_path.display());
            let ix = Hnsw::build(&emb, &HnswParams::default())?;
            tracing::info!(model = %name, "ANN index built");
            Some(ix)
        } else {
            None
        };
        registry.add_embeddings_with_index(&name, &path, emb, index)?;
    }

    if let Some(n) = a.threads {
        // Searches run on rayon's pool: keep it to the same number of threads.
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global();
    }
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all();
    if let Some(n) = a.threads {
        builder.worker_threads(n);
    }
    let runtime = builder.build().context("starting the async runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(a.addr)
            .await
            .with_context(|| format!("cannot listen on {}", a.addr))?;
        let local = listener.local_addr()?;
        let state = embers_server::try_state(registry, limits)
            .context("starting the heavy-work threads")?;
        let router = embers_server::router(state);
        println!(
            "embers: serving {} model(s) on http://{local}/",
            a.models.len()
        );
        tracing::info!(addr = %local, ?limits, "listening");
        embers_server::serve(listener, router, embers_server::shutdown_signal()).await?;
        tracing::info!("stopped");
        anyhow::Ok(())
    })
}
