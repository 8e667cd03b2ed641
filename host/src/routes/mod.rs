//! Where a plugin's question for the calling client goes: `sample()`,
//! `elicit()` and `list-roots()` all ask the client something, and all take
//! the same routes, so they live here once rather than in each capability.
//!
//! - [`session::Session`]: a legacy (pre-2026-07-28) session; the request
//!   rides the tool call's own response stream.
//! - [`parked::Parked`]: a 2026-07-28 client; the call parks and
//!   `tools/call` answers `input_required` (the registry is in
//!   [`crate::mrtr`]).
//! - [`Nobody`]: no client can be asked (load-time listing, resources).
//!
//! [`sampling`] adapts these to `sample()`, beside the one route that is
//! for sampling only: the host's own LLM provider.

// MCP sampling is deprecated by SEP-2577 but supported for at least another
// year; `sample()` is our stable contract, so we use it.
#![allow(deprecated)]

pub mod parked;
pub mod sampling;
pub mod session;

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use rmcp::model::{
    ClientCapabilities, CreateMessageRequest, CreateMessageRequestParams, CreateMessageResult,
    ElicitRequest, ElicitRequestParams, ElicitResult, InputRequest, ListRootsRequest,
    ListRootsResult, ServerRequest,
};
use serde_json::Value;

/// A boxed, sendable future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a plugin asks the calling client.
#[derive(Clone, Debug)]
pub enum Ask {
    Sample(Box<CreateMessageRequestParams>),
    Elicit(Box<ElicitRequestParams>),
    ListRoots,
}

/// The client's answer, of the kind that was asked.
#[derive(Clone, Debug)]
pub enum Answer {
    Sampled(Box<CreateMessageResult>),
    Elicited(ElicitResult),
    Roots(ListRootsResult),
}

/// Why no answer came back.
#[derive(Clone, Debug, PartialEq)]
pub enum AskError {
    /// The client did not declare the capability the question needs.
    Unsupported(String),
    /// The client (usually its user) refused: JSON-RPC error -1.
    Declined(String),
    /// The host would not carry it (too many calls parked, say).
    Refused(String),
    TimedOut(String),
    Failed(String),
}

impl Ask {
    /// The kind, as keys and messages name it: `sampling`, `elicitation`, `roots`.
    pub fn kind(&self) -> &'static str {
        match self {
            Ask::Sample(_) => "sampling",
            Ask::Elicit(_) => "elicitation",
            Ask::ListRoots => "roots",
        }
    }

    /// Whether a client with `capabilities` can answer it.
    pub fn is_supported_by(&self, capabilities: Option<&ClientCapabilities>) -> bool {
        let Some(capabilities) = capabilities else {
            return false;
        };
        match self {
            Ask::Sample(_) => capabilities.sampling.is_some(),
            Ask::Elicit(_) => capabilities.elicitation.is_some(),
            Ask::ListRoots => capabilities.roots.is_some(),
        }
    }

    /// The capability a client must declare to be asked this.
    pub fn required_capability(&self) -> ClientCapabilities {
        let builder = ClientCapabilities::builder();
        match self {
            Ask::Sample(_) => builder.enable_sampling().build(),
            Ask::Elicit(_) => builder.enable_elicitation().build(),
            Ask::ListRoots => builder.enable_roots().build(),
        }
    }

    /// Why a client that lacks the capability cannot be asked.
    pub fn unsupported(&self) -> AskError {
        let hint = match self {
            Ask::Sample(_) => {
                ", so the tool cannot ask its LLM; use a client that supports sampling, or give the server an LLM provider ([llm] in its config, or `serve --llm`)"
            }
            Ask::Elicit(_) => ", so the tool cannot ask its user",
            Ask::ListRoots => ", so the tool cannot read its roots",
        };
        AskError::Unsupported(format!(
            "the calling client did not declare the MCP `{}` capability{hint}",
            self.kind()
        ))
    }

    /// As a request on a legacy session.
    pub fn to_server_request(&self) -> ServerRequest {
        match self {
            Ask::Sample(params) => {
                ServerRequest::CreateMessageRequest(CreateMessageRequest::new((**params).clone()))
            }
            Ask::Elicit(params) => {
                ServerRequest::ElicitRequest(ElicitRequest::new((**params).clone()))
            }
            Ask::ListRoots => ServerRequest::ListRootsRequest(list_roots_request()),
        }
    }

    /// As one entry of an `input_required` result.
    pub fn to_input_request(&self) -> InputRequest {
        match self {
            Ask::Sample(params) => {
                InputRequest::CreateMessage(CreateMessageRequest::new((**params).clone()))
            }
            Ask::Elicit(params) => {
                InputRequest::Elicitation(ElicitRequest::new((**params).clone()))
            }
            Ask::ListRoots => InputRequest::ListRoots(list_roots_request()),
        }
    }

    /// Read a client's answer to this question: a result of the right kind,
    /// or an error object (code -1 meaning the user declined). `Err` says
    /// why the value is neither.
    pub fn parse_answer(&self, value: &Value) -> Result<Result<Answer, AskError>, String> {
        let error = value.get("error").unwrap_or(value);
        if let (Some(code), Some(message)) = (error.get("code"), error.get("message")) {
            let message = message.as_str().unwrap_or_default().to_string();
            return Ok(Err(if code.as_i64() == Some(-1) {
                AskError::Declined(message)
            } else {
                AskError::Failed(format!("the client answered with error {code}: {message}"))
            }));
        }
        let answer = match self {
            Ask::Sample(_) => {
                let result: CreateMessageResult =
                    serde_json::from_value(value.clone()).map_err(|e| e.to_string())?;
                result.validate()?;
                Answer::Sampled(Box::new(result))
            }
            Ask::Elicit(_) => {
                Answer::Elicited(serde_json::from_value(value.clone()).map_err(|e| e.to_string())?)
            }
            Ask::ListRoots => {
                Answer::Roots(serde_json::from_value(value.clone()).map_err(|e| e.to_string())?)
            }
        };
        Ok(Ok(answer))
    }
}

