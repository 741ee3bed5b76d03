//! The classic programs of the dynamic partial-order reduction papers,
//! ported to racecheck: what an exhaustive search with DPOR is measured on
//! (traces of each, executions the search needs for them).
//!
//! - `readers-N`: one task stores to a cell, N tasks each load it once:
//!   2^N traces (each reader before or after the store).
//! - `lastzero-N` (Abdulla, Aronis, Jonsson, Sagonas, POPL 2014): an array
//!   of N + 1 zeros; task 0 scans from the end for the last zero
//!   (`for (i = N; a[i] != 0; i--);`), task j in 1..=N sets
//!   `a[j] = a[j - 1] + 1`: (N + 3) · 2^(N − 2) traces.
//! - `indexer-N` (Flanagan & Godefroid, POPL 2005): N threads each insert
//!   four messages into a 128-slot hash table with compare-and-swap and
//!   linear probing; below 12 threads no two collide (one trace), then each
//!   thread more multiplies the traces by 8.
//! - `filesystem-N` (Flanagan & Godefroid, POPL 2005): N threads each take
//!   the lock of inode `tid % 32` and, if the inode is free, search 26
//!   blocks under their locks for a free one; from 14 threads on, pairs of
//!   threads compete for a block, each pair doubling the traces.
//! - `bounded-buffer`: two producers and two consumers of two items each
//!   over a one-slot buffer, one mutex and *one* condition variable with
//!   `notify_one`, the classic deadlock (a consumer wakes a consumer); and
//!   its fix, `notify_all`.
//!
//! Cells are [`Shared`] values accessed with awaited operations and locks
//! are racecheck's async [`Mutex`], at await granularity, so that every
//! access of the papers' programs is a scheduling point; `indexer` and the
//! `-threads` variants are threads with atomics and blocking locks at step
//! granularity.
//!
//! ```
//! use racecheck_programs::dpor::{lastzero, PROGRAMS};
//!
//! let program = PROGRAMS.iter().find(|program| program.name == "lastzero").unwrap();
//! assert_eq!(program.traces(4), Some(28));
//! // The cells race by design: only the exploration is of interest.
//! let report = racecheck::Builder::new()
//!     .strategy(racecheck::Strategy::Exhaustive)
//!     .races(racecheck::Check::Off)
//!     .iterations(1_000)
//!     .run(|| lastzero(4));
//! assert!(report.complete);
//! assert_eq!(report.executions, 28);
//! ```

use crate::sctbench::ProgramFuture;
use racecheck::sync::atomic::{AtomicUsize, Ordering};
use racecheck::sync::{blocking, Mutex, Shared};
use racecheck::{thread, Granularity};
use std::sync::Arc;

/// One classic program, parameterised by its number of tasks.
#[derive(Clone, Copy, Debug)]
pub struct Program {
    /// The papers' name.
    pub name: &'static str,
    /// Makes the program's root for `n` tasks.
    pub run: fn(usize) -> ProgramFuture,
    /// Where its tasks switch.
    pub granularity: Granularity,
    /// The sizes measured by default, small to large.
    pub sizes: &'static [usize],
    /// The largest size whose traces a brute-force count reaches in about a
    /// minute (0: none, the tasks are too many to enumerate the states of
    /// their interleavings).
    pub brute_force_up_to: usize,
    /// Its number of traces for `n` tasks, as the papers count them, where
    /// there is a closed form.
    traces: Option<fn(usize) -> u64>,
}

impl Program {
    /// The number of Mazurkiewicz traces of the program with `n` tasks, by
    /// the papers' closed form, if it has one.
    pub fn traces(&self, n: usize) -> Option<u64> {
        self.traces.map(|traces| traces(n))
    }
}

