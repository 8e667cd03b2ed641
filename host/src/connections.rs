//! The HTTP accept loop, with limits a slow or greedy client cannot get
//! around.
//!
//! `axum::serve` waits for a request head as long as a client likes and
//! accepts every connection, so a client that opens many connections and
//! sends nothing (or half a head) holds the process's file descriptors
//! until nobody else can connect; the token check cannot help, as it runs
//! only once a head has arrived. Here:
//!
//! - a request head must arrive within `header_timeout`, which is also how
//!   long an idle keep-alive connection waits for its next request (hyper
//!   starts the same timer when a connection goes idle); a request body is
//!   held to its own timeout where it is read (`transport::BodyGuard`);
//! - at most `max_total` connections are open at once, and at most
//!   `max_per_client` from one client (an address, an IPv6 client being its
//!   /64 as in [`crate::fairness::client_of`]); a trusted proxy, which
//!   carries many clients, is held to the total only. A connection over a
//!   cap is answered `503` if its socket takes the answer at once, and
//!   closed: it costs a descriptor for no longer than that. Refusals are
//!   logged at most once a minute per client, never once per connection.
//!
//! Each connection is served by hyper's HTTP/1 server, the request carrying
//! the peer as `axum::extract::ConnectInfo<SocketAddr>` as `axum::serve`
//! gave it. On `shutdown` the loop stops accepting, asks every connection
//! to close once its current response is done, and waits for them a
//! little ([`SHUTDOWN_LINGER`]).

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tower_service::Service as _;

/// The default for `--max-connections-per-client`, when the total allows it.
pub const DEFAULT_MAX_PER_CLIENT: usize = 256;

/// The most connections open at once by default, however many file
/// descriptors the process may have.
const DEFAULT_MAX_TOTAL: usize = 1024;

/// How long, after `shutdown`, connections still open may take to close
/// before the server stops anyway. Requests in hand have already had the
/// drain's grace period (see [`crate::drain`]).
pub const SHUTDOWN_LINGER: Duration = Duration::from_secs(3);

/// How often a client's refused connections (or the total cap's) are logged.
const LOG_EVERY: Duration = Duration::from_secs(60);

/// Clients whose refusals are remembered for [`LOG_EVERY`]; past this many
/// (a flood from many addresses), refusals are logged as one.
const MAX_LOGGED_CLIENTS: usize = 1024;

/// How many connections may be open, and how long a request head may take.
#[derive(Clone, Debug)]
pub struct ConnectionLimits {
    /// Open connections at most, all clients together (`--max-connections`).
    pub max_total: usize,
    /// Open connections at most from one client (`--max-connections-per-client`).
    pub max_per_client: usize,
    /// How long a request head may take to arrive, and an idle keep-alive
    /// connection may wait for the next one (`--header-timeout-s`).
    pub header_timeout: Duration,
    /// Peers held to the total cap only: trusted proxies (`--trusted-proxy`),
    /// whose connections carry many clients.
    pub exempt: Vec<IpAddr>,
}

/// `--max-connections` when not given: three quarters of the process's
/// file-descriptor limit (`ulimit -n`; the rest is for plugins' files,
/// outbound HTTP, Redis and the log), and at most 1024.
pub fn default_max_total() -> usize {
    let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile).current;
    max_total_for(limit)
}

/// [`default_max_total`] for a descriptor limit (`None`: unlimited).
fn max_total_for(descriptor_limit: Option<u64>) -> usize {
    let Some(limit) = descriptor_limit else {
        return DEFAULT_MAX_TOTAL;
    };
    let three_quarters = usize::try_from(limit / 4 * 3).unwrap_or(usize::MAX);
    three_quarters.clamp(1, DEFAULT_MAX_TOTAL)
}

/// `--max-connections-per-client` when not given: a quarter of the total,
/// at most [`DEFAULT_MAX_PER_CLIENT`], so no single address can take every
/// connection even when the descriptor limit is low.
pub fn default_max_per_client(max_total: usize) -> usize {
    (max_total / 4).clamp(1, DEFAULT_MAX_PER_CLIENT)
}

/// The process's file-descriptor limit, when `max_total` connections might
/// not fit under it (a warning for the operator).
pub fn descriptor_shortfall(max_total: usize) -> Option<u64> {
    let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile).current?;
    (u64::try_from(max_total).unwrap_or(u64::MAX) >= limit).then_some(limit)
}

