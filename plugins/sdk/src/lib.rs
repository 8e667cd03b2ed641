//! Write wasm-mcp tools as typed Rust functions.
//!
//! A tool is a function from a `Deserialize + JsonSchema` arguments struct
//! to `Result<String, ToolError>`. [`tools!`] exports a list of them: it
//! derives each tool's JSON Schema, parses and checks the arguments, and
//! turns errors into the WIT contract's typed errors. The host imports are
//! wrapped as plain functions: [`sample_text`] and [`Sample`] borrow the
//! calling client's LLM, [`append`] writes to granted files, [`log`] logs.
//!
//! ```ignore
//! use wasm_mcp_sdk::{JsonSchema, ToolError, append, sample_text, tools};
//!
//! #[derive(serde::Deserialize, JsonSchema)]
//! struct Args { text: String }
//!
//! fn shout(args: Args) -> Result<String, ToolError> {
//!     Ok(sample_text(format!("Shout this: {}", args.text), 50)?)
//! }
//!
//! tools! { shout(Args) => "Shouts the text, with help from your LLM." }
//! ```

#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "tool-plugin",
        pub_export_macro: true,
        default_bindings_module: "wasm_mcp_sdk::bindings",
    });
}

pub use schemars::JsonSchema;
#[doc(hidden)]
pub use {schemars, serde_json};

use bindings::exports::wasm_mcp::plugin::tools::CallError;
use bindings::wasm_mcp::plugin::{files, logging, progress as progress_import, sampling};

pub use sampling::{Content, Role, StopReason};

/// Why a tool call produced no result.
#[derive(Debug)]
pub enum ToolError {
    /// The arguments do not fit the tool; say what is wrong.
    InvalidArguments(String),
    /// The tool ran and failed; say why.
    Failed(String),
}

impl ToolError {
    pub fn failed(why: impl std::fmt::Display) -> Self {
        ToolError::Failed(why.to_string())
    }
}

impl std::fmt::Display for ToolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ToolError::InvalidArguments(why) => write!(f, "invalid arguments: {why}"),
            ToolError::Failed(why) => f.write_str(why),
        }
    }
}

#[doc(hidden)]
impl From<ToolError> for CallError {
    fn from(error: ToolError) -> Self {
        match error {
            ToolError::InvalidArguments(why) => CallError::InvalidArguments(why),
            ToolError::Failed(why) => CallError::Failed(why),
        }
    }
}

/// Why sampling gave no answer.
pub type SampleError = sampling::Error;

impl From<SampleError> for ToolError {
    fn from(error: SampleError) -> Self {
        ToolError::Failed(format!("sampling failed: {}", describe_sample_error(&error)))
    }
}

fn describe_sample_error(error: &SampleError) -> String {
    match error {
        SampleError::Unsupported(why) => format!("the client cannot sample: {why}"),
        SampleError::Declined(why) => format!("declined: {why}"),
        SampleError::Refused(why) => format!("refused by the host's policy: {why}"),
        SampleError::TimedOut(why) => format!("timed out: {why}"),
        SampleError::Failed(why) => why.clone(),
    }
}

/// Why an append failed.
pub type AppendError = files::Error;

impl From<AppendError> for ToolError {
    fn from(error: AppendError) -> Self {
        ToolError::Failed(match error {
            AppendError::Denied(why) => format!("append denied: {why}"),
            AppendError::QuotaExceeded(why) => format!("append over quota: {why}"),
            AppendError::Io(why) => format!("append failed: {why}"),
        })
    }
}

/// Ask the calling client's LLM one question; returns the answer's text.
pub fn sample_text(prompt: impl Into<String>, max_tokens: u32) -> Result<String, SampleError> {
    Ok(Sample::new(prompt).max_tokens(max_tokens).send()?.text())
}

/// A sampling request, built up step by step.
#[derive(Clone, Debug)]
pub struct Sample {
    request: sampling::Request,
}

impl Sample {
    /// A request whose first user message is `prompt`, with 1,000 max tokens.
    pub fn new(prompt: impl Into<String>) -> Self {
        Sample {
            request: sampling::Request {
                messages: vec![sampling::Message {
                    role: Role::User,
                    content: vec![Content::Text(prompt.into())],
                }],
                system_prompt: None,
                max_tokens: 1000,
                temperature: None,
                stop_sequences: vec![],
                model_preferences: None,
            },
        }
    }

    pub fn system(mut self, prompt: impl Into<String>) -> Self {
        self.request.system_prompt = Some(prompt.into());
        self
    }

    pub fn max_tokens(mut self, max_tokens: u32) -> Self {
        self.request.max_tokens = max_tokens;
        self
    }

    pub fn temperature(mut self, temperature: f32) -> Self {
        self.request.temperature = Some(temperature);
        self
    }

    pub fn stop_at(mut self, sequence: impl Into<String>) -> Self {
        self.request.stop_sequences.push(sequence.into());
        self
    }

