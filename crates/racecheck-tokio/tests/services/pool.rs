//! A connection pool with a limit on open connections.

use racecheck_tokio as tokio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::{Mutex, Notify};

/// A database connection; connecting takes a round trip.
pub struct Connection;

async fn connect() -> Connection {
    tokio::task::yield_now().await; // the handshake
    Connection
}

/// The pool: idle connections, how many are open, and a signal for tasks
/// waiting for one to come back.
pub struct Pool {
    idle: Mutex<Vec<Connection>>,
    open: Mutex<usize>,
    returned: Notify,
    limit: usize,
    /// Connections ever opened.
    connections: AtomicUsize,
    /// Whether the count is checked and bumped under one lock (the fix).
    reserve_first: bool,
}

impl Pool {
    pub fn new(limit: usize, reserve_first: bool) -> Pool {
        Pool {
            idle: Mutex::new(Vec::new()),
            open: Mutex::new(0),
            returned: Notify::new(),
            limit,
            connections: AtomicUsize::new(0),
            reserve_first,
        }
    }

    /// An idle connection, a new one if below the limit, or the next one
    /// returned.
    pub async fn get(&self) -> Connection {
        loop {
            if let Some(connection) = self.idle.lock().await.pop() {
                return connection;
            }
            if self.reserve().await {
                return connect().await;
            }
            self.returned.notified().await;
        }
    }

    /// Takes a slot for a new connection if the pool is below its limit.
    async fn reserve(&self) -> bool {
        if self.reserve_first {
            let mut open = self.open.lock().await;
            let below = *open < self.limit;
            *open += usize::from(below);
            self.connections
                .fetch_add(usize::from(below), Ordering::SeqCst);
            return below;
        }
        // The bug: the count is read under one lock and written under
        // another; a task that runs in between reads the same count.
        let open = *self.open.lock().await;
        if open >= self.limit {
            return false;
        }
        *self.open.lock().await = open + 1;
        self.connections.fetch_add(1, Ordering::SeqCst);
        true
    }

    /// Returns a connection to the pool.
    pub async fn put(&self, connection: Connection) {
        self.idle.lock().await.push(connection);
        self.returned.notify_one();
    }

    /// Connections opened so far; none is ever closed.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

/// Three clients share a pool of two connections.
pub(crate) async fn three_clients_two_connections(reserve_first: bool) {
    let pool = Arc::new(Pool::new(2, reserve_first));
    let clients: Vec<_> = (0..3)
        .map(|_| {
            let pool = pool.clone();
            tokio::spawn(async move {
                let connection = pool.get().await;
                tokio::task::yield_now().await; // a query
                pool.put(connection).await;
            })
        })
        .collect();
    for client in clients {
        client.await.unwrap();
    }
    let opened = pool.connections();
    assert!(opened <= 2, "the pool opened {opened} connections");
}

#[tokio::test]
#[cfg_attr(
    feature = "racecheck",
    should_panic(
        expected = "--features racecheck pool::buggy_pool_opens_too_many_connections -- --exact"
    )
)]
async fn buggy_pool_opens_too_many_connections() {
    three_clients_two_connections(false).await;
}

#[tokio::test]
async fn fixed_pool_stays_within_its_limit() {
    three_clients_two_connections(true).await;
}
