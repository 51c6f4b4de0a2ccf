//! Exact neighbour search shared by concurrent requests: each model has one search thread that
//! takes every query waiting for it and answers them together through the library's search
//! layer (`embers::search::Exact`): up to [`MAX_BATCH`] queries screened together by the model's
//! int8 screen (unless the server runs with `--no-query-screen`; on a CPU without AVX2 only
//! batches of a few), or one blocked pass over the f32 matrix. Both paths score the rows that
//! may rank with the same kernel, so an answer
//! does not depend on the company a query had. Under load batches form by themselves; a lone
//! query is answered at once, without waiting for company.

use std::sync::mpsc;
use std::sync::Arc;

use embers::search::{Exact, Hit, Screening};
use embers::Embeddings;
use tokio::sync::oneshot;

/// Most queries answered by one pass over the matrix.
pub const MAX_BATCH: usize = 64;

/// One query: a unit vector, how many answers, and rows that must not be answered.
struct Job {
    query: Vec<f32>,
    k: usize,
    exclude: Vec<u32>,
    reply: oneshot::Sender<Vec<Hit>>,
}

/// The search thread of one model. Dropping it ends the thread once queued queries are done.
#[derive(Debug)]
pub struct Searcher {
    tx: mpsc::Sender<Job>,
}

impl Searcher {
    /// Starts the search thread for `emb`, screening single queries or not (the screen, a
    /// quarter of the matrix's memory, is built before this returns).
    pub fn start(name: &str, emb: Arc<Embeddings>, screening: Screening) -> std::io::Result<Self> {
        let exact = Exact::new(emb, screening);
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name(format!("search-{name}"))
            .spawn(move || run(&exact, rx))?;
        Ok(Searcher { tx })
    }

    /// The `k` rows closest (cosine) to the unit vector `query`, skipping `exclude`, best
    /// first, ties by lower id. `None` only if the search thread is gone.
    pub async fn search(&self, query: Vec<f32>, k: usize, exclude: Vec<u32>) -> Option<Vec<Hit>> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Job {
                query,
                k,
                exclude,
                reply,
            })
            .ok()?;
        answer.await.ok()
    }
}

fn run(exact: &Exact<Arc<Embeddings>>, rx: mpsc::Receiver<Job>) {
    use embers::search::Search;
    let emb: &Embeddings = exact.embeddings();
    let dims = emb.dims();
    let mut batch: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    let mut queries: Vec<f32> = Vec::with_capacity(MAX_BATCH * dims);
    while let Ok(first) = rx.recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        // Requests whose client gave up (timeout, closed connection) are not searched.
        batch.retain(|j| !j.reply.is_closed());
        if batch.is_empty() {
            continue;
        }
        queries.clear();
        for j in &batch {
            queries.extend_from_slice(&j.query);
        }
        let k = batch.iter().map(|j| j.k).max().unwrap_or(1);
        let exclude: Vec<Vec<u32>> = batch.iter().map(|j| j.exclude.clone()).collect();
        let answers = exact.top_k_batch(&queries, k, emb.len(), &exclude);
        for (job, mut hits) in batch.drain(..).zip(answers) {
            // The best k of the best k_max, since both are ordered by score then id.
            hits.truncate(job.k);
            let _ = job.reply.send(hits);
        }
    }
}
