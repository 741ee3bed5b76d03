//! A read-through cache in front of a slow database.

use racecheck_tokio as tokio;
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::sync::{Mutex, RwLock};

/// The database.
#[derive(Default)]
pub struct Database {
    rows: Mutex<BTreeMap<&'static str, u64>>,
}

impl Database {
    pub async fn read(&self, key: &str) -> Option<u64> {
        self.rows.lock().await.get(key).copied()
    }

    pub async fn write(&self, key: &'static str, value: u64) {
        self.rows.lock().await.insert(key, value);
    }
}

/// The cache: values read from the database, dropped when updated.
pub struct Cache {
    database: Arc<Database>,
    entries: RwLock<BTreeMap<&'static str, u64>>,
    /// Whether a miss holds the write lock while it loads (the fix).
    lock_while_loading: bool,
}

impl Cache {
    pub fn new(database: Arc<Database>, lock_while_loading: bool) -> Cache {
        Cache {
            database,
            entries: RwLock::new(BTreeMap::new()),
            lock_while_loading,
        }
    }

    pub async fn get(&self, key: &'static str) -> Option<u64> {
        if let Some(value) = self.entries.read().await.get(key) {
            return Some(*value);
        }
        if self.lock_while_loading {
            // An update's invalidation waits for this load to be cached,
            // then removes it.
            let mut entries = self.entries.write().await;
            if let Some(value) = entries.get(key) {
                return Some(*value);
            }
            let value = self.database.read(key).await?;
            entries.insert(key, value);
            return Some(value);
        }
        // The bug: an update can write and invalidate while this load is
        // in flight; the stale value is cached after the invalidation.
        let value = self.database.read(key).await?;
        self.entries.write().await.insert(key, value);
        Some(value)
    }

    pub async fn update(&self, key: &'static str, value: u64) {
        self.database.write(key, value).await;
        self.entries.write().await.remove(key);
    }
}

/// A reader misses while a writer updates the same key; afterwards the
/// cache must serve the new value.
pub(crate) async fn read_during_update(lock_while_loading: bool) {
    let database = Arc::new(Database::default());
    database.write("price", 1).await;
    let cache = Arc::new(Cache::new(database, lock_while_loading));
    let reader = {
        let cache = cache.clone();
        tokio::spawn(async move { cache.get("price").await })
    };
    let writer = {
        let cache = cache.clone();
        tokio::spawn(async move { cache.update("price", 2).await })
    };
    reader.await.unwrap();
    writer.await.unwrap();
    assert_eq!(
        cache.get("price").await,
        Some(2),
        "the cache serves a stale price"
    );
}

#[tokio::test]
#[cfg_attr(
    feature = "racecheck",
    should_panic(
        expected = "--features racecheck cache::buggy_cache_keeps_a_stale_value -- --exact"
    )
)]
async fn buggy_cache_keeps_a_stale_value() {
    read_during_update(false).await;
}

#[tokio::test]
async fn fixed_cache_serves_the_update() {
    read_during_update(true).await;
}
