//! Per-client shares of the host's call slots.
//!
//! A plugin's `concurrent_calls` and the host's parked-call table are shared
//! by every client. Without a per-client cap, one client could take them all
//! (say, 256 calls that never answer sampling) and lock a plugin for
//! everyone until the calls time out. Each client may hold at most
//! `max_calls` calls running or parked at once; the next is refused with a
//! message that says why.
//!
//! A client is its session (legacy MCP, and a stdio connection) or, for
//! 2026-07-28 requests over HTTP, which carry no session, its IP address.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// Who a call is counted against.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub enum ClientKey {
    /// A legacy session, or the one client of a stdio server.
    Session(u64),
    /// A 2026-07-28 HTTP client, by address.
    Address(IpAddr),
}

/// The calls each client holds now.
pub struct ClientLimits {
    max_calls: usize,
    held: Mutex<HashMap<ClientKey, usize>>,
}

/// One call's claim on its client's share; released when dropped.
pub struct ClientSlot {
    limits: Arc<ClientLimits>,
    key: ClientKey,
}

impl ClientLimits {
    /// At most `max_calls` calls per client at once.
    pub fn new(max_calls: usize) -> Arc<Self> {
        Arc::new(ClientLimits {
            max_calls,
            held: Mutex::default(),
        })
    }

    /// A slot for one more call of `key`, or why there is none.
    pub fn acquire(self: &Arc<Self>, key: ClientKey) -> Result<ClientSlot, String> {
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        let count = held.entry(key.clone()).or_insert(0);
        if *count >= self.max_calls {
            return Err(format!(
                "this client already has {} calls running or waiting for sampling answers, the most one client may hold (`--max-client-calls`); wait for one to finish",
                self.max_calls
            ));
        }
        *count += 1;
        Ok(ClientSlot {
            limits: self.clone(),
            key,
        })
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut held = self.limits.held.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = held.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                held.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_client_has_its_own_share() {
        let limits = ClientLimits::new(2);
        let greedy = ClientKey::Session(1);
        let first = limits.acquire(greedy.clone()).unwrap();
        let _second = limits.acquire(greedy.clone()).unwrap();
        let refused = limits.acquire(greedy.clone()).err().unwrap();
        assert!(refused.contains("`--max-client-calls`"), "{refused}");
        assert!(
            limits.acquire(ClientKey::Session(2)).is_ok(),
            "another client"
        );
        drop(first);
        assert!(
            limits.acquire(greedy).is_ok(),
            "a finished call frees its slot"
        );
    }
}