/// The programs, in the order of `docs/benchmarks.md`.
pub const PROGRAMS: &[Program] = &[
    Program {
        name: "readers",
        run: |n| {
            Box::pin(async move {
                readers(n).await;
            })
        },
        granularity: Granularity::Await,
        sizes: &[2, 4, 6, 8],
        brute_force_up_to: 8,
        traces: Some(|n| 1 << n),
    },
    Program {
        name: "lastzero",
        run: |n| Box::pin(lastzero(n)),
        granularity: Granularity::Await,
        sizes: &[2, 3, 4, 5, 6, 8, 10],
        brute_force_up_to: 6,
        traces: Some(|n| (n as u64 + 3) << n >> 2),
    },
    Program {
        name: "indexer",
        run: |n| Box::pin(indexer(n)),
        granularity: Granularity::Step,
        sizes: &[11, 12, 13, 14],
        brute_force_up_to: 0,
        traces: Some(|n| 1 << (3 * n.saturating_sub(11))),
    },
    Program {
        name: "filesystem",
        run: |n| Box::pin(filesystem(n)),
        granularity: Granularity::Await,
        sizes: &[13, 14, 16, 18],
        brute_force_up_to: 0,
        traces: Some(|n| 1 << n.saturating_sub(13)),
    },
    Program {
        name: "filesystem-threads",
        run: |n| Box::pin(filesystem_threads(n)),
        granularity: Granularity::Step,
        sizes: &[13, 14, 16],
        brute_force_up_to: 0,
        traces: Some(|n| 1 << n.saturating_sub(13)),
    },
];

/// One task stores 42, `readers` tasks load the cell once each; returns
/// what each reader saw, in spawn order.
pub async fn readers(readers: usize) -> Vec<u32> {
    let value = Arc::new(Shared::new(0u32));
    let writer = {
        let value = value.clone();
        racecheck::spawn(async move { value.store(42).await })
    };
    let loads: Vec<_> = (0..readers)
        .map(|_| {
            let value = value.clone();
            racecheck::spawn(async move { value.load().await })
        })
        .collect();
    writer.await;
    let mut seen = Vec::with_capacity(readers);
    for load in loads {
        seen.push(load.await);
    }
    seen
}

/// The T×K lock program: `tasks` tasks, each `rounds` times lock a mutex
/// and increment its counter; the root joins them and returns the count.
pub async fn lock_rounds(tasks: u64, rounds: u64) -> u64 {
    let counter = Arc::new(Mutex::new(0u64));
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            let counter = counter.clone();
            racecheck::spawn(async move {
                for _ in 0..rounds {
                    *counter.lock().await += 1;
                }
            })
        })
        .collect();
    for handle in handles {
        handle.await;
    }
    let count = *counter.lock().await;
    count
}

/// lastzero(N): task 0 looks for the last zero of the array while tasks
/// 1..=N each set their cell to the one before it plus one.
pub async fn lastzero(n: usize) {
    let array: Arc<Vec<Shared<u32>>> = Arc::new((0..=n).map(|_| Shared::new(0)).collect());
    let scan = {
        let array = array.clone();
        racecheck::spawn(async move {
            let mut index = n;
            while array[index].load().await != 0 {
                index -= 1;
            }
            index
        })
    };
    let writers: Vec<_> = (1..=n)
        .map(|cell| {
            let array = array.clone();
            racecheck::spawn(async move {
                let before = array[cell - 1].load().await;
                array[cell].store(before + 1).await;
            })
        })
        .collect();
    scan.await;
    for writer in writers {
        writer.await;
    }
}

/// indexer(N): threads insert messages into a hash table by
/// compare-and-swap, probing linearly past occupied slots.
pub fn indexer(threads: usize) -> thread::MainThread {
    const SLOTS: usize = 128;
    const MESSAGES: usize = 4;
    thread::main(move || {
        let table: Arc<Vec<AtomicUsize>> =
            Arc::new((0..SLOTS).map(|_| AtomicUsize::new(0)).collect());
        let inserters: Vec<_> = (0..threads)
            .map(|id| {
                let table = table.clone();
                thread::spawn(move || {
                    for message in 1..=MESSAGES {
                        let word = message * 11 + id;
                        let mut slot = (word * 7) % SLOTS;
                        while table[slot]
                            .compare_exchange(0, word, Ordering::SeqCst, Ordering::SeqCst)
                            .is_err()
                        {
                            slot = (slot + 1) % SLOTS;
                        }
                    }
                })
            })
            .collect();
        for inserter in inserters {
            inserter.join().expect("an inserter panicked");
        }
    })
}

