//! Asking the calling client: its user ([`elicit`]) and its roots ([`roots`]).
//! Sampling is in the crate root ([`crate::Sample`]).

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::ToolError;
use crate::bindings::wasm_mcp::plugin::{elicitation, roots as roots_import};

pub use roots_import::Root;

/// What the user did with the question.
#[derive(Debug)]
pub enum Elicited<T> {
    /// The user filled in the form.
    Accepted(T),
    /// The user said no; go on without the data.
    Declined,
    /// The user dismissed the question.
    Cancelled,
}

/// Why no answer came back.
pub type ElicitError = elicitation::Error;

impl From<ElicitError> for ToolError {
    fn from(error: ElicitError) -> Self {
        ToolError::Failed(match error {
            ElicitError::Unsupported(why) => format!("the client cannot ask its user: {why}"),
            ElicitError::Refused(why) => format!("asking the user was refused: {why}"),
            ElicitError::TimedOut(why) => format!("the user did not answer in time: {why}"),
            ElicitError::Failed(why) => format!("asking the user failed: {why}"),
        })
    }
}

/// Ask the user to fill in a `T`: its JSON Schema is derived, flattened into
/// MCP's form shape, and the accepted answer parsed back into a `T`. `T`'s
/// fields must be strings, numbers, booleans, unit enums, or options of those.
pub fn elicit<T: DeserializeOwned + JsonSchema>(message: &str) -> Result<Elicited<T>, ElicitError> {
    match elicit_with_schema(message, &form_schema_of::<T>())? {
        Elicited::Accepted(value) => serde_json::from_value(value)
            .map(Elicited::Accepted)
            .map_err(|e| ElicitError::Failed(format!("the answer does not fit: {e}"))),
        Elicited::Declined => Ok(Elicited::Declined),
        Elicited::Cancelled => Ok(Elicited::Cancelled),
    }
}

/// Ask the user to fill in a form described by `schema` (MCP's form mode:
/// an object of strings, numbers, integers, booleans and enums).
pub fn elicit_with_schema(message: &str, schema: &Value) -> Result<Elicited<Value>, ElicitError> {
    match elicitation::elicit(message, &schema.to_string())? {
        elicitation::Answer::Accept(json) => serde_json::from_str(&json)
            .map(Elicited::Accepted)
            .map_err(|e| ElicitError::Failed(format!("the answer is not JSON: {e}"))),
        elicitation::Answer::Decline => Ok(Elicited::Declined),
        elicitation::Answer::Cancel => Ok(Elicited::Cancelled),
    }
}

/// Why no roots came back.
pub type RootsError = roots_import::Error;

impl From<RootsError> for ToolError {
    fn from(error: RootsError) -> Self {
        ToolError::Failed(match error {
            RootsError::Unsupported(why) => format!("the client offers no roots: {why}"),
            RootsError::Refused(why) => format!("asking for roots was refused: {why}"),
            RootsError::TimedOut(why) => {
                format!("the client did not list its roots in time: {why}")
            }
            RootsError::Failed(why) => format!("listing roots failed: {why}"),
        })
    }
}

/// The calling client's roots (folders it lets servers work in).
pub fn roots() -> Result<Vec<Root>, RootsError> {
    roots_import::list_roots()
}

/// `T`'s schema in MCP's form shape: references inlined, `Option<X>` as an
/// optional `X`, no `$schema`, no `format` MCP does not know.
pub fn form_schema_of<T: JsonSchema>() -> Value {
    let mut schema = serde_json::to_value(schemars::schema_for!(T)).unwrap_or_default();
    let definitions = schema
        .as_object_mut()
        .and_then(|o| o.remove("$defs"))
        .unwrap_or(Value::Null);
    let Some(object) = schema.as_object_mut() else {
        return schema;
    };
    object.remove("$schema");
    if let Some(Value::Object(properties)) = object.get_mut("properties") {
        for property in properties.values_mut() {
            *property = flatten_property(property.take(), &definitions);
        }
    }
    schema
}

fn flatten_property(mut property: Value, definitions: &Value) -> Value {
    // `$ref` (an enum type, say) becomes the definition it names.
    if let Some(name) = property
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix("#/$defs/"))
        && let Some(definition) = definitions.get(name)
    {
        let mut inlined = definition.clone();
        merge_docs(&mut inlined, &property);
        property = inlined;
    }
    // `Option<X>`: `anyOf [X, null]` or `type: [x, "null"]`.
    if let Some(Value::Array(options)) = property.get("anyOf").cloned() {
        let non_null: Vec<&Value> = options
            .iter()
            .filter(|o| o.get("type") != Some(&Value::String("null".into())))
            .collect();
        if let [only] = non_null.as_slice() {
            let mut inner = flatten_property((*only).clone(), definitions);
            merge_docs(&mut inner, &property);
            property = inner;
        }
    }
    if let Some(object) = property.as_object_mut() {
        if let Some(Value::Array(types)) = object.get("type").cloned() {
            let non_null: Vec<Value> = types.into_iter().filter(|t| t != "null").collect();
            if let [only] = non_null.as_slice() {
                object.insert("type".into(), only.clone());
            }
        }
        if let Some(format) = object.get("format").and_then(Value::as_str)
            && !matches!(format, "email" | "uri" | "date" | "date-time")
        {
            object.remove("format");
        }
        object.remove("$ref");
        object.remove("anyOf");
    }
    property
}