/// Serve `router` over HTTP/1 on `listener` within `limits` until
/// `shutdown` is cancelled, then close connections gracefully.
pub async fn serve(
    listener: TcpListener,
    router: axum::Router,
    limits: ConnectionLimits,
    shutdown: CancellationToken,
) {
    let tally = Arc::new(Tally::new(&limits));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    // Every connection task holds a receiver; `closed` says they have ended.
    let (open_tx, open_rx) = tokio::sync::watch::channel(());
    let mut accept_errors = RateLimitedLog::default();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = shutdown.cancelled() => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                after_accept_error(&error, &mut accept_errors).await;
                continue;
            }
        };
        let slot = match tally.admit(peer.ip()) {
            Ok(slot) => slot,
            Err(refusal) => {
                tally.log_refusal(refusal, peer.ip());
                turn_away(stream, refusal);
                continue;
            }
        };
        // Each event of a call's stream goes out when written, not after
        // the client's delayed ACK.
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let service = hyper::service::service_fn(
            move |mut request: axum::http::Request<hyper::body::Incoming>| {
                // Handlers tell 2026-07-28 clients apart by address.
                request.extensions_mut().insert(ConnectInfo(peer));
                router.clone().call(request)
            },
        );
        let connection = http.serve_connection(TokioIo::new(stream), service);
        let shutdown = shutdown.clone();
        let open = open_rx.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let _open = open;
            let mut connection = std::pin::pin!(connection);
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(error) = result {
                        tracing::debug!(%peer, "HTTP connection ended: {error}");
                    }
                    return;
                }
                () = shutdown.cancelled() => connection.as_mut().graceful_shutdown(),
            }
            let _ = connection.await;
        });
    }
    drop(listener);
    drop(open_rx);
    if tokio::time::timeout(SHUTDOWN_LINGER, open_tx.closed())
        .await
        .is_err()
    {
        tracing::warn!(
            open = open_tx.receiver_count(),
            "HTTP connections still open {} s after shutdown; closing them",
            SHUTDOWN_LINGER.as_secs()
        );
    }
}

/// After a failed `accept`: a connection that died in the backlog is
/// nothing; anything else (out of file descriptors) gets a short pause, so
/// the loop does not spin, and a log line at most once a minute.
async fn after_accept_error(error: &std::io::Error, log: &mut RateLimitedLog) {
    use std::io::ErrorKind;
    if matches!(
        error.kind(),
        ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset | ErrorKind::ConnectionRefused
    ) {
        return;
    }
    if let Some(count) = log.note(Instant::now()) {
        tracing::warn!(
            failures = count,
            "cannot accept HTTP connections: {error}; if the process is out of file descriptors, lower --max-connections or raise `ulimit -n`"
        );
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
}

/// Which cap refused a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Refusal {
    /// `--max-connections`: the server as a whole is full.
    Total,
    /// `--max-connections-per-client`: this client has its share.
    Client,
}

impl Refusal {
    /// The answer's text: what was refused and what to do about it.
    fn message(self) -> &'static str {
        match self {
            Refusal::Total => {
                "Service Unavailable: the server has as many connections open as it keeps (--max-connections); try again shortly\n"
            }
            Refusal::Client => {
                "Service Unavailable: your address has as many connections open as one client may (--max-connections-per-client); reuse or close one\n"
            }
        }
    }
}

/// Answer a connection over a cap with `503` if its socket takes the whole
/// answer at once (never waiting on it), then close it.
fn turn_away(stream: TcpStream, refusal: Refusal) {
    let body = refusal.message();
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.try_write(answer.as_bytes());
    drop(stream);
}

/// Open connections, in all and per client, and when refusals were logged.
struct Tally {
    max_total: usize,
    max_per_client: usize,
    exempt: Vec<IpAddr>,
    state: Mutex<TallyState>,
}

/// What [`Tally`] guards.
#[derive(Default)]
struct TallyState {
    total: usize,
    per_client: HashMap<IpAddr, usize>,
    refusals: RefusalLog,
}

/// One admitted connection: its place in the tally, given back on drop.
struct Slot {
    tally: Arc<Tally>,
    client: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.tally.release(self.client);
    }
}