    /// Add a message to the conversation (for example the model's earlier answer).
    pub fn message(mut self, role: Role, text: impl Into<String>) -> Self {
        self.request.messages.push(sampling::Message {
            role,
            content: vec![Content::Text(text.into())],
        });
        self
    }

    /// Attach an image to the last message.
    pub fn image(mut self, data: Vec<u8>, mime_type: impl Into<String>) -> Self {
        if let Some(last) = self.request.messages.last_mut() {
            last.content.push(Content::Image(sampling::Media {
                data,
                mime_type: mime_type.into(),
            }));
        }
        self
    }

    /// Prefer models matching `name` (a family like "sonnet" or a full id).
    pub fn model_hint(mut self, name: impl Into<String>) -> Self {
        let prefs = self
            .request
            .model_preferences
            .get_or_insert(sampling::ModelPreferences {
                hints: vec![],
                cost_priority: None,
                speed_priority: None,
                intelligence_priority: None,
            });
        prefs.hints.push(name.into());
        self
    }

    pub fn send(self) -> Result<Answer, SampleError> {
        sampling::sample(&self.request).map(Answer)
    }
}

/// The model's answer.
pub struct Answer(pub sampling::Response);

impl Answer {
    /// The text parts of the answer, joined.
    pub fn text(&self) -> String {
        self.0
            .content
            .iter()
            .filter_map(|c| match c {
                Content::Text(text) => Some(text.as_str()),
                _ => None,
            })
            .collect()
    }

    pub fn model(&self) -> &str {
        &self.0.model
    }

    pub fn stop_reason(&self) -> Option<&StopReason> {
        self.0.stop_reason.as_ref()
    }
}

/// Append `data` to the granted file `path` in one write.
pub fn append(path: &str, data: impl AsRef<[u8]>) -> Result<(), AppendError> {
    files::append(path, data.as_ref())
}

/// Tell the client how far the call has come (sent only if it asked for
/// progress). `total` may be unknown.
pub fn progress(done: f64, total: Option<f64>, message: Option<&str>) {
    progress_import::report(done, total, message);
}

/// Log to the host under this plugin's name.
pub mod log {
    use super::logging::{Level, log};
    pub fn debug(message: impl AsRef<str>) {
        log(Level::Debug, message.as_ref());
    }
    pub fn info(message: impl AsRef<str>) {
        log(Level::Info, message.as_ref());
    }
    pub fn warning(message: impl AsRef<str>) {
        log(Level::Warning, message.as_ref());
    }
    pub fn error(message: impl AsRef<str>) {
        log(Level::Error, message.as_ref());
    }
}

#[doc(hidden)]
pub mod __private {
    pub use crate::bindings::exports::wasm_mcp::plugin::tools::{CallError, Guest, Tool};

    /// The JSON Schema of `T`, as the WIT wants it: JSON text of an object schema.
    pub fn schema_of<T: schemars::JsonSchema>() -> String {
        let mut schema = serde_json::to_value(schemars::schema_for!(T)).unwrap_or_default();
        if let Some(object) = schema.as_object_mut() {
            object.remove("$schema");
            object.entry("type").or_insert("object".into());
        }
        schema.to_string()
    }

    /// Parse `arguments` into `T`, or say what is wrong.
    pub fn parse<T: serde::de::DeserializeOwned>(arguments: &str) -> Result<T, CallError> {
        serde_json::from_str(arguments).map_err(|e| CallError::InvalidArguments(e.to_string()))
    }
}

/// Export tools: `tools! { name(Args) => "description", ... }`, where each
/// `name` is a `fn(Args) -> Result<String, ToolError>` and `Args` derives
/// `Deserialize` and `JsonSchema`. The function's name is the tool's name.
#[macro_export]
macro_rules! tools {
    ($($tool:ident($args:ty) => $description:expr),+ $(,)?) => {
        struct __WasmMcpTools;

        impl $crate::__private::Guest for __WasmMcpTools {
            fn list_tools() -> ::std::vec::Vec<$crate::__private::Tool> {
                ::std::vec![$($crate::__private::Tool {
                    name: ::std::string::String::from(stringify!($tool)),
                    title: ::std::option::Option::None,
                    description: ::std::string::String::from($description),
                    input_schema: $crate::__private::schema_of::<$args>(),
                }),+]
            }

            fn call(
                name: ::std::string::String,
                arguments: ::std::string::String,
            ) -> ::std::result::Result<::std::string::String, $crate::__private::CallError> {
                $(if name == stringify!($tool) {
                    let args: $args = $crate::__private::parse(&arguments)?;
                    return $tool(args).map_err(::std::convert::Into::into);
                })+
                ::std::result::Result::Err($crate::__private::CallError::InvalidArguments(
                    ::std::format!("unknown tool `{name}`"),
                ))
            }
        }

        $crate::bindings::export!(__WasmMcpTools with_types_in $crate::bindings);
    };
}
