//! A worker pool that takes jobs from a queue until it is shut down.

use racecheck_tokio as tokio;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch, Mutex, Notify};
use tokio::task::JoinHandle;

/// How shutdown reaches the workers.
#[derive(Clone)]
enum Shutdown {
    /// `notify_waiters` wakes the workers waiting at that moment: a worker
    /// busy with a job misses it (the bug).
    Notify(Arc<Notify>),
    /// A `watch` value: a worker sees it whenever it next looks (the fix).
    Watch(watch::Receiver<bool>),
}

impl Shutdown {
    async fn requested(&mut self) {
        match self {
            Shutdown::Notify(notify) => notify.notified().await,
            Shutdown::Watch(flag) => {
                while !*flag.borrow_and_update() {
                    if flag.changed().await.is_err() {
                        return;
                    }
                }
            }
        }
    }
}

pub struct WorkerPool {
    jobs: mpsc::Sender<u32>,
    workers: Vec<JoinHandle<()>>,
    notify: Arc<Notify>,
    flag: watch::Sender<bool>,
}

impl WorkerPool {
    /// Starts `workers` workers; each finished job's number is sent on
    /// `done`.
    pub fn start(workers: usize, use_watch: bool, done: mpsc::Sender<u32>) -> WorkerPool {
        let (jobs, queue) = mpsc::channel::<u32>(8);
        let queue = Arc::new(Mutex::new(queue));
        let notify = Arc::new(Notify::new());
        let (flag, watching) = watch::channel(false);
        let shutdown = if use_watch {
            Shutdown::Watch(watching)
        } else {
            Shutdown::Notify(notify.clone())
        };
        let workers = (0..workers)
            .map(|_| tokio::spawn(work(queue.clone(), shutdown.clone(), done.clone())))
            .collect();
        WorkerPool {
            jobs,
            workers,
            notify,
            flag,
        }
    }

    pub async fn submit(&self, job: u32) {
        self.jobs.send(job).await.expect("the workers are running");
    }

    /// Tells the workers to stop and waits for them.
    pub async fn shutdown(self) {
        self.notify.notify_waiters();
        let _ = self.flag.send(true);
        for worker in self.workers {
            worker.await.unwrap();
        }
    }
}

async fn work(
    queue: Arc<Mutex<mpsc::Receiver<u32>>>,
    mut shutdown: Shutdown,
    done: mpsc::Sender<u32>,
) {
    loop {
        tokio::select! {
            Some(job) = async { queue.lock().await.recv().await } => {
                tokio::task::yield_now().await; // the job's work
                let _ = done.send(job).await;
            }
            _ = shutdown.requested() => break,
        }
    }
}

/// Two jobs, both done, then shutdown: it must finish.
pub(crate) async fn shutdown_after_the_jobs(use_watch: bool) {
    let (done, mut finished) = mpsc::channel(2);
    let pool = WorkerPool::start(2, use_watch, done);
    pool.submit(1).await;
    pool.submit(2).await;
    finished.recv().await;
    finished.recv().await;
    let finished = tokio::time::timeout(Duration::from_secs(10), pool.shutdown()).await;
    assert!(finished.is_ok(), "shutdown hung: a worker never saw it");
}

#[tokio::test(start_paused = true)]
#[cfg_attr(
    feature = "racecheck",
    should_panic(expected = "--features racecheck workers::buggy_shutdown_hangs -- --exact")
)]
async fn buggy_shutdown_hangs() {
    shutdown_after_the_jobs(false).await;
}

#[tokio::test(start_paused = true)]
async fn fixed_shutdown_finishes() {
    shutdown_after_the_jobs(true).await;
}