impl Tally {
    fn new(limits: &ConnectionLimits) -> Self {
        Tally {
            max_total: limits.max_total,
            max_per_client: limits.max_per_client,
            exempt: limits.exempt.iter().map(|ip| ip.to_canonical()).collect(),
            state: Mutex::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, TallyState> {
        // The counts stay consistent whatever panicked while holding it.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A place for one more connection from `peer`, or the cap it is over.
    fn admit(self: &Arc<Self>, peer: IpAddr) -> Result<Slot, Refusal> {
        let client = crate::fairness::client_of(peer);
        let capped = !self.exempt.contains(&peer.to_canonical());
        let mut state = self.lock();
        if state.total >= self.max_total {
            return Err(Refusal::Total);
        }
        let open = state.per_client.get(&client).copied().unwrap_or(0);
        if capped && open >= self.max_per_client {
            return Err(Refusal::Client);
        }
        state.total += 1;
        state.per_client.insert(client, open + 1);
        Ok(Slot {
            tally: self.clone(),
            client,
        })
    }

    /// Give back one connection of `client`.
    fn release(&self, client: IpAddr) {
        let mut state = self.lock();
        state.total = state.total.saturating_sub(1);
        if let Entry::Occupied(mut open) = state.per_client.entry(client) {
            *open.get_mut() -= 1;
            if *open.get() == 0 {
                open.remove();
            }
        }
    }

    /// Log a refusal of `peer`, unless its client (or, for the total cap,
    /// the server) was logged within the last minute.
    fn log_refusal(&self, refusal: Refusal, peer: IpAddr) {
        let client = crate::fairness::client_of(peer);
        let key = match refusal {
            Refusal::Total => None,
            Refusal::Client => Some(client),
        };
        let Some(count) = self.lock().refusals.note(key, Instant::now()) else {
            return;
        };
        match refusal {
            Refusal::Total => tracing::warn!(
                refused = count,
                max = self.max_total,
                "refusing HTTP connections: the server has as many open as --max-connections allows (this line comes at most once a minute)"
            ),
            Refusal::Client => tracing::warn!(
                %client,
                refused = count,
                max = self.max_per_client,
                "refusing HTTP connections from a client with as many open as --max-connections-per-client allows (this line comes at most once a minute per client)"
            ),
        }
    }

    #[cfg(test)]
    fn open(&self) -> (usize, usize) {
        let state = self.lock();
        (state.total, state.per_client.values().sum())
    }
}

/// When each client's refusals were last logged, so a flood of refused
/// connections makes one line a minute per client, not one per connection.
#[derive(Default)]
struct RefusalLog {
    /// `None` stands for the total cap, and for clients past
    /// [`MAX_LOGGED_CLIENTS`].
    clients: HashMap<Option<IpAddr>, RateLimitedLog>,
}

impl RefusalLog {
    /// Whether to log a refusal of `key` at `now`: `Some(n)` with the
    /// refusals the line covers (those not logged since the last line, this
    /// one included), `None` to stay quiet.
    fn note(&mut self, key: Option<IpAddr>, now: Instant) -> Option<u64> {
        let mut key = key;
        if !self.clients.contains_key(&key) && self.clients.len() >= MAX_LOGGED_CLIENTS {
            self.clients.retain(|_, log| log.is_quiet(now));
            if self.clients.len() >= MAX_LOGGED_CLIENTS {
                key = None;
            }
        }
        self.clients.entry(key).or_default().note(now)
    }
}

/// Something logged at most once per [`LOG_EVERY`], each line counting the
/// occurrences since the last.
#[derive(Default)]
struct RateLimitedLog {
    last: Option<Instant>,
    unlogged: u64,
}

impl RateLimitedLog {
    /// Count one occurrence at `now`; `Some(n)` when it is time for a line
    /// covering `n` occurrences.
    fn note(&mut self, now: Instant) -> Option<u64> {
        self.unlogged += 1;
        if self
            .last
            .is_some_and(|last| now.saturating_duration_since(last) < LOG_EVERY)
        {
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.unlogged))
    }

    /// Whether a line was logged within the last [`LOG_EVERY`] before `now`.
    fn is_quiet(&self, now: Instant) -> bool {
        self.last
            .is_some_and(|last| now.saturating_duration_since(last) < LOG_EVERY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn tally(max_total: usize, max_per_client: usize, exempt: &[&str]) -> Arc<Tally> {
        Arc::new(Tally::new(&ConnectionLimits {
            max_total,
            max_per_client,
            header_timeout: Duration::from_secs(10),
            exempt: exempt.iter().map(|ip| ip.parse().unwrap()).collect(),
        }))
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn one_client_at_its_cap_leaves_room_for_others() {
        let tally = tally(10, 2, &[]);
        let first: Vec<Slot> = (0..2)
            .map(|_| tally.admit(ip("127.0.0.1")).unwrap())
            .collect();
        assert_eq!(
            tally.admit(ip("127.0.0.1")).err(),
            Some(Refusal::Client),
            "a third connection from one address is over its share"
        );
        assert_eq!(
            tally.admit(ip("::ffff:127.0.0.1")).err(),
            Some(Refusal::Client),
            "the same client seen on a dual-stack listener"
        );
        let other = tally
            .admit(ip("127.0.0.2"))
            .expect("another client is served");
        drop(first);
        assert!(
            tally.admit(ip("127.0.0.1")).is_ok(),
            "closing frees the share"
        );
        drop(other);
    }

    #[test]
    fn the_total_cap_holds_for_everyone_and_addresses_in_one_ipv6_64_are_one_client() {
        let tally = tally(3, 2, &[]);
        let _a = tally.admit(ip("2001:db8::1")).unwrap();
        let _b = tally.admit(ip("2001:db8::2")).unwrap();
        assert_eq!(
            tally.admit(ip("2001:db8::3")).err(),
            Some(Refusal::Client),
            "another address in the /64 is the same client"
        );
        let _c = tally.admit(ip("10.0.0.1")).unwrap();
        assert_eq!(tally.admit(ip("10.0.0.2")).err(), Some(Refusal::Total));
    }

    #[test]
    fn a_trusted_proxy_is_held_to_the_total_only() {
        let tally = tally(5, 1, &["127.0.0.1"]);
        let slots: Vec<Slot> = (0..5)
            .map(|_| tally.admit(ip("127.0.0.1")).unwrap())
            .collect();
        assert_eq!(tally.admit(ip("127.0.0.1")).err(), Some(Refusal::Total));
        drop(slots);
        assert_eq!(tally.open(), (0, 0));
    }

    #[test]
    fn defaults_stay_under_the_descriptor_limit() {
        assert_eq!(max_total_for(Some(256)), 192);
        assert_eq!(max_total_for(Some(1_048_576)), 1024);
        assert_eq!(max_total_for(None), 1024);
        assert_eq!(max_total_for(Some(1)), 1);
        assert_eq!(default_max_per_client(192), 48);
        assert_eq!(default_max_per_client(1024), 256);
        assert_eq!(default_max_per_client(2), 1);
    }

    #[test]
    fn refusals_are_logged_once_a_minute_per_client_with_a_count() {
        let mut log = RefusalLog::default();
        let start = Instant::now();
        let a = Some(ip("127.0.0.1"));
        assert_eq!(log.note(a, start), Some(1), "the first refusal is logged");
        for i in 1..=100 {
            assert_eq!(log.note(a, start + Duration::from_millis(i)), None);
        }
        assert_eq!(
            log.note(Some(ip("127.0.0.2")), start),
            Some(1),
            "another client has its own line"
        );
        assert_eq!(
            log.note(a, start + LOG_EVERY),
            Some(101),
            "a minute on, one line counts what was not logged"
        );
    }

    #[test]
    fn a_flood_from_many_addresses_keeps_the_log_table_bounded() {
        let mut log = RefusalLog::default();
        let now = Instant::now();
        let mut lines = 0;
        for n in 0..(MAX_LOGGED_CLIENTS as u32 * 4) {
            let client = IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + n));
            lines += usize::from(log.note(Some(client), now).is_some());
        }
        assert!(log.clients.len() <= MAX_LOGGED_CLIENTS + 1);
        assert!(lines <= MAX_LOGGED_CLIENTS + 1, "{lines} lines");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Invariant: whatever the order of connections opening and closing,
        /// the open count never exceeds the total cap, no client (but an
        /// exempt one) exceeds its share, and every close gives its place
        /// back, so the tally ends at zero.
        #[test]
        fn caps_hold_under_any_order(
            steps in proptest::collection::vec((0u8..4, any::<bool>()), 0..200),
            max_total in 1usize..12,
            max_per_client in 1usize..6,
        ) {
            let tally = tally(max_total, max_per_client, &["10.0.0.3"]);
            let mut held: Vec<(u8, Slot)> = Vec::new();
            for (client, open) in steps {
                if open {
                    let address = IpAddr::from([10, 0, 0, client]);
                    if let Ok(slot) = tally.admit(address) {
                        held.push((client, slot));
                    }
                } else if let Some(at) = held.iter().position(|(c, _)| *c == client) {
                    drop(held.remove(at));
                }
                let (total, summed) = tally.open();
                prop_assert_eq!(total, held.len());
                prop_assert_eq!(summed, held.len());
                prop_assert!(total <= max_total);
                for client in 0u8..3 {
                    let open = held.iter().filter(|(c, _)| *c == client).count();
                    prop_assert!(open <= max_per_client, "client {} has {}", client, open);
                }
            }
            held.clear();
            prop_assert_eq!(tally.open(), (0, 0));
        }
    }
}
