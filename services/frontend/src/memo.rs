//! Short-lived copies of the two answers a page may show a few seconds late:
//!
//! - the category list (navigation on the home, category and search pages), kept
//!   [`CATEGORIES_TTL`]: a category an admin adds shows up in the menus that much later;
//! - a SKU's availability on its product page ("In stock", "Only 3 left"), kept
//!   [`STOCK_TTL`]: a hint only, since checkout reserves at inventory, which has the last word
//!   and refuses what is not there.
//!
//! Everything else (products, prices, search results, carts, orders) is asked for on every
//! page. Failed lookups are never kept.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const CATEGORIES_TTL: Duration = Duration::from_secs(10);
pub const STOCK_TTL: Duration = Duration::from_secs(2);
/// SKUs whose availability is kept at most (a few hundred kB at worst).
pub const STOCK_ENTRIES: usize = 10_000;

/// Values kept for `ttl` after they were fetched, at most `cap` of them.
pub struct Ttl<K, V> {
    ttl: Duration,
    cap: usize,
    map: Mutex<HashMap<K, (Instant, V)>>,
}

impl<K: Hash + Eq, V: Clone> Ttl<K, V> {
    pub fn new(ttl: Duration, cap: usize) -> Self {
        Self {
            ttl,
            cap: cap.max(1),
            map: Mutex::new(HashMap::new()),
        }
    }

    /// The value, while it is younger than the TTL.
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let map = self.map.lock().ok()?;
        let (at, v) = map.get(key)?;
        (at.elapsed() < self.ttl).then(|| v.clone())
    }

    /// Keeps a value just fetched. When full, expired entries go first, then everything.
    pub fn put(&self, key: K, value: V) {
        let Ok(mut map) = self.map.lock() else { return };
        if map.len() >= self.cap && !map.contains_key(&key) {
            let ttl = self.ttl;
            map.retain(|_, (at, _)| at.elapsed() < ttl);
            if map.len() >= self.cap {
                map.clear();
            }
        }
        map.insert(key, (Instant::now(), value));
    }

    pub fn len(&self) -> usize {
        self.map.lock().map(|m| m.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_served_until_they_expire() {
        let kept: Ttl<String, i32> = Ttl::new(Duration::from_secs(60), 10);
        assert_eq!(kept.get("DEMO-0001"), None);
        kept.put("DEMO-0001".into(), 7);
        assert_eq!(kept.get("DEMO-0001"), Some(7));
        kept.put("DEMO-0001".into(), 6);
        assert_eq!(kept.get("DEMO-0001"), Some(6), "a newer value replaces");

        let expired: Ttl<String, i32> = Ttl::new(Duration::from_millis(20), 10);
        expired.put("DEMO-0001".into(), 7);
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(expired.get("DEMO-0001"), None);
    }

    #[test]
    fn it_never_holds_more_than_its_capacity() {
        let kept: Ttl<u32, u32> = Ttl::new(Duration::from_secs(60), 3);
        for i in 0..10 {
            kept.put(i, i);
            assert!(kept.len() <= 3, "{} entries", kept.len());
        }
        assert_eq!(kept.get(&9), Some(9), "the newest is kept");

        let short: Ttl<u32, u32> = Ttl::new(Duration::from_millis(20), 3);
        short.put(1, 1);
        short.put(2, 2);
        std::thread::sleep(Duration::from_millis(30));
        short.put(3, 3);
        short.put(4, 4);
        assert_eq!(short.len(), 2, "expired entries make room first");
        assert_eq!(short.get(&3), Some(3));
    }
}
