//! The bounded cache of parsed chains, keyed by normalised chain URL.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::chain::SigningChain;

/// A bounded map from chain URL to parsed chain; when full, the least
/// recently used entry goes. Entries are re-validated on every use (a chain
/// found expired is fetched again, never served). Downloads of one URL are
/// coalesced: [`ChainCache::fetch_gate`] hands every caller of one URL the
/// same async lock, so one fetches while the others wait and then find
/// its result in the cache.
#[derive(Debug)]
pub(crate) struct ChainCache {
    capacity: usize,
    inner: Mutex<CacheInner>,
    gates: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

#[derive(Debug, Default)]
struct CacheInner {
    tick: u64,
    entries: HashMap<String, (u64, Arc<SigningChain>)>,
}

impl ChainCache {
    pub(crate) fn new(capacity: usize) -> Self {
        ChainCache {
            capacity,
            inner: Mutex::new(CacheInner::default()),
            gates: Mutex::new(HashMap::new()),
        }
    }

    /// The lock that callers fetching `key` queue on (one fetch at a time
    /// per URL).
    pub(crate) fn fetch_gate(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut gates = self.gates.lock().unwrap_or_else(|p| p.into_inner());
        Arc::clone(gates.entry(key.to_owned()).or_default())
    }

    /// Forgets `gate` for `key` once its fetch is over (waiters keep their
    /// own handle; a later caller finds the chain in the cache, or makes a
    /// new gate). A gate left behind by a cancelled fetch is harmless.
    pub(crate) fn release_gate(&self, key: &str, gate: &Arc<tokio::sync::Mutex<()>>) {
        let mut gates = self.gates.lock().unwrap_or_else(|p| p.into_inner());
        if gates.get(key).is_some_and(|g| Arc::ptr_eq(g, gate)) {
            gates.remove(key);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CacheInner> {
        // The map stays consistent even if a holder panicked.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn get(&self, key: &str) -> Option<Arc<SigningChain>> {
        let mut inner = self.lock();
        inner.tick += 1;
        let tick = inner.tick;
        inner.entries.get_mut(key).map(|(used, chain)| {
            *used = tick;
            Arc::clone(chain)
        })
    }

    pub(crate) fn insert(&self, key: String, chain: Arc<SigningChain>) {
        if self.capacity == 0 {
            return;
        }
        let mut inner = self.lock();
        inner.tick += 1;
        let tick = inner.tick;
        if !inner.entries.contains_key(&key) && inner.entries.len() >= self.capacity {
            let oldest = inner
                .entries
                .iter()
                .min_by_key(|(_, (used, _))| *used)
                .map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                inner.entries.remove(&oldest);
            }
        }
        inner.entries.insert(key, (tick, chain));
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().entries.len()
    }
}