/// Keep the title, description and default written at the field.
fn merge_docs(into: &mut Value, from: &Value) {
    let (Some(into), Some(from)) = (into.as_object_mut(), from.as_object()) else {
        return;
    };
    for key in ["title", "description", "default"] {
        if let Some(value) = from.get(key) {
            into.insert(key.into(), value.clone());
        }
    }
}

#[doc(hidden)]
pub fn object_of_strings(pairs: &[(String, String)]) -> Value {
    let object: Map<String, Value> = pairs
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    Value::Object(object)
}

use crate::bindings::wasm_mcp::plugin::ask as ask_import;
use crate::{Answer, Sample, SampleError};

/// Several questions for the client at once: a 2026-07-28 client answers
/// them in one round, each under its key.
///
/// ```ignore
/// let mut replies = Batch::new()
///     .elicit::<Name>("user_name", "What is your name?")
///     .sample("greeting", Sample::new("Say hello").max_tokens(50))
///     .roots("client_roots")
///     .send();
/// let name = replies.elicited::<Name>("user_name")?;
/// ```
#[derive(Default)]
pub struct Batch {
    questions: Vec<(String, ask_import::Question)>,
}

impl Batch {
    pub fn new() -> Self {
        Batch::default()
    }

    /// Ask the client's LLM, under `key`.
    pub fn sample(mut self, key: &str, sample: Sample) -> Self {
        self.questions.push((
            key.into(),
            ask_import::Question::Sample(sample.into_request()),
        ));
        self
    }

    /// Ask the user to fill in a `T`, under `key`.
    pub fn elicit<T: JsonSchema>(self, key: &str, message: &str) -> Self {
        self.elicit_with_schema(key, message, &form_schema_of::<T>())
    }

    /// Ask the user to fill in the form `schema` describes, under `key`.
    pub fn elicit_with_schema(mut self, key: &str, message: &str, schema: &Value) -> Self {
        self.questions.push((
            key.into(),
            ask_import::Question::Elicit(ask_import::Form {
                message: message.into(),
                requested_schema: schema.to_string(),
            }),
        ));
        self
    }

    /// Ask for the client's roots, under `key`.
    pub fn roots(mut self, key: &str) -> Self {
        self.questions
            .push((key.into(), ask_import::Question::ListRoots));
        self
    }

    /// Ask them all and wait for every answer.
    pub fn send(self) -> Replies {
        let keys: Vec<String> = self.questions.iter().map(|(k, _)| k.clone()).collect();
        let replies = ask_import::ask_all(&self.questions);
        Replies(keys.into_iter().zip(replies).collect())
    }
}

/// The answers to a [`Batch`], taken by key.
pub struct Replies(Vec<(String, ask_import::Reply)>);

impl Replies {
    fn take(&mut self, key: &str) -> Option<ask_import::Reply> {
        let index = self.0.iter().position(|(k, _)| k == key)?;
        Some(self.0.remove(index).1)
    }

    /// The LLM's answer under `key`.
    pub fn sampled(&mut self, key: &str) -> Result<Answer, SampleError> {
        match self.take(key) {
            Some(ask_import::Reply::Sampled(reply)) => reply.map(Answer),
            _ => Err(SampleError::Failed(format!("no sampling question `{key}`"))),
        }
    }

    /// The user's answer under `key`, parsed into a `T`.
    pub fn elicited<T: DeserializeOwned>(&mut self, key: &str) -> Result<Elicited<T>, ElicitError> {
        match self.take(key) {
            Some(ask_import::Reply::Elicited(reply)) => match reply? {
                elicitation::Answer::Accept(json) => serde_json::from_str(&json)
                    .map(Elicited::Accepted)
                    .map_err(|e| ElicitError::Failed(format!("the answer does not fit: {e}"))),
                elicitation::Answer::Decline => Ok(Elicited::Declined),
                elicitation::Answer::Cancel => Ok(Elicited::Cancelled),
            },
            _ => Err(ElicitError::Failed(format!(
                "no elicitation question `{key}`"
            ))),
        }
    }

    /// The client's roots under `key`.
    pub fn roots(&mut self, key: &str) -> Result<Vec<Root>, RootsError> {
        match self.take(key) {
            Some(ask_import::Reply::Roots(reply)) => reply,
            _ => Err(RootsError::Failed(format!("no roots question `{key}`"))),
        }
    }
}
