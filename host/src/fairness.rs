//! Per-client shares of the host's call slots.
//!
//! A plugin's `concurrent_calls` and the host's parked-call table are shared
//! by every client. Without a per-client cap, one client could take them all
//! (say, 256 calls that never answer sampling) and lock a plugin for
//! everyone until the calls time out. Each client may hold at most
//! `max_calls` calls running or parked at once; the next is refused with a
//! message that says why.
//!
//! A client over HTTP is its address, in both protocol eras: a legacy
//! client may open as many sessions as it likes, so a cap per session
//! would be no cap. Addresses are compared canonically: an IPv4 peer on a
//! dual-stack listener (`::ffff:a.b.c.d`) is that IPv4 address, and an
//! IPv6 client is its /64, the block one host is handed ([`client_of`]).
//! Over stdio the one connection is the one client. An address may reach
//! every replica, so with `--redis` its calls are counted in Redis across
//! all of them ([`crate::shared`]), each slot a lease named by
//! [`holder_id`], unique across replicas.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use crate::shared::Shared;

/// Who a call is counted against.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub enum ClientKey {
    /// The one client of a stdio server (or a request that came with no
    /// address).
    Session(u64),
    /// An HTTP client of either era, by its address as [`client_of`]
    /// gives it.
    Address(IpAddr),
}

/// The bits of an IPv6 address that name a client: its /64, since one
/// host is usually handed a whole /64 and may pick any address in it.
const IPV6_CLIENT_BITS: u128 = u128::MAX << 64;

/// `address` as the client it stands for: an IPv4-mapped IPv6 address
/// (`::ffff:a.b.c.d`, how a dual-stack listener sees IPv4 peers) is the
/// IPv4 address it carries, and an IPv6 address is its /64 (its host bits
/// zeroed), so a client cannot multiply its share by changing addresses
/// within its block.
pub fn client_of(address: IpAddr) -> IpAddr {
    match address.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & IPV6_CLIENT_BITS)),
        v4 => v4,
    }
}

/// This process's name among the replicas, in every lease and claim it
/// holds in Redis. Not the PID: replicas in containers are all PID 1.
static INSTANCE: OnceLock<String> = OnceLock::new();

/// Put `replica_id` (`--replica-id`) ahead of this process's random id in
/// the holder ids it makes, so an operator can tell in Redis whose a lease
/// is. The random part stays: two replicas given one name still differ.
/// Call it before serving; once an id has been made it changes nothing.
pub fn name_replica(replica_id: &str) {
    let _ = INSTANCE.set(format!("{replica_id}.{}", random_instance()));
}

/// 128 random bits in hex: this process's id among the replicas.
fn random_instance() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the OS random source is unavailable");
    format!("{:032x}", u128::from_be_bytes(bytes))
}