const INODES: usize = 32;
const BLOCKS: usize = 26;

/// filesystem(N) with async tasks: each inode and each block is a mutex
/// over its state (the inode's block, plus one; whether the block is busy).
pub async fn filesystem(tasks: usize) {
    let inodes: Arc<Vec<Mutex<usize>>> = Arc::new((0..INODES).map(|_| Mutex::new(0)).collect());
    let busy: Arc<Vec<Mutex<bool>>> = Arc::new((0..BLOCKS).map(|_| Mutex::new(false)).collect());
    let handles: Vec<_> = (0..tasks)
        .map(|id| {
            let (inodes, busy) = (inodes.clone(), busy.clone());
            racecheck::spawn(async move {
                let inode = id % INODES;
                let mut block_of = inodes[inode].lock().await;
                if *block_of == 0 {
                    let mut block = (inode * 2) % BLOCKS;
                    loop {
                        let mut taken = busy[block].lock().await;
                        if !*taken {
                            *taken = true;
                            *block_of = block + 1;
                            break;
                        }
                        drop(taken);
                        block = (block + 1) % BLOCKS;
                    }
                }
            })
        })
        .collect();
    for handle in handles {
        handle.await;
    }
}

/// filesystem(N) as the paper writes it: threads, locks apart from the
/// arrays they guard, and each array access a scheduling point (step
/// granularity), so critical sections contain scheduling points.
pub fn filesystem_threads(threads: usize) -> thread::MainThread {
    thread::main(move || {
        let locki: Arc<Vec<blocking::Mutex<()>>> =
            Arc::new((0..INODES).map(|_| blocking::Mutex::new(())).collect());
        let inode: Arc<Vec<Shared<usize>>> =
            Arc::new((0..INODES).map(|_| Shared::new(0)).collect());
        let lockb: Arc<Vec<blocking::Mutex<()>>> =
            Arc::new((0..BLOCKS).map(|_| blocking::Mutex::new(())).collect());
        let busy: Arc<Vec<Shared<bool>>> =
            Arc::new((0..BLOCKS).map(|_| Shared::new(false)).collect());
        let handles: Vec<_> = (0..threads)
            .map(|id| {
                let (locki, inode, lockb, busy) =
                    (locki.clone(), inode.clone(), lockb.clone(), busy.clone());
                thread::spawn(move || {
                    let i = id % INODES;
                    let _inode_lock = locki[i].lock().expect("not poisoned");
                    if inode[i].get() == 0 {
                        let mut b = (i * 2) % BLOCKS;
                        loop {
                            let block_lock = lockb[b].lock().expect("not poisoned");
                            if !busy[b].get() {
                                busy[b].set(true);
                                inode[i].set(b + 1);
                                break;
                            }
                            drop(block_lock);
                            b = (b + 1) % BLOCKS;
                        }
                    }
                })
            })
            .collect();
        for handle in handles {
            handle.join().expect("a thread panicked");
        }
    })
}

/// Two producers and two consumers of two items each over a one-slot
/// buffer guarded by one mutex and one condition variable. With
/// `notify_all` false each change wakes one waiter, which can be of the
/// wrong kind: every thread ends up waiting (the classic deadlock).
pub fn bounded_buffer(notify_all: bool) -> thread::MainThread {
    const ITEMS: usize = 2;
    thread::main(move || {
        let buffer = Arc::new((blocking::Mutex::new(0usize), blocking::Condvar::new()));
        let roles = [true, true, false, false];
        let threads: Vec<_> = roles
            .into_iter()
            .map(|producer| {
                let buffer = buffer.clone();
                thread::spawn(move || {
                    let (items, changed) = &*buffer;
                    for _ in 0..ITEMS {
                        let mut count = items.lock().expect("not poisoned");
                        while (producer && *count == 1) || (!producer && *count == 0) {
                            count = changed.wait(count).expect("not poisoned");
                        }
                        *count = if producer { 1 } else { 0 };
                        if notify_all {
                            changed.notify_all();
                        } else {
                            changed.notify_one();
                        }
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().expect("a thread panicked");
        }
    })
}
