//! `roots.list-roots`: a plugin asks the calling client which roots (folders
//! or other URIs) it offers. Information only: a plugin still reaches only
//! what its grants allow. Routed like `sample()` (see [`crate::routes`]).

// Roots are deprecated by SEP-2577 but part of both revisions we serve.
#![allow(deprecated)]

use std::sync::Arc;
use std::time::Duration;

use wasmtime::component::{HasSelf, Linker};

use crate::bindings::roots::{Error, Host, Root};
use crate::config::RootsPolicy;
use crate::routes::{Answer, Ask, AskError, ClientRoute};

/// The most roots handed to a plugin, and the longest URI or name of one.
const MAX_ROOTS: usize = 1000;
const MAX_FIELD_BYTES: usize = 4096;

/// One call's roots requests.
pub struct RootsAsker {
    route: Arc<dyn ClientRoute>,
    policy: RootsPolicy,
    asked: u32,
}

/// Serve `roots` to components, each call's [`RootsAsker`] found by `get`.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> &mut RootsAsker,
) -> wasmtime::Result<()> {
    crate::bindings::roots::add_to_linker::<T, HasSelf<RootsAsker>>(linker, get)
}

impl Host for RootsAsker {
    async fn list_roots(&mut self) -> wasmtime::Result<Result<Vec<Root>, Error>> {
        if let Err(refused) = self.prepare() {
            return Ok(Err(refused));
        }
        let answer = self.route.ask(Ask::ListRoots, self.timeout()).await;
        Ok(finish(answer))
    }
}

impl RootsAsker {
    pub fn new(route: Arc<dyn ClientRoute>, policy: RootsPolicy) -> Self {
        RootsAsker {
            route,
            policy,
            asked: 0,
        }
    }

    /// Count a request against `roots.max_requests`, or refuse it.
    pub fn prepare(&mut self) -> Result<(), Error> {
        if self.asked >= self.policy.max_requests {
            return Err(Error::Refused(format!(
                "a tool call may ask for the client's roots at most {} times (`roots.max_requests`)",
                self.policy.max_requests
            )));
        }
        self.asked += 1;
        Ok(())
    }

    /// How long one request may wait (`roots.timeout_s`).
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.policy.timeout_s)
    }
}

/// The plugin's roots from the client's answer, checked for size.
pub fn finish(answer: Result<Answer, AskError>) -> Result<Vec<Root>, Error> {
    match answer {
        Ok(Answer::Roots(result)) => {
            let too_long = |text: &str| text.len() > MAX_FIELD_BYTES;
            if result.roots.len() > MAX_ROOTS
                || result
                    .roots
                    .iter()
                    .any(|r| too_long(&r.uri) || r.name.as_deref().is_some_and(too_long))
            {
                return Err(Error::Failed(format!(
                    "the client's roots are too many or too long (at most {MAX_ROOTS} roots of {MAX_FIELD_BYTES} bytes each)"
                )));
            }
            Ok(result
                .roots
                .into_iter()
                .map(|root| Root {
                    uri: root.uri,
                    name: root.name,
                })
                .collect())
        }
        Ok(_) => Err(Error::Failed(
            "the client answered with something other than roots".into(),
        )),
        Err(AskError::Unsupported(why)) => Err(Error::Unsupported(why)),
        Err(AskError::TimedOut(why)) => Err(Error::TimedOut(why)),
        Err(AskError::Refused(why)) => Err(Error::Refused(why)),
        Err(AskError::Declined(why) | AskError::Failed(why)) => Err(Error::Failed(why)),
    }
}
