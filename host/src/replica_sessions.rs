//! Legacy (session) clients stay on the replica that created their session:
//! a session's state lives in that process's memory. With `--replica-id`,
//! session ids start with the replica's name (`NAME.<random>`), so a stock
//! balancer can route each request that carries `Mcp-Session-Id` back to
//! its replica by a prefix match (see `deploy/nginx.conf`) and round-robin
//! everything else. Sessions are otherwise rmcp's own local sessions.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use rmcp::model::{ClientJsonRpcMessage, ServerJsonRpcMessage};
use rmcp::transport::WorkerTransport;
use rmcp::transport::streamable_http_server::session::local::{
    LocalSessionManager, LocalSessionManagerError, LocalSessionWorker, create_local_session,
};
use rmcp::transport::streamable_http_server::session::{
    ServerSseMessage, SessionId, SessionManager,
};

/// rmcp's local sessions, their ids tagged with this replica's name.
#[derive(Debug, Default)]
pub struct ReplicaSessions {
    pub local: LocalSessionManager,
    replica: Option<String>,
    /// Places held by `initialize` requests on their way to rmcp, which
    /// opens their sessions later ([`ReplicaSessions::reserve`]).
    reserved: AtomicUsize,
    /// Taken to count (reserve) and to turn a place into a session (create),
    /// so a count never sees two places for one or a session and its place.
    reserving: tokio::sync::Mutex<()>,
}

tokio::task_local! {
    /// The place held by the `initialize` this task is handling, if any
    /// ([`SessionReservation::within`]): the session rmcp opens for it
    /// takes that place.
    static HELD_PLACE: Option<Arc<AtomicBool>>;
}

/// A place for one session, held from the `--max-sessions` check until
/// rmcp opens the session (which then counts instead) or the request ends
/// without one (dropping the place gives it back).
#[derive(Debug)]
pub struct SessionReservation {
    sessions: Arc<ReplicaSessions>,
    /// Set once the place no longer counts: its session opened, or it was dropped.
    given_up: Arc<AtomicBool>,
}

impl SessionReservation {
    /// Run `handling` (the request on its way to rmcp) so that a session
    /// opened while it runs takes `place`; with no place, just run it.
    pub async fn within<F: std::future::Future>(
        place: Option<&SessionReservation>,
        handling: F,
    ) -> F::Output {
        let held = place.map(|place| place.given_up.clone());
        HELD_PLACE.scope(held, handling).await
    }
}

