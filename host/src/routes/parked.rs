//! A 2026-07-28 client: the question goes to the `tools/call` request that
//! drives the call, which parks the call and answers `input_required` (see
//! [`crate::mrtr`] for the registry and the sealed state). The wait has no
//! timer of its own: the parked call expires at the shorter of the TTL and
//! `timeout`, and expiry stops the whole call.

use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use super::{Answer, AskError, BoxFuture, ClientRoute, Keyed};

/// What a running plugin tells the request that drives it.
pub enum Event<Outcome> {
    /// Questions for the client, for one round.
    Ask {
        asks: Vec<Keyed>,
        /// How long the plugin may wait for the answers.
        timeout: Duration,
        answers: oneshot::Sender<Vec<Result<Answer, AskError>>>,
    },
    /// The call ended.
    Done(Outcome),
}

/// The plugin's end of the channel to its driving request.
pub struct Parked<Outcome> {
    pub events: mpsc::Sender<Event<Outcome>>,
}

impl<Outcome: Send + 'static> ClientRoute for Parked<Outcome> {
    fn via(&self) -> &'static str {
        "input_required"
    }

    fn ask_all(
        &self,
        asks: Vec<Keyed>,
        timeout: Duration,
    ) -> BoxFuture<'_, Vec<Result<Answer, AskError>>> {
        Box::pin(async move {
            let count = asks.len();
            let failed = |why: &str| vec![Err(AskError::TimedOut(why.to_string())); count];
            let (answers, reply) = oneshot::channel();
            let asked = Event::Ask {
                asks,
                timeout,
                answers,
            };
            if self.events.send(asked).await.is_err() {
                return failed("the client is no longer waiting for this call");
            }
            match reply.await {
                Ok(answers) if answers.len() == count => answers,
                _ => failed("the call ended before the client answered"),
            }
        })
    }
}
