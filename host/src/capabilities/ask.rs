//! `ask.ask-all`: several questions for the calling client at once.
//!
//! Each question goes through its own capability's checks, as if asked
//! alone: sampling's policy and budgets ([`Sampler`]), elicitation's count
//! and form check ([`Elicitor`]), roots' size limits. What is left for the
//! client travels together, so a 2026-07-28 client gets one
//! `input_required` round keyed as the plugin chose; a sampling question the
//! host's provider carries is answered first, on its own.

use std::collections::HashSet;
use std::time::Duration;

use serde_json::Value;
use wasmtime::component::{HasData, Linker};

use super::elicitation::{self, Elicitor};
use super::roots::{self, RootsAsker};
use super::sampling::{Pending, Sampler};
use crate::bindings::ask::{Host, Question, Reply};
use crate::bindings::{elicitation as elicit_wit, roots as roots_wit, sampling as sample_wit};
use crate::routes::{Answer, Ask, AskError, Keyed};

/// The most questions one `ask-all` may carry.
const MAX_QUESTIONS: usize = 16;

/// The capabilities a batch draws on, borrowed from the call's state.
pub struct Questions<'a> {
    pub sampling: &'a mut Sampler,
    pub elicitation: &'a mut Elicitor,
    pub roots: &'a mut RootsAsker,
}

/// Marks [`Questions`] as the data `ask` is served from.
pub struct AskAll;

impl HasData for AskAll {
    type Data<'a> = Questions<'a>;
}

/// Serve `ask` to components, each call's capabilities found by `get`.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> Questions<'_>,
) -> wasmtime::Result<()> {
    crate::bindings::ask::add_to_linker::<T, AskAll>(linker, get)
}

/// A question on its way: what to finish it with once answered.
enum Waiting {
    Sample(Box<Pending>),
    Elicit(Value),
    Roots,
}

impl Host for Questions<'_> {
    async fn ask_all(
        &mut self,
        questions: Vec<(String, Question)>,
    ) -> wasmtime::Result<Vec<Reply>> {
        if let Err(why) = check_keys(&questions) {
            return Ok(questions.iter().map(|(_, q)| refused(q, &why)).collect());
        }
        let mut replies: Vec<Option<Reply>> = Vec::with_capacity(questions.len());
        let mut waiting = Vec::new();
        let mut asks: Vec<Keyed> = Vec::new();
        let mut timeout = Duration::MAX;
        for (index, (key, question)) in questions.into_iter().enumerate() {
            replies.push(None);
            match question {
                Question::Sample(request) => {
                    let route = self.sampling.route.clone();
                    let mut pending = match self.sampling.prepare(request, route.name()).await {
                        Ok(pending) => pending,
                        Err(error) => {
                            replies[index] = Some(Reply::Sampled(Err(error)));
                            continue;
                        }
                    };
                    if !self.sampling.goes_to_client() {
                        // The host's provider answers on its own.
                        let sampled = route
                            .sample(pending.params.clone(), self.sampling.timeout())
                            .await;
                        replies[index] =
                            Some(Reply::Sampled(self.sampling.finish(&mut pending, sampled)));
                        continue;
                    }
                    timeout = timeout.min(self.sampling.timeout());
                    asks.push((Some(key), Ask::Sample(Box::new(pending.params.clone()))));
                    waiting.push((index, Waiting::Sample(Box::new(pending))));
                }
                Question::Elicit(form) => {
                    match self
                        .elicitation
                        .prepare(form.message, &form.requested_schema)
                    {
                        Ok((ask, schema)) => {
                            timeout = timeout.min(self.elicitation.timeout());
                            asks.push((Some(key), ask));
                            waiting.push((index, Waiting::Elicit(schema)));
                        }
                        Err(error) => replies[index] = Some(Reply::Elicited(Err(error))),
                    }
                }
                Question::ListRoots => match self.roots.prepare() {
                    Ok(()) => {
                        timeout = timeout.min(self.roots.timeout());
                        asks.push((Some(key), Ask::ListRoots));
                        waiting.push((index, Waiting::Roots));
                    }
                    Err(error) => replies[index] = Some(Reply::Roots(Err(error))),
                },
            }
        }
        if !asks.is_empty() {
            let route = self.elicitation.route.clone();
            let answers = route.ask_all(asks, timeout).await;
            for ((index, waiting), answer) in waiting.into_iter().zip(answers) {
                replies[index] = Some(self.finish(waiting, answer));
            }
        }
        Ok(replies
            .into_iter()
            .map(|reply| reply.expect("every question is answered"))
            .collect())
    }
}

impl Questions<'_> {
    fn finish(&mut self, waiting: Waiting, answer: Result<Answer, AskError>) -> Reply {
        match waiting {
            Waiting::Sample(mut pending) => {
                let sampled = match answer {
                    Ok(Answer::Sampled(result)) => Ok(super::sampling::Sampled {
                        result: *result,
                        usage: None,
                    }),
                    Ok(_) => Err(sample_wit::Error::Failed(
                        "the client answered with something other than a sampling result".into(),
                    )),
                    Err(error) => Err(error.into()),
                };
                Reply::Sampled(self.sampling.finish(&mut pending, sampled))
            }
            Waiting::Elicit(schema) => Reply::Elicited(elicitation::finish(&schema, answer)),
            Waiting::Roots => Reply::Roots(roots::finish(answer)),
        }
    }
}

/// Keys are 1 to 64 of `A-Z a-z 0-9 _ - .`, unique; at most [`MAX_QUESTIONS`].
fn check_keys(questions: &[(String, Question)]) -> Result<(), String> {
    if questions.len() > MAX_QUESTIONS {
        return Err(format!(
            "`ask-all` takes at most {MAX_QUESTIONS} questions; this one has {}",
            questions.len()
        ));
    }
    let mut seen = HashSet::new();
    for (key, _) in questions {
        let valid = !key.is_empty()
            && key.len() <= 64
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
        if !valid {
            return Err(format!(
                "question key {:?} is not valid: use 1 to 64 ASCII letters, digits, `_`, `-` or `.`",
                crate::logging::truncate(key, 80)
            ));
        }
        if !seen.insert(key.as_str()) {
            return Err(format!(
                "question key `{key}` is used twice: keys must be unique"
            ));
        }
    }
    Ok(())
}

fn refused(question: &Question, why: &str) -> Reply {
    match question {
        Question::Sample(_) => Reply::Sampled(Err(sample_wit::Error::Refused(why.into()))),
        Question::Elicit(_) => Reply::Elicited(Err(elicit_wit::Error::Refused(why.into()))),
        Question::ListRoots => Reply::Roots(Err(roots_wit::Error::Refused(why.into()))),
    }
}
