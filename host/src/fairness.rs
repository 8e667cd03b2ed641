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
//! A session lives on one replica, so its calls are counted there; an
//! address may reach every replica, so with `--redis` its calls are
//! counted in Redis across all of them ([`crate::shared`]).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::shared::Shared;

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
    /// Where addresses' calls are counted across replicas, and the slots
    /// this replica holds there (renewed while held).
    shared: Option<Arc<Shared>>,
    leased: Mutex<HashMap<String, String>>,
    next_lease: AtomicU64,
    /// Balancers whose `X-Forwarded-For` names the client (`--trusted-proxy`).
    trusted_proxies: Vec<IpAddr>,
}

/// One call's claim on its client's share; released when dropped.
pub struct ClientSlot {
    limits: Arc<ClientLimits>,
    key: ClientKey,
    /// Its lease in Redis, when counted there.
    lease: Option<String>,
}

impl ClientLimits {
    /// At most `max_calls` calls per client at once.
    pub fn new(max_calls: usize) -> Arc<Self> {
        Self::behind(max_calls, None, Vec::new())
    }

    /// [`ClientLimits::new`] for a replica behind `trusted_proxies`, its
    /// clients' addresses counted in `shared` when given.
    pub fn behind(
        max_calls: usize,
        shared: Option<Arc<Shared>>,
        trusted_proxies: Vec<IpAddr>,
    ) -> Arc<Self> {
        let limits = Arc::new(ClientLimits {
            max_calls,
            held: Mutex::default(),
            shared,
            leased: Mutex::default(),
            next_lease: AtomicU64::new(0),
            trusted_proxies,
        });
        if limits.shared.is_some() {
            tokio::spawn(renew_leases(Arc::downgrade(&limits)));
        }
        limits
    }

    /// A slot for one more call of `key`, or why there is none.
    pub async fn acquire(self: &Arc<Self>, key: ClientKey) -> Result<ClientSlot, String> {
        let refused = || {
            format!(
                "this client already has {} calls running or waiting for sampling answers, the most one client may hold (`--max-client-calls`); wait for one to finish",
                self.max_calls
            )
        };
        if let (Some(shared), ClientKey::Address(address)) = (&self.shared, &key) {
            let client = address.to_string();
            let lease = format!(
                "{}:{}",
                std::process::id(),
                self.next_lease.fetch_add(1, Ordering::Relaxed)
            );
            if !shared
                .take_client_slot(&client, &lease, self.max_calls)
                .await?
            {
                return Err(refused());
            }
            self.lock_leased().insert(lease.clone(), client);
            return Ok(ClientSlot {
                limits: self.clone(),
                key,
                lease: Some(lease),
            });
        }
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        let count = held.entry(key.clone()).or_insert(0);
        if *count >= self.max_calls {
            return Err(refused());
        }
        *count += 1;
        Ok(ClientSlot {
            limits: self.clone(),
            key,
            lease: None,
        })
    }

    /// The address of the client behind a connection from `peer`: the
    /// peer itself, or, when the peer is a trusted proxy, the nearest
    /// address in `X-Forwarded-For` that is not one (proxies append the
    /// address they saw, so whatever a client wrote itself stays to the
    /// left and is never believed).
    pub fn client_address(&self, peer: IpAddr, headers: &axum::http::HeaderMap) -> IpAddr {
        if !self.trusted_proxies.contains(&peer) {
            return peer;
        }
        let forwarded: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .collect();
        let mut client = peer;
        for hop in forwarded.iter().rev() {
            match hop.trim().parse::<IpAddr>() {
                Ok(address) if self.trusted_proxies.contains(&address) => client = address,
                Ok(address) => return address,
                Err(_) => return client,
            }
        }
        client
    }

    fn lock_leased(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        self.leased.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Renew this replica's leases in Redis while they are held.
async fn renew_leases(limits: std::sync::Weak<ClientLimits>) {
    let every = crate::shared::CLIENT_SLOT_LEASE / 3;
    loop {
        tokio::time::sleep(every).await;
        let Some(limits) = limits.upgrade() else {
            return;
        };
        let Some(shared) = limits.shared.clone() else {
            return;
        };
        let leases: Vec<(String, String)> = limits
            .lock_leased()
            .iter()
            .map(|(lease, client)| (lease.clone(), client.clone()))
            .collect();
        drop(limits);
        for (lease, client) in leases {
            if let Err(why) = shared.renew_client_slot(&client, &lease).await {
                tracing::warn!("{why}");
            }
        }
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        if let Some(lease) = self.lease.take() {
            let client = self.limits.lock_leased().remove(&lease);
            if let (Some(client), Some(shared)) = (client, self.limits.shared.clone()) {
                tokio::spawn(async move { shared.release_client_slot(&client, &lease).await });
            }
            return;
        }
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

    #[tokio::test]
    async fn each_client_has_its_own_share() {
        let limits = ClientLimits::new(2);
        let greedy = ClientKey::Session(1);
        let first = limits.acquire(greedy.clone()).await.unwrap();
        let _second = limits.acquire(greedy.clone()).await.unwrap();
        let refused = limits.acquire(greedy.clone()).await.err().unwrap();
        assert!(refused.contains("`--max-client-calls`"), "{refused}");
        assert!(
            limits.acquire(ClientKey::Session(2)).await.is_ok(),
            "another client"
        );
        drop(first);
        assert!(
            limits.acquire(greedy).await.is_ok(),
            "a finished call frees its slot"
        );
    }

    #[test]
    fn only_a_trusted_proxy_names_the_client() {
        let proxy: IpAddr = "127.0.0.1".parse().unwrap();
        let limits = ClientLimits::behind(1, None, vec![proxy]);
        let mut headers = axum::http::HeaderMap::new();
        headers.append("x-forwarded-for", "6.6.6.6, 10.0.0.7".parse().unwrap());
        headers.append("x-forwarded-for", "127.0.0.1".parse().unwrap());
        let client = limits.client_address(proxy, &headers);
        assert_eq!(
            client,
            "10.0.0.7".parse::<IpAddr>().unwrap(),
            "the nearest untrusted hop"
        );
        let stranger: IpAddr = "10.0.0.9".parse().unwrap();
        assert_eq!(limits.client_address(stranger, &headers), stranger);
        headers.insert("x-forwarded-for", "not-an-address".parse().unwrap());
        assert_eq!(limits.client_address(proxy, &headers), proxy);
    }
}