impl Drop for SessionReservation {
    fn drop(&mut self) {
        if !self.given_up.swap(true, Ordering::AcqRel) {
            self.sessions.reserved.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// A replica name: 1 to 32 letters, digits, `-` or `_`.
pub fn parse_replica_id(name: &str) -> Result<String, String> {
    let valid = (1..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if valid {
        Ok(name.to_string())
    } else {
        Err(format!(
            "`{name}` is not a replica name: use 1 to 32 letters, digits, `-` or `_` (it starts every session id this replica creates)"
        ))
    }
}

impl ReplicaSessions {
    /// Sessions whose ids name `replica` (none: plain random ids).
    pub fn named(replica: Option<String>) -> Self {
        ReplicaSessions {
            local: LocalSessionManager::default(),
            replica,
            reserved: AtomicUsize::new(0),
            reserving: tokio::sync::Mutex::new(()),
        }
    }

    /// Live sessions.
    pub async fn count(&self) -> usize {
        self.local.sessions.read().await.len()
    }

    /// A place for one more session if live sessions and places already
    /// held are fewer than `max`, else `None`. Counting and holding are one
    /// step: concurrent `initialize` requests cannot all pass a check of
    /// [`ReplicaSessions::count`] before any of their sessions exists. Run
    /// the request [`SessionReservation::within`] its place, so the session
    /// it opens takes the place over and nothing is counted twice.
    pub async fn reserve(self: &Arc<Self>, max: usize) -> Option<SessionReservation> {
        let _one_at_a_time = self.reserving.lock().await;
        let live = self.count().await;
        let held = self.reserved.load(Ordering::Acquire);
        if live.saturating_add(held) >= max {
            return None;
        }
        self.reserved.fetch_add(1, Ordering::AcqRel);
        Some(SessionReservation {
            sessions: self.clone(),
            given_up: Arc::new(AtomicBool::new(false)),
        })
    }

    /// A session just opened takes the place its request held, if any: it
    /// counts as live from now on, no longer as a place.
    fn take_held_place(&self) {
        let _ = HELD_PLACE.try_with(|held| {
            if let Some(given_up) = held
                && !given_up.swap(true, Ordering::AcqRel)
            {
                self.reserved.fetch_sub(1, Ordering::AcqRel);
            }
        });
    }

    /// A session whose id starts with `replica`.
    async fn create_named(
        &self,
        replica: &str,
    ) -> Result<(SessionId, WorkerTransport<LocalSessionWorker>), LocalSessionManagerError> {
        let mut random = [0u8; 16];
        getrandom::fill(&mut random).expect("the system's random source");
        let random: String = random.iter().map(|b| format!("{b:02x}")).collect();
        let id: SessionId = format!("{replica}.{random}").into();
        let (handle, worker) = create_local_session(id.clone(), self.local.session_config.clone());
        self.local.sessions.write().await.insert(id.clone(), handle);
        Ok((id, WorkerTransport::spawn(worker)))
    }
}

impl SessionManager for ReplicaSessions {
    type Error = LocalSessionManagerError;
    type Transport = WorkerTransport<LocalSessionWorker>;

    async fn create_session(&self) -> Result<(SessionId, Self::Transport), Self::Error> {
        // Opening the session and giving up its request's place are one
        // step for `reserve`.
        let _one_at_a_time = self.reserving.lock().await;
        let created = match &self.replica {
            None => self.local.create_session().await,
            Some(replica) => self.create_named(replica).await,
        };
        if created.is_ok() {
            self.take_held_place();
        }
        created
    }

    async fn initialize_session(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<ServerJsonRpcMessage, Self::Error> {
        self.local.initialize_session(id, message).await
    }

    async fn has_session(&self, id: &SessionId) -> Result<bool, Self::Error> {
        self.local.has_session(id).await
    }

    async fn close_session(&self, id: &SessionId) -> Result<(), Self::Error> {
        self.local.close_session(id).await
    }

    async fn create_stream(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<impl futures::Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error>
    {
        self.local.create_stream(id, message).await
    }

    async fn accept_message(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<(), Self::Error> {
        self.local.accept_message(id, message).await
    }

    async fn create_standalone_stream(
        &self,
        id: &SessionId,
    ) -> Result<impl futures::Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error>
    {
        self.local.create_standalone_stream(id).await
    }

    async fn resume(
        &self,
        id: &SessionId,
        last_event_id: String,
    ) -> Result<impl futures::Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error>
    {
        self.local.resume(id, last_event_id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replica_names_are_checked() {
        assert_eq!(parse_replica_id("r-1_a").unwrap(), "r-1_a");
        for bad in ["", "a.b", "a b", "x/y", &"a".repeat(33)] {
            let why = parse_replica_id(bad).unwrap_err();
            assert!(why.contains("letters, digits"), "{why}");
        }
    }

    #[tokio::test]
    async fn session_ids_start_with_the_replica_name() {
        let sessions = ReplicaSessions::named(Some("r2".into()));
        let (id, _transport) = sessions.create_session().await.unwrap();
        assert!(id.starts_with("r2.") && id.len() == 3 + 32, "{id}");
        assert!(sessions.has_session(&id).await.unwrap());
        assert_eq!(sessions.count().await, 1);
    }

    /// Invariant: however `initialize` requests interleave (here on several
    /// threads, each yielding between its check and opening its session, as
    /// a request does on its way to rmcp), no more sessions open than the cap.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_reservations_never_open_more_sessions_than_the_cap() {
        const MAX: usize = 3;
        let sessions = Arc::new(ReplicaSessions::named(None));
        let attempts: Vec<_> = (0..32)
            .map(|_| {
                let sessions = sessions.clone();
                tokio::spawn(async move {
                    let place = sessions.reserve(MAX).await?;
                    let opening = async {
                        tokio::task::yield_now().await;
                        sessions.create_session().await.unwrap()
                    };
                    let (_id, transport) = SessionReservation::within(Some(&place), opening).await;
                    Some(transport)
                })
            })
            .collect();
        let mut transports = Vec::new();
        for attempt in attempts {
            transports.extend(attempt.await.unwrap());
        }
        assert_eq!(transports.len(), MAX, "places granted");
        assert_eq!(sessions.count().await, MAX, "sessions opened");
        assert!(sessions.reserve(MAX).await.is_none(), "the cap is reached");
    }

    /// A session opened within its place counts once: as soon as it is
    /// live, its place is free for another, though the request still runs.
    #[tokio::test]
    async fn a_session_and_its_place_count_once() {
        let sessions = Arc::new(ReplicaSessions::named(Some("r1".into())));
        let place = sessions.reserve(2).await.expect("room for two");
        let opening = sessions.create_session();
        let (_id, _transport) = SessionReservation::within(Some(&place), opening)
            .await
            .unwrap();
        assert_eq!(sessions.count().await, 1);
        let second = sessions.reserve(2).await;
        assert!(
            second.is_some(),
            "one session and no place: room for one more"
        );
        drop(place);
        assert!(sessions.reserve(2).await.is_none(), "one live, one held");
    }

    #[tokio::test]
    async fn a_place_given_back_unused_is_free_again() {
        let sessions = Arc::new(ReplicaSessions::named(None));
        let place = sessions.reserve(1).await.expect("room for one");
        assert!(sessions.reserve(1).await.is_none(), "the one place is held");
        drop(place);
        assert!(
            sessions.reserve(1).await.is_some(),
            "an initialize that opened no session gives its place back"
        );
    }
}
