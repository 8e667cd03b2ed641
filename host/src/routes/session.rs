//! A legacy (pre-2026-07-28) session: the question is a server-to-client
//! request to the calling session's peer.
//!
//! It must be awaited on the tool call's own task, where rmcp's task-local
//! request id sends it down the call's response stream rather than the
//! standalone GET stream (which many clients never open).

use std::time::Duration;

use rmcp::model::{
    CancelledNotificationParam, ClientCapabilities, ClientResult, ErrorCode, RequestId,
};
use rmcp::service::{Peer, PeerRequestOptions, RoleServer, ServiceError};

use super::{Answer, Ask, AskError, BoxFuture, ClientRoute, Keyed, wrong_kind};

/// The calling session, and what its client declared it can do.
pub struct Session {
    pub peer: Peer<RoleServer>,
    pub capabilities: Option<ClientCapabilities>,
}

impl ClientRoute for Session {
    fn via(&self) -> &'static str {
        "session"
    }

    /// One request after another: a session has no batches, and keys mean
    /// nothing to it.
    fn ask_all(
        &self,
        asks: Vec<Keyed>,
        timeout: Duration,
    ) -> BoxFuture<'_, Vec<Result<Answer, AskError>>> {
        Box::pin(async move {
            let mut answers = Vec::with_capacity(asks.len());
            for (_, ask) in asks {
                answers.push(self.ask_one(ask, timeout).await);
            }
            answers
        })
    }
}

impl Session {
    async fn ask_one(&self, ask: Ask, timeout: Duration) -> Result<Answer, AskError> {
        if !ask.is_supported_by(self.capabilities.as_ref()) {
            return Err(ask.unsupported());
        }
        let kind = ask.kind();
        tokio::time::timeout(timeout, self.send(ask))
            .await
            .unwrap_or_else(|_| {
                Err(AskError::TimedOut(format!(
                    "no answer to the {kind} request within {} s (`{kind}.timeout_s`)",
                    timeout.as_secs()
                )))
            })
    }

    async fn send(&self, ask: Ask) -> Result<Answer, AskError> {
        let handle = self
            .peer
            .send_request_with_option(ask.to_server_request(), PeerRequestOptions::no_options())
            .await
            .map_err(error_from_service)?;
        // rmcp does not tell the client when a request's future is dropped
        // (call cancelled, timed out); this guard does.
        let mut outstanding = Outstanding {
            peer: self.peer.clone(),
            id: Some(handle.id.clone()),
        };
        let answer = handle.await_response().await;
        outstanding.id = None;
        match (answer.map_err(error_from_service)?, &ask) {
            (ClientResult::CreateMessageResult(result), Ask::Sample(_)) => {
                Ok(Answer::Sampled(result))
            }
            (ClientResult::ElicitResult(result), Ask::Elicit(_)) => Ok(Answer::Elicited(result)),
            (ClientResult::ListRootsResult(result), Ask::ListRoots) => Ok(Answer::Roots(result)),
            _ => Err(wrong_kind(&ask)),
        }
    }
}

/// A request still waiting for its answer. Dropped before the answer came,
/// it sends `notifications/cancelled` so the client can stop working on it.
struct Outstanding {
    peer: Peer<RoleServer>,
    id: Option<RequestId>,
}

impl Drop for Outstanding {
    fn drop(&mut self) {
        let Some(id) = self.id.take() else { return };
        let peer = self.peer.clone();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let notice = CancelledNotificationParam::new(
                    Some(id),
                    Some("the tool call that asked for it ended".into()),
                );
                let _ = peer.notify_cancelled(notice).await;
            });
        }
    }
}

/// MCP says a client that refuses (usually its user) answers with code -1.
const USER_REJECTED: ErrorCode = ErrorCode(-1);

fn error_from_service(error: ServiceError) -> AskError {
    match error {
        ServiceError::McpError(data) if data.code == USER_REJECTED => {
            AskError::Declined(data.message.into_owned())
        }
        ServiceError::McpError(data) => AskError::Failed(format!(
            "the client answered with error {}: {}",
            data.code.0, data.message
        )),
        ServiceError::Timeout { timeout } => {
            AskError::TimedOut(format!("no answer from the client within {timeout:?}"))
        }
        ServiceError::TransportClosed | ServiceError::TransportSend(_) => {
            AskError::Failed("the client disconnected before answering".into())
        }
        ServiceError::Cancelled { reason } => AskError::Failed(format!(
            "the request was cancelled{}",
            reason.map(|r| format!(": {r}")).unwrap_or_default()
        )),
        other => AskError::Failed(other.to_string()),
    }
}