fn list_roots_request() -> ListRootsRequest {
    ListRootsRequest {
        method: Default::default(),
        extensions: Default::default(),
    }
}

/// A question and, when the plugin named it, its key in an
/// `input_required` round.
pub type Keyed = (Option<String>, Ask);

/// How one call's questions reach its client. A route answers within
/// `timeout` or ends the wait its own way (see each route).
pub trait ClientRoute: Send + Sync {
    /// How it travels, for audit records and metrics: `session`,
    /// `input_required`, or `none`.
    fn via(&self) -> &'static str;

    /// Ask every question; one answer per question, in order.
    fn ask_all(
        &self,
        asks: Vec<Keyed>,
        timeout: Duration,
    ) -> BoxFuture<'_, Vec<Result<Answer, AskError>>>;

    /// Ask one question.
    fn ask(&self, ask: Ask, timeout: Duration) -> BoxFuture<'_, Result<Answer, AskError>> {
        Box::pin(async move {
            let mut answers = self.ask_all(vec![(None, ask)], timeout).await;
            answers
                .pop()
                .unwrap_or_else(|| Err(AskError::Failed("the route gave no answer".into())))
        })
    }
}

/// No client can be asked: every question fails with `unsupported` and this
/// reason.
pub struct Nobody(pub String);

impl ClientRoute for Nobody {
    fn via(&self) -> &'static str {
        "none"
    }

    fn ask_all(
        &self,
        asks: Vec<Keyed>,
        _: Duration,
    ) -> BoxFuture<'_, Vec<Result<Answer, AskError>>> {
        let refused = asks
            .iter()
            .map(|_| Err(AskError::Unsupported(self.0.clone())))
            .collect();
        Box::pin(std::future::ready(refused))
    }
}

/// An answer of the wrong kind: a client bug, reported as a failure.
pub fn wrong_kind(ask: &Ask) -> AskError {
    AskError::Failed(format!(
        "the client answered a {} request with another kind of result",
        ask.kind()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn answers_parse_by_kind_or_as_errors() {
        let sample = Ask::Sample(Box::new(CreateMessageRequestParams::new(vec![], 10)));
        let ok =
            json!({"role": "assistant", "content": {"type": "text", "text": "hi"}, "model": "m"});
        assert!(matches!(
            sample.parse_answer(&ok),
            Ok(Ok(Answer::Sampled(_)))
        ));
        let declined = json!({"code": -1, "message": "User rejected sampling request"});
        assert!(
            matches!(sample.parse_answer(&declined), Ok(Err(AskError::Declined(m))) if m.contains("rejected"))
        );
        let wrapped = json!({"error": {"code": -32603, "message": "boom"}});
        assert!(matches!(
            sample.parse_answer(&wrapped),
            Ok(Err(AskError::Failed(_)))
        ));
        assert!(sample.parse_answer(&json!({"nonsense": true})).is_err());
        let user_role =
            json!({"role": "user", "content": {"type": "text", "text": "hi"}, "model": "m"});
        assert!(sample.parse_answer(&user_role).is_err());
        assert!(matches!(
            Ask::ListRoots.parse_answer(&json!({"roots": [{"uri": "file:///x"}]})),
            Ok(Ok(Answer::Roots(r))) if r.roots.len() == 1
        ));
        assert!(Ask::ListRoots.parse_answer(&json!({"roots": 3})).is_err());
        let elicit = Ask::Elicit(Box::new(
            serde_json::from_value(json!({"mode": "form", "message": "m", "requestedSchema": {"type": "object", "properties": {}}})).unwrap(),
        ));
        assert!(matches!(
            elicit.parse_answer(&json!({"action": "decline"})),
            Ok(Ok(Answer::Elicited(_)))
        ));
        assert!(elicit.parse_answer(&json!({"action": "maybe"})).is_err());
    }
}
