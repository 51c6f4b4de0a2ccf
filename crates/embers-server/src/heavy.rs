//! The heavy-work pool: a fixed number of threads and a bounded queue for requests whose cost
//! grows with their content (subword vectors of unknown words, `/similarity` over them,
//! `/projection`, approximate searches, transformer `/embed`).
//!
//! Why not the async workers or `spawn_blocking`: work on an async worker holds it (and the
//! per-request timeout, which only fires at an await point) until it ends, so a few heavy
//! requests stall `/healthz` and plain lookups; `spawn_blocking` frees the worker but has no
//! bound and keeps running after the client got its 503. Here:
//!
//! - at most `threads` heavy jobs run at once and at most `queue` wait; beyond that a request
//!   is refused at once with 503 `busy` (it never piles up);
//! - each job gets a [`Deadline`]: the request's time limit, and a flag raised when the waiting
//!   request is dropped (timeout answered, client gone). Long loops call [`Deadline::check`]
//!   between items and stop; a job whose request is gone before it starts is skipped;
//! - the async workers only wait on a channel, so `/healthz`, `/v1/models` and lookups of
//!   vocabulary words (answered inline) stay fast while every heavy thread is busy.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use tokio::sync::oneshot;

use crate::error::ApiError;

type Task = Box<dyn FnOnce() + Send>;

/// The pool. Dropping it lets the threads finish their current job and exit.
#[derive(Debug)]
pub struct HeavyPool {
    tx: Mutex<Option<mpsc::SyncSender<Task>>>,
    threads: usize,
    queue: usize,
    stats: Arc<Stats>,
}

/// Counters of the pool (for tests and `/metrics`).
#[derive(Debug, Default)]
pub struct Stats {
    /// Jobs run to the end.
    pub completed: AtomicU64,
    /// Jobs stopped by their deadline or because their request was gone.
    pub cancelled: AtomicU64,
    /// Requests refused because the queue was full.
    pub refused: AtomicU64,
}

/// When a heavy job must stop: its time limit, or its request being dropped.
#[derive(Debug, Clone)]
pub struct Deadline {
    at: Instant,
    gone: Arc<AtomicBool>,
}

impl Deadline {
    /// A deadline `limit` from now that nothing else cancels (for callers outside the pool).
    pub fn after(limit: Duration) -> Self {
        Deadline {
            at: Instant::now() + limit,
            gone: Arc::new(AtomicBool::new(false)),
        }
    }

    /// True once the time is up or the request is gone.
    pub fn expired(&self) -> bool {
        self.gone.load(Ordering::Relaxed) || Instant::now() >= self.at
    }

    /// `Err(503 timeout)` once [`Deadline::expired`]; call it between the items of a loop.
    pub fn check(&self) -> Result<(), ApiError> {
        if self.expired() {
            return Err(timeout());
        }
        Ok(())
    }
}

fn timeout() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "timeout",
        "the request ran out of time (--timeout) and was stopped",
    )
}

/// Raises the job's `gone` flag when the waiting request is dropped (or has its answer).
struct Gone(Arc<AtomicBool>);

impl Drop for Gone {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

impl HeavyPool {
    /// Starts `threads` threads (at least 1) with room for `queue` waiting jobs.
    pub fn new(threads: usize, queue: usize) -> std::io::Result<Self> {
        let threads = threads.max(1);
        let (tx, rx) = mpsc::sync_channel::<Task>(queue);
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("heavy-{i}"))
                .spawn(move || loop {
                    // The lock is held only while waiting for the next job, not while running it.
                    let task = match rx.lock() {
                        Ok(rx) => rx.recv(),
                        Err(_) => return,
                    };
                    match task {
                        Ok(task) => task(),
                        Err(_) => return,
                    }
                })?;
        }
        Ok(HeavyPool {
            tx: Mutex::new(Some(tx)),
            threads,
            queue,
            stats: Arc::new(Stats::default()),
        })
    }

    /// Number of threads.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Most jobs waiting for a thread.
    pub fn queue(&self) -> usize {
        self.queue
    }

    /// The pool's counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Runs `job` on the pool with a deadline `limit` from now and waits for its answer.
    /// A full queue is 503 `busy` at once; a job that runs out of time is 503 `timeout`; a
    /// panic inside the job is a 500.
    pub async fn run<T: Send + 'static>(
        &self,
        limit: Duration,
        job: impl FnOnce(&Deadline) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let deadline = Deadline::after(limit);
        let _gone = Gone(deadline.gone.clone());
        let (reply, answer) = oneshot::channel();
        let stats = self.stats.clone();
        let task: Task = Box::new(move || {
            if deadline.expired() {
                stats.cancelled.fetch_add(1, Ordering::Relaxed);
                return;
            }
            let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&deadline)));
            let out = match out {
                Ok(out) => out,
                Err(_) => Err(ApiError::internal(
                    "the server failed while answering; this is a bug",
                )),
            };
            if deadline.expired() {
                stats.cancelled.fetch_add(1, Ordering::Relaxed);
            } else {
                stats.completed.fetch_add(1, Ordering::Relaxed);
            }
            let _ = reply.send(out);
        });
        let sent = {
            let tx = self.tx.lock().map_err(|_| closed())?;
            match tx.as_ref() {
                Some(tx) => tx.try_send(task),
                None => return Err(closed()),
            }
        };
        match sent {
            Ok(()) => {}
            Err(mpsc::TrySendError::Full(_)) => {
                self.stats.refused.fetch_add(1, Ordering::Relaxed);
                return Err(ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "busy",
                    format!(
                        "the server is busy with other heavy requests ({} running, {} waiting); retry later",
                        self.threads, self.queue
                    ),
                ));
            }
            Err(mpsc::TrySendError::Disconnected(_)) => return Err(closed()),
        }
        match answer.await {
            Ok(out) => out,
            // The job was skipped because its deadline passed before it started.
            Err(_) => Err(timeout()),
        }
    }
}

fn closed() -> ApiError {
    ApiError::internal("the heavy-work pool has stopped")
}

impl Drop for HeavyPool {
    fn drop(&mut self) {
        if let Ok(mut tx) = self.tx.lock() {
            tx.take();
        }
    }
}