/// A holder id no other holder has, in this process or any other replica:
/// this process's instance id and a counter. Client slots (here) and round
/// claims ([`crate::shared`]) are named by it, so one replica's release can
/// never free another's slot.
pub fn holder_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let instance = INSTANCE.get_or_init(random_instance);
    format!("{instance}:{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// The calls each client holds now.
pub struct ClientLimits {
    max_calls: usize,
    held: Mutex<HashMap<ClientKey, usize>>,
    /// Where addresses' calls are counted across replicas, and the slots
    /// this replica holds there (renewed while held).
    shared: Option<Arc<Shared>>,
    leased: Mutex<HashMap<String, String>>,
    /// Balancers whose `X-Forwarded-For` names the client (`--trusted-proxy`),
    /// canonical (IPv4-mapped addresses unwrapped), as peers are compared.
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
            trusted_proxies: trusted_proxies
                .iter()
                .map(|proxy| proxy.to_canonical())
                .collect(),
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
            let lease = holder_id();
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

    /// The client behind a connection from `peer`, as [`client_of`] names
    /// it: the peer itself, or, when the peer is a trusted proxy, the
    /// nearest address in `X-Forwarded-For` that is not one (proxies append
    /// the address they saw, so whatever a client wrote itself stays to the
    /// left and is never believed). Every address is made canonical before
    /// it is compared, so `--trusted-proxy 127.0.0.1` matches a peer seen
    /// as `::ffff:127.0.0.1`.
    pub fn client_address(&self, peer: IpAddr, headers: &axum::http::HeaderMap) -> IpAddr {
        client_of(self.forwarded_for(peer.to_canonical(), headers))
    }

    /// The address (canonical, unmasked) that a connection from `peer`
    /// speaks for; see [`ClientLimits::client_address`].
    fn forwarded_for(&self, peer: IpAddr, headers: &axum::http::HeaderMap) -> IpAddr {
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
            match parse_hop(hop) {
                Some(address) if self.trusted_proxies.contains(&address) => client = address,
                Some(address) => return address,
                None => return client,
            }
        }
        client
    }

    fn lock_leased(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        self.leased.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One `X-Forwarded-For` entry as a canonical address: a bare address, or
/// one with a port (`203.0.113.7:4711`, `[2001:db8::1]:4711`), as some
/// balancers write; `None` when it is neither.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    let address = hop
        .parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|socket| socket.ip()))?;
    Some(address.to_canonical())
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

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn a_v4_mapped_peer_is_its_ipv4_address() {
        let limits = ClientLimits::new(1);
        let headers = axum::http::HeaderMap::new();
        assert_eq!(
            limits.client_address(ip("::ffff:127.0.0.1"), &headers),
            limits.client_address(ip("127.0.0.1"), &headers),
        );
        assert_eq!(
            limits.client_address(ip("::ffff:127.0.0.1"), &headers),
            ip("127.0.0.1")
        );
    }

    #[tokio::test]
    async fn addresses_in_one_ipv6_64_are_one_client() {
        let limits = ClientLimits::new(1);
        let headers = axum::http::HeaderMap::new();
        let first = limits.client_address(ip("2001:db8:1:2::1"), &headers);
        let second = limits.client_address(ip("2001:db8:1:2:ffff:ffff:ffff:fffe"), &headers);
        let elsewhere = limits.client_address(ip("2001:db8:1:3::1"), &headers);
        assert_eq!(first, second);
        assert_eq!(first, ip("2001:db8:1:2::"));
        assert_ne!(first, elsewhere);
        let _held = limits.acquire(ClientKey::Address(first)).await.unwrap();
        assert!(
            limits.acquire(ClientKey::Address(second)).await.is_err(),
            "another address in the /64 shares the share"
        );
        assert!(limits.acquire(ClientKey::Address(elsewhere)).await.is_ok());
    }

    #[test]
    fn a_trusted_proxy_matches_however_its_address_is_written() {
        let limits = ClientLimits::behind(1, None, vec![ip("127.0.0.1")]);
        let mut headers = axum::http::HeaderMap::new();
        headers.insert("x-forwarded-for", "::ffff:10.0.0.7".parse().unwrap());
        assert_eq!(
            limits.client_address(ip("::ffff:127.0.0.1"), &headers),
            ip("10.0.0.7"),
            "a dual-stack peer ::ffff:127.0.0.1 is the trusted 127.0.0.1"
        );
        headers.insert(
            "x-forwarded-for",
            "10.0.0.8:4711, ::ffff:127.0.0.1".parse().unwrap(),
        );
        assert_eq!(
            limits.client_address(ip("127.0.0.1"), &headers),
            ip("10.0.0.8"),
            "a mapped hop of a trusted proxy is skipped; a hop with a port is read"
        );
        let written_mapped = ClientLimits::behind(1, None, vec![ip("::ffff:127.0.0.1")]);
        assert_eq!(
            written_mapped.client_address(ip("127.0.0.1"), &headers),
            ip("10.0.0.8")
        );
        headers.insert("x-forwarded-for", "2001:db8::1".parse().unwrap());
        assert_eq!(
            limits.client_address(ip("127.0.0.1"), &headers),
            ip("2001:db8::"),
            "a forwarded IPv6 client is its /64"
        );
    }

    #[test]
    fn lease_ids_differ_across_limits_and_replicas() {
        // Each `ClientLimits` once counted its own leases from 0, so two of
        // them in one process (or two PID-1 replicas) named slots alike.
        let (a, b) = (holder_id(), holder_id());
        assert_ne!(a, b, "two leases of one process");
        assert!(
            !a.starts_with(&format!("{}:", std::process::id())),
            "a PID is no replica's name: in containers every replica is PID 1 ({a})"
        );
        let instance = a.rsplit_once(':').map(|(instance, _)| instance).unwrap();
        assert!(instance.len() >= 32, "{a}");
        assert_ne!(
            random_instance(),
            random_instance(),
            "two replicas draw different ids"
        );
    }

    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Invariant: an IPv4 client is one client however the listener
        /// writes its address (plain, or IPv4-mapped IPv6).
        #[test]
        fn an_ipv4_client_is_one_client_however_written(bits in any::<u32>()) {
            let v4 = std::net::Ipv4Addr::from(bits);
            let mapped = IpAddr::V6(v4.to_ipv6_mapped());
            prop_assert_eq!(client_of(mapped), IpAddr::V4(v4));
            prop_assert_eq!(client_of(IpAddr::V4(v4)), IpAddr::V4(v4));
        }

        /// Invariant: two IPv6 addresses (outside the IPv4-mapped block) are
        /// one client exactly when they share their first 64 bits.
        #[test]
        fn ipv6_clients_are_their_64(
            prefix in 1u64..=u64::MAX,
            other in 1u64..=u64::MAX,
            host in any::<u64>(),
            another_host in any::<u64>()
        ) {
            let address = |prefix: u64, host: u64| {
                IpAddr::V6(Ipv6Addr::from((u128::from(prefix) << 64) | u128::from(host)))
            };
            prop_assert_eq!(
                client_of(address(prefix, host)),
                client_of(address(prefix, another_host))
            );
            prop_assert_eq!(
                client_of(address(prefix, host)) == client_of(address(other, host)),
                prefix == other
            );
        }
    }
}
