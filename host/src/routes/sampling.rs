//! Where `sample()` goes: the calling client (any [`ClientRoute`]) or the
//! host's own LLM provider ([`ProviderRoute`]). The sampling capability
//! checks policy and budgets, then hands the request to one of these.

// MCP sampling is deprecated by SEP-2577 but supported; see crate::routes.
#![allow(deprecated)]

use std::sync::Arc;
use std::time::Duration;

use rmcp::model::{CreateMessageRequestParams, CreateMessageResult};

use super::{Answer, Ask, AskError, BoxFuture, ClientRoute};
use crate::bindings::sampling::Error;
use crate::llm::{Provider, ProviderKind, Usage};

/// An answer and, when the route knows it, what it cost.
pub struct Sampled {
    pub result: CreateMessageResult,
    /// Reported by a provider; `None` for client sampling (then estimated).
    pub usage: Option<Usage>,
}

/// A route's name in audit records and metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RouteName {
    /// `client`, `provider`, or `none`.
    pub route: &'static str,
    /// `session`, `input_required`, or the provider's API.
    pub via: &'static str,
}

impl RouteName {
    pub const NONE: RouteName = RouteName {
        route: "none",
        via: "none",
    };
}

/// How one call's `sample()` is answered. A route answers within `timeout`
/// (`sampling.timeout_s`) or ends the wait its own way: a session request
/// or a provider request times out; a parked 2026-07-28 call expires, which
/// stops the call.
pub trait SampleRoute: Send + Sync {
    fn name(&self) -> RouteName;

    fn sample(
        &self,
        request: CreateMessageRequestParams,
        timeout: Duration,
    ) -> BoxFuture<'_, Result<Sampled, Error>>;
}

/// The calling client, by whichever [`ClientRoute`] its era needs.
pub struct ClientSampling(pub Arc<dyn ClientRoute>);

impl SampleRoute for ClientSampling {
    fn name(&self) -> RouteName {
        match self.0.via() {
            "none" => RouteName::NONE,
            via => RouteName {
                route: "client",
                via,
            },
        }
    }

    fn sample(
        &self,
        request: CreateMessageRequestParams,
        timeout: Duration,
    ) -> BoxFuture<'_, Result<Sampled, Error>> {
        Box::pin(async move {
            let ask = Ask::Sample(Box::new(request));
            match self.0.ask(ask, timeout).await {
                Ok(Answer::Sampled(result)) => Ok(Sampled {
                    result: *result,
                    usage: None,
                }),
                Ok(_) => Err(Error::Failed(
                    "the client answered with something other than a sampling result".into(),
                )),
                Err(error) => Err(error.into()),
            }
        })
    }
}

impl From<AskError> for Error {
    fn from(error: AskError) -> Self {
        match error {
            AskError::Unsupported(why) => Error::Unsupported(why),
            AskError::Declined(why) => Error::Declined(why),
            AskError::Refused(why) => Error::Refused(why),
            AskError::TimedOut(why) => Error::TimedOut(why),
            AskError::Failed(why) => Error::Failed(why),
        }
    }
}

/// `sample()` answered by the host's provider: it pays, and the plugin
/// cannot tell: the same request goes in, the same response (or typed
/// error) comes out.
pub struct ProviderRoute(pub Arc<Provider>);

impl SampleRoute for ProviderRoute {
    fn name(&self) -> RouteName {
        RouteName {
            route: "provider",
            via: match self.0.kind() {
                ProviderKind::Anthropic => "anthropic",
                ProviderKind::Openai => "openai",
            },
        }
    }

    fn sample(
        &self,
        request: CreateMessageRequestParams,
        timeout: Duration,
    ) -> BoxFuture<'_, Result<Sampled, Error>> {
        Box::pin(async move {
            match tokio::time::timeout(timeout, self.0.complete(&request)).await {
                Ok(Ok(done)) => Ok(Sampled {
                    result: done.result,
                    usage: done.usage,
                }),
                Ok(Err(error)) => Err(Error::Failed(format!("the LLM provider failed: {error:#}"))),
                Err(_) => Err(Error::TimedOut(format!(
                    "the LLM provider did not answer within {} s (`sampling.timeout_s`)",
                    timeout.as_secs()
                ))),
            }
        })
    }
}
