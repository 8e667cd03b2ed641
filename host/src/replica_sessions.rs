//! Legacy (session) clients stay on the replica that created their session:
//! a session's state lives in that process's memory. With `--replica-id`,
//! session ids start with the replica's name (`NAME.<random>`), so a stock
//! balancer can route each request that carries `Mcp-Session-Id` back to
//! its replica by a prefix match (see `deploy/nginx.conf`) and round-robin
//! everything else. Sessions are otherwise rmcp's own local sessions.

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
        }
    }

    /// Live sessions.
    pub async fn count(&self) -> usize {
        self.local.sessions.read().await.len()
    }
}

impl SessionManager for ReplicaSessions {
    type Error = LocalSessionManagerError;
    type Transport = WorkerTransport<LocalSessionWorker>;

    async fn create_session(&self) -> Result<(SessionId, Self::Transport), Self::Error> {
        let Some(replica) = &self.replica else {
            return self.local.create_session().await;
        };
        let mut random = [0u8; 16];
        getrandom::fill(&mut random).expect("the system's random source");
        let random: String = random.iter().map(|b| format!("{b:02x}")).collect();
        let id: SessionId = format!("{replica}.{random}").into();
        let (handle, worker) = create_local_session(id.clone(), self.local.session_config.clone());
        self.local.sessions.write().await.insert(id.clone(), handle);
        Ok((id, WorkerTransport::spawn(worker)))
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
}
