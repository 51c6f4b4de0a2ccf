//! Progress display for long jobs: an indicatif bar on a terminal, JSON lines with
//! `--progress json`, nothing with `--progress none`.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use embers::progress::Progress;
use indicatif::{ProgressBar, ProgressStyle};

/// The `--progress` choice.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// A bar when stderr is a terminal, nothing otherwise.
    Auto,
    /// Always a bar.
    Bar,
    /// One JSON object per event on stderr.
    Json,
    /// Nothing.
    None,
}

/// Turns library progress events into the chosen display.
pub struct Reporter {
    mode: Mode,
    bar: Mutex<Option<ProgressBar>>,
    last_json: Mutex<Instant>,
    label: String,
}

impl Reporter {
    /// A reporter for a job called `label`.
    pub fn new(mode: Mode, label: &str) -> Self {
        let mode = match mode {
            Mode::Auto if std::io::stderr().is_terminal() => Mode::Bar,
            Mode::Auto => Mode::None,
            m => m,
        };
        Reporter {
            mode,
            bar: Mutex::new(None),
            last_json: Mutex::new(Instant::now() - Duration::from_secs(10)),
            label: label.to_string(),
        }
    }

    /// Handles one event.
    pub fn report(&self, p: &Progress) {
        match self.mode {
            Mode::None | Mode::Auto => {}
            Mode::Json => {
                let mut last = self.last_json.lock().expect("not poisoned");
                let finished = p.total.is_some_and(|t| p.done >= t);
                if last.elapsed() >= Duration::from_millis(500) || finished {
                    *last = Instant::now();
                    let mut v = serde_json::to_value(p).expect("plain struct");
                    v["event"] = "progress".into();
                    eprintln!("{v}");
                }
            }
            Mode::Bar => {
                let mut guard = self.bar.lock().expect("not poisoned");
                let bar = guard.get_or_insert_with(|| {
                    let bar = match p.total {
                        Some(t) => ProgressBar::new(t),
                        None => ProgressBar::new_spinner(),
                    };
                    let template = if p.unit == "bytes" {
                        "{prefix} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {bytes_per_sec} eta {eta} {msg}"
                    } else {
                        "{prefix} [{elapsed_precise}] {wide_bar} {human_pos}/{human_len} {per_sec} eta {eta} {msg}"
                    };
                    bar.set_style(ProgressStyle::with_template(template).expect("valid template"));
                    bar.set_prefix(self.label.clone());
                    bar
                });
                if let Some(t) = p.total {
                    bar.set_length(t);
                }
                bar.set_position(p.done);
                let mut msg = String::new();
                if let Some(e) = p.epoch {
                    msg.push_str(&format!("epoch {e} "));
                }
                if let Some(lr) = p.learning_rate {
                    msg.push_str(&format!("lr {lr:.5} "));
                }
                if let Some(l) = p.loss {
                    msg.push_str(&format!("loss {l:.4}"));
                }
                bar.set_message(msg);
            }
        }
    }

    /// Closes the bar, if any.
    pub fn finish(&self) {
        if let Some(bar) = self.bar.lock().expect("not poisoned").take() {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Reporter {
    fn drop(&mut self) {
        self.finish();
    }
}
