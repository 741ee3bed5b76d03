//! A buffer flushed to a sink by a background task on an interval.

use racecheck_tokio as tokio;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{oneshot, Mutex};
use tokio::task::JoinHandle;

#[derive(Default)]
pub struct Buffer {
    pending: Mutex<Vec<u32>>,
    sink: Mutex<Vec<u32>>,
}

impl Buffer {
    pub async fn push(&self, item: u32) {
        self.pending.lock().await.push(item);
    }

    /// Writes what is pending to the sink: a round trip.
    async fn flush(&self) {
        let batch = std::mem::take(&mut *self.pending.lock().await);
        if batch.is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(1)).await; // the write
        self.sink.lock().await.extend(batch);
    }
}

pub struct Flusher {
    buffer: Arc<Buffer>,
    task: JoinHandle<()>,
    stop: oneshot::Sender<()>,
    graceful: bool,
}

impl Flusher {
    /// Flushes `buffer` every `period`. With `graceful`, shutdown asks the
    /// task to flush and stop (the fix); without, it aborts the task.
    pub fn start(buffer: Arc<Buffer>, period: Duration, graceful: bool) -> Flusher {
        let (stop, mut stopped) = oneshot::channel::<()>();
        let flushing = buffer.clone();
        let task = tokio::spawn(async move {
            let mut ticks = tokio::time::interval(period);
            loop {
                tokio::select! {
                    _ = ticks.tick() => flushing.flush().await,
                    _ = &mut stopped => {
                        flushing.flush().await;
                        break;
                    }
                }
            }
        });
        Flusher {
            buffer,
            task,
            stop,
            graceful,
        }
    }

    pub async fn shutdown(self) {
        if self.graceful {
            let _ = self.stop.send(());
            self.task.await.unwrap();
        } else {
            // The bug: the task may be in the middle of a flush, with a
            // batch taken from the buffer and not yet written.
            self.task.abort();
            let _ = self.task.await;
            self.buffer.flush().await;
        }
    }
}

/// Items pushed while the flusher runs must all reach the sink.
pub(crate) async fn nothing_lost(graceful: bool) {
    let buffer = Arc::new(Buffer::default());
    let flusher = Flusher::start(buffer.clone(), Duration::from_millis(10), graceful);
    for item in 1..=3 {
        if item > 1 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        buffer.push(item).await;
    }
    flusher.shutdown().await;
    let mut written = buffer.sink.lock().await.clone();
    written.sort_unstable();
    assert_eq!(written, [1, 2, 3], "items were lost");
}

#[tokio::test(start_paused = true)]
#[cfg_attr(
    feature = "racecheck",
    should_panic(expected = "--features racecheck flusher::buggy_flusher_loses_items -- --exact")
)]
async fn buggy_flusher_loses_items() {
    nothing_lost(false).await;
}

#[tokio::test(start_paused = true)]
async fn fixed_flusher_writes_everything() {
    nothing_lost(true).await;
}
