//! Progress events of long jobs (vocabulary counting, training, conversion), delivered to a
//! callback so the CLI can draw bars or print JSON lines and a library user can do as they like.

use serde::Serialize;

/// One progress report.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Progress {
    /// What is running: `count`, `train`, `cooccur`, `convert`, ...
    pub stage: &'static str,
    /// Work done so far, in `unit`s.
    pub done: u64,
    /// Total work when known.
    pub total: Option<u64>,
    /// Unit of `done`/`total`: `bytes`, `words`, `rows`, `entries`.
    pub unit: &'static str,
    /// Current epoch or iteration (1-based), when the job has them.
    pub epoch: Option<u32>,
    /// Current learning rate, for training.
    pub learning_rate: Option<f64>,
    /// Running mean loss since the last report, for training.
    pub loss: Option<f64>,
    /// Throughput in `unit`s per second, since the job started.
    pub rate: Option<f64>,
}

impl Progress {
    /// A report with only the required fields set.
    pub fn new(stage: &'static str, done: u64, total: Option<u64>, unit: &'static str) -> Self {
        Progress {
            stage,
            done,
            total,
            unit,
            epoch: None,
            learning_rate: None,
            loss: None,
            rate: None,
        }
    }
}

/// A sink for progress reports; must be cheap, it is called from worker threads.
pub type ProgressFn<'a> = dyn Fn(&Progress) + Send + Sync + 'a;

/// A sink that ignores everything.
pub fn silent(_: &Progress) {}
