//! `elicitation.elicit`: a plugin asks the calling client's user to fill in
//! a form.
//!
//! The plugin's schema must be what MCP's form mode allows (a flat object of
//! strings, numbers, integers, booleans and enums); it is parsed into rmcp's
//! typed schema, so a client never receives one it cannot render. The
//! question takes the call's [`ClientRoute`], like `sample()`; an accepted
//! answer is checked against the schema before the plugin sees it, because
//! a client, like a plugin, may be wrong or hostile.

use std::sync::Arc;
use std::time::Duration;

use rmcp::model::{ElicitRequestParams, ElicitationAction, ElicitationSchema};
use serde_json::Value;
use wasmtime::component::{HasSelf, Linker};

use super::Caller;
use crate::bindings::elicitation::{Answer, Error, Host};
use crate::config::ElicitationPolicy;
use crate::routes::{self, Ask, AskError, ClientRoute};

/// The largest `requested-schema` and `message` a plugin may send.
const MAX_SCHEMA_BYTES: usize = 64 * 1024;
const MAX_MESSAGE_BYTES: usize = 16 * 1024;

/// One call's elicitation: its route, the plugin's policy, and how many
/// questions the call has asked.
pub struct Elicitor {
    pub caller: Caller,
    pub route: Arc<dyn ClientRoute>,
    pub policy: ElicitationPolicy,
    asked: u32,
}

impl Elicitor {
    pub fn new(caller: Caller, route: Arc<dyn ClientRoute>, policy: ElicitationPolicy) -> Self {
        Elicitor {
            caller,
            route,
            policy,
            asked: 0,
        }
    }
}

/// Serve `elicitation` to components, each call's [`Elicitor`] found by `get`.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> &mut Elicitor,
) -> wasmtime::Result<()> {
    crate::bindings::elicitation::add_to_linker::<T, HasSelf<Elicitor>>(linker, get)
}

impl Host for Elicitor {
    async fn elicit(
        &mut self,
        message: String,
        requested_schema: String,
    ) -> wasmtime::Result<Result<Answer, Error>> {
        let outcome = self.ask(message, requested_schema).await;
        match &outcome {
            Ok(answer) => {
                let action = match answer {
                    Answer::Accept(_) => "accept",
                    Answer::Decline => "decline",
                    Answer::Cancel => "cancel",
                };
                tracing::info!(target: "plugin", plugin = %self.caller.plugin, tool = %self.caller.tool, via = self.route.via(), action, "elicitation answered");
            }
            Err(error) => {
                tracing::info!(target: "plugin", plugin = %self.caller.plugin, "elicitation failed: {error:?}")
            }
        }
        Ok(outcome)
    }
}

impl Elicitor {
    async fn ask(&mut self, message: String, requested_schema: String) -> Result<Answer, Error> {
        let (ask, schema) = self.prepare(message, &requested_schema)?;
        let timeout = Duration::from_secs(self.policy.timeout_s);
        let answer = self.route.ask(ask, timeout).await;
        finish(&schema, answer)
    }

    /// Count the question against the policy and build it, or refuse it.
    pub fn prepare(
        &mut self,
        message: String,
        requested_schema: &str,
    ) -> Result<(Ask, Value), Error> {
        if self.asked >= self.policy.max_requests {
            return Err(Error::Refused(format!(
                "a tool call may ask its user at most {} times (`elicitation.max_requests`)",
                self.policy.max_requests
            )));
        }
        self.asked += 1;
        let (params, schema) = form_request(message, requested_schema).map_err(Error::Refused)?;
        Ok((Ask::Elicit(Box::new(params)), schema))
    }

    /// How long one question may wait (`elicitation.timeout_s`).
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.policy.timeout_s)
    }
}

/// The plugin's answer from the client's: an accepted form is checked
/// against `schema`.
pub fn finish(schema: &Value, answer: Result<routes::Answer, AskError>) -> Result<Answer, Error> {
    let answer = answer.map_err(|error| match error {
        AskError::Unsupported(why) => Error::Unsupported(why),
        AskError::TimedOut(why) => Error::TimedOut(why),
        AskError::Refused(why) => Error::Refused(why),
        AskError::Declined(why) | AskError::Failed(why) => Error::Failed(why),
    })?;
    let routes::Answer::Elicited(result) = answer else {
        return Err(Error::Failed(
            "the client answered with something other than an elicitation result".into(),
        ));
    };
    match result.action {
        ElicitationAction::Decline => Ok(Answer::Decline),
        ElicitationAction::Cancel => Ok(Answer::Cancel),
        ElicitationAction::Accept => {
            let content = result.content.unwrap_or(Value::Object(Default::default()));
            check_answer(schema, &content).map_err(Error::Failed)?;
            Ok(Answer::Accept(content.to_string()))
        }
        _ => Err(Error::Failed(
            "the client answered with an unknown action".into(),
        )),
    }
}

/// The form request MCP carries, and the schema as JSON for checking the
/// answer; or why the plugin's schema is not one MCP clients accept.
fn form_request(message: String, schema: &str) -> Result<(ElicitRequestParams, Value), String> {
    if message.len() > MAX_MESSAGE_BYTES {
        return Err(format!(
            "the message has {} bytes; at most {MAX_MESSAGE_BYTES} are allowed",
            message.len()
        ));
    }
    if schema.len() > MAX_SCHEMA_BYTES {
        return Err(format!(
            "`requested-schema` has {} bytes; at most {MAX_SCHEMA_BYTES} are allowed",
            schema.len()
        ));
    }
    let value: Value =
        serde_json::from_str(schema).map_err(|e| format!("`requested-schema` is not JSON: {e}"))?;
    let typed: ElicitationSchema = serde_json::from_value(value.clone()).map_err(|e| {
        format!(
            "`requested-schema` is not a form MCP clients accept (an object whose properties are strings, numbers, integers, booleans or enums): {e}"
        )
    })?;
    let params = ElicitRequestParams::FormElicitationParams {
        meta: None,
        message,
        requested_schema: typed,
    };
    Ok((params, value))
}

/// An accepted answer must be an object that fits the schema.
fn check_answer(schema: &Value, content: &Value) -> Result<(), String> {
    if !content.is_object() {
        return Err("the client accepted with content that is not a JSON object".into());
    }
    let validator = jsonschema::validator_for(schema)
        .map_err(|e| format!("the requested schema cannot be checked: {e}"))?;
    let problems: Vec<String> = validator
        .iter_errors(content)
        .take(3)
        .map(|e| format!("{} at `{}`", e, e.instance_path()))
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "the client's answer does not fit the requested schema: {}",
            problems.join("; ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn schemas_outside_form_mode_are_refused() {
        let good = json!({"type": "object", "properties": {"name": {"type": "string", "default": "x"}}, "required": ["name"]});
        assert!(form_request("m".into(), &good.to_string()).is_ok());
        let nested =
            json!({"type": "object", "properties": {"a": {"type": "object", "properties": {}}}});
        assert!(form_request("m".into(), &nested.to_string()).is_err());
        assert!(form_request("m".into(), "not json").is_err());
        assert!(form_request("m".into(), "[]").is_err());
    }

    #[test]
    fn answers_are_checked_against_the_schema() {
        let schema = json!({"type": "object", "properties": {"age": {"type": "integer", "minimum": 0}}, "required": ["age"]});
        assert!(check_answer(&schema, &json!({"age": 3})).is_ok());
        assert!(check_answer(&schema, &json!({"age": "three"})).is_err());
        assert!(check_answer(&schema, &json!({})).is_err());
        assert!(check_answer(&schema, &json!([1])).is_err());
    }
}
