//! The provider route for `sample()`: the host asks its own LLM provider
//! and pays. Plugins cannot tell it from the client routes: the same request
//! goes in, the same response (or typed error) comes out.
#![allow(deprecated)]

use std::sync::Arc;
use std::time::Duration;

use rmcp::model::CreateMessageRequestParams;

use super::{Provider, ProviderKind};
use crate::bindings::sampling::Error;
use crate::capabilities::sampling::{BoxFuture, RouteName, SampleRoute, Sampled};

/// `sample()` answered by the host's provider.
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
