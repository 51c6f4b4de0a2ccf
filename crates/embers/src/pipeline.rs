//! The bounded queue between one producer (the corpus reader) and many consumer threads, built
//! so that the pipeline stops on the first error and never deadlocks: a consumer that gives up
//! (an error, a panic) raises the queue's `failed` flag, which the producer checks before each
//! send, and keeps discarding chunks until the producer has stopped, so a send never blocks on a
//! queue nobody reads.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Mutex;

/// The consumers' side of a bounded queue; see the module documentation.
pub(crate) struct Queue<T> {
    rx: Mutex<Receiver<T>>,
    failed: AtomicBool,
}

/// A queue holding at most `capacity` items in flight.
pub(crate) fn queue<T>(capacity: usize) -> (SyncSender<T>, Queue<T>) {
    let (tx, rx) = sync_channel(capacity);
    (
        tx,
        Queue {
            rx: Mutex::new(rx),
            failed: AtomicBool::new(false),
        },
    )
}

impl<T> Queue<T> {
    /// The next item; `None` once the producer has finished (dropped its sender).
    pub(crate) fn recv(&self) -> Option<T> {
        self.rx
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .recv()
            .ok()
    }

    /// Tells the producer to stop: the pipeline has failed.
    pub(crate) fn fail(&self) {
        self.failed.store(true, Ordering::Relaxed);
    }

    /// Whether a consumer has given up; the producer checks this before each send.
    pub(crate) fn failed(&self) -> bool {
        self.failed.load(Ordering::Relaxed)
    }

    /// A guard for one consumer thread: when it is dropped (the consumer returns, by success,
    /// error or panic) it raises `failed` if the thread is panicking, then discards items until
    /// the producer stops, so the producer can never block on a full queue.
    pub(crate) fn consumer(&self) -> Consumer<'_, T> {
        Consumer { queue: self }
    }
}

/// See [`Queue::consumer`].
pub(crate) struct Consumer<'a, T> {
    queue: &'a Queue<T>,
}

impl<T> Drop for Consumer<'_, T> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.queue.fail();
        }
        while self.queue.recv().is_some() {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every consumer gives up at once (one by error, one by panic) while the producer still
    /// has far more items than the queue holds: the producer finishes instead of blocking.
    #[test]
    fn a_failed_consumer_never_blocks_the_producer() {
        let (tx, q) = queue::<usize>(2);
        let sent = std::thread::scope(|s| {
            let q = &q;
            s.spawn(move || {
                let _guard = q.consumer();
                let _ = q.recv();
                q.fail();
            });
            let panicker = s.spawn(move || {
                let _guard = q.consumer();
                let _ = q.recv();
                panic!("a consumer bug");
            });
            let mut sent = 0;
            for i in 0..1000 {
                if q.failed() || tx.send(i).is_err() {
                    break;
                }
                sent += 1;
            }
            drop(tx);
            assert!(panicker.join().is_err());
            sent
        });
        assert!(q.failed());
        assert!(sent < 1000, "{sent}");
    }
}
