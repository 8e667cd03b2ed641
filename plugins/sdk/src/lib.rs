//! Write wasm-mcp plugins (contract `wasm-mcp:plugin@0.2.0`) as typed Rust
//! functions.
//!
//! A tool is a function from a `Deserialize + JsonSchema` arguments struct
//! to `Result<R, ToolError>`, where `R` is text, [`Content`], a list of
//! them, a whole [`ToolResult`], or (with `-> Output` in [`tools!`]) a
//! `Serialize + JsonSchema` value returned as structured output. [`tools!`]
//! exports them: it derives each tool's JSON Schema (and output schema),
//! parses and checks the arguments, and turns errors into the contract's
//! typed errors. [`prompts!`], [`resources!`] and [`completions!`] add
//! prompts, resources and argument completion, in the same module.
//!
//! The host imports are plain functions: [`sample_text`] and [`Sample`]
//! borrow the calling client's LLM, [`elicit`] asks its user, [`roots`]
//! lists its roots, [`append`] writes to granted files, [`log`] logs.
//!
//! Two standard WASI interfaces reach further, each within the plugin's
//! config: [`fetch`] and [`http::Request`] make HTTP requests through
//! `wasi:http/outgoing-handler` (only to what `[[plugin.http.allow]]`
//! grants; an [`HttpError`] says which grant or limit stopped a request),
//! and [`config::get`] reads the plugin's settings, the `[plugin.config]`
//! table, through `wasi:config/store`.
//!
//! ```ignore
//! use wasm_mcp_sdk::{JsonSchema, ToolError, sample_text, tools};
//!
//! #[derive(serde::Deserialize, JsonSchema)]
//! struct Args { text: String }
//!
//! fn shout(args: Args) -> Result<String, ToolError> {
//!     Ok(sample_text(format!("Shout this: {}", args.text), 50)?)
//! }
//!
//! tools! { shout(Args) [read_only] => "Shouts the text, with help from your LLM." }
//! ```

#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "plugin",
        pub_export_macro: true,
        default_bindings_module: "wasm_mcp_sdk::bindings",
    });
}

mod ask;
pub mod config;
mod content;
pub mod http;
mod offers;

pub use ask::{
    Batch, ElicitError, Elicited, Replies, Root, RootsError, elicit, elicit_with_schema,
    form_schema_of, roots,
};
pub use content::{Content, IntoToolResult, Message, Role, ToolResult};
pub use http::{HttpError, HttpErrorKind, fetch};
pub use offers::{Body, Completion, Reference, Vars};

pub use schemars::JsonSchema;
#[doc(hidden)]
pub use {schemars, serde_json};

use bindings::exports::wasm_mcp::plugin::tools::CallError;
use bindings::wasm_mcp::plugin::{files, logging, progress as progress_import, sampling};

/// A piece of a sampling message or answer (text, image, audio).
pub use sampling::Content as SampleContent;
pub use sampling::StopReason;

/// Why a tool call produced no result.
#[derive(Debug)]
pub enum ToolError {
    /// The arguments do not fit the tool; say what is wrong.
    InvalidArguments(String),
    /// The tool ran and failed; say why.
    Failed(String),
    /// No such prompt or resource (for prompts and resources).
    NotFound(String),
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
            ToolError::Failed(why) | ToolError::NotFound(why) => f.write_str(why),
        }
    }
}

#[doc(hidden)]
impl From<ToolError> for CallError {
    fn from(error: ToolError) -> Self {
        match error {
            ToolError::InvalidArguments(why) => CallError::InvalidArguments(why),
            ToolError::Failed(why) | ToolError::NotFound(why) => CallError::Failed(why),
        }
    }
}

/// Why sampling gave no answer.
pub type SampleError = sampling::Error;

impl From<SampleError> for ToolError {
    fn from(error: SampleError) -> Self {
        ToolError::Failed(format!(
            "sampling failed: {}",
            describe_sample_error(&error)
        ))
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
                    content: vec![SampleContent::Text(prompt.into())],
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
            content: vec![SampleContent::Text(text.into())],
        });
        self
    }

    /// Attach an image to the last message.
    pub fn image(mut self, data: Vec<u8>, mime_type: impl Into<String>) -> Self {
        if let Some(last) = self.request.messages.last_mut() {
            last.content.push(SampleContent::Image(sampling::Media {
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

    pub(crate) fn into_request(self) -> sampling::Request {
        self.request
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
                SampleContent::Text(text) => Some(text.as_str()),
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
    pub use crate::ask::object_of_strings;
    pub use crate::bindings::exports::wasm_mcp::plugin::completions::{
        Completion as WitCompletion, Guest as CompletionsGuest, Reference as WitReference,
    };
    pub use crate::bindings::exports::wasm_mcp::plugin::prompts::{
        Error as PromptError, Filled, Guest as PromptsGuest, Prompt,
    };
    pub use crate::bindings::exports::wasm_mcp::plugin::resources::{
        Error as ResourceError, Guest as ResourcesGuest, Resource, Template,
    };
    pub use crate::bindings::exports::wasm_mcp::plugin::tools::{
        Annotations, CallError, Guest, Tool, ToolResult as WitToolResult,
    };
    pub use crate::offers::{
        CompletionsOffer, NoCompletions, NoPrompts, NoResources, PromptEntry, PromptsOffer,
        ResourceEntry, ResourcesOffer, fill_prompt, list_prompts, list_resources, list_templates,
        prompt_arguments, read_resource,
    };

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

    /// A tool with no hints yet.
    pub fn tool(name: &str, description: &str, input_schema: String) -> Tool {
        Tool {
            name: name.into(),
            title: None,
            description: description.into(),
            input_schema,
            output_schema: None,
            annotations: None,
        }
    }

    /// Hints written in `[...]` after a tool's arguments.
    pub mod hint {
        use super::{Annotations, Tool};

        fn annotations(tool: &mut Tool) -> &mut Annotations {
            tool.annotations.get_or_insert(Annotations {
                read_only: None,
                destructive: None,
                idempotent: None,
                open_world: None,
            })
        }

        /// `[input_schema = TEXT]`: the arguments' JSON Schema exactly as
        /// written, instead of the one derived from the arguments type (for
        /// keywords a derived schema cannot say, like `if`/`then`).
        pub fn input_schema(tool: &mut Tool, schema: &str) {
            tool.input_schema = schema.into();
        }
        /// `[output_schema = TEXT]`: declare a structured-output schema by
        /// hand (the function then returns a [`crate::ToolResult`] with
        /// `structured` set); `-> Output` derives it instead.
        pub fn output_schema(tool: &mut Tool, schema: &str) {
            tool.output_schema = Some(schema.into());
        }
        /// `[title = "..."]`: a display name.
        pub fn title(tool: &mut Tool, title: &str) {
            tool.title = Some(title.into());
        }
        /// `[read_only]`: changes nothing.
        pub fn read_only(tool: &mut Tool) {
            annotations(tool).read_only = Some(true);
        }
        /// `[destructive]`: may destroy or overwrite.
        pub fn destructive(tool: &mut Tool) {
            annotations(tool).destructive = Some(true);
        }
        /// `[additive]`: only adds (not destructive).
        pub fn additive(tool: &mut Tool) {
            annotations(tool).destructive = Some(false);
        }
        /// `[idempotent]`: a repeat with the same arguments does nothing more.
        pub fn idempotent(tool: &mut Tool) {
            annotations(tool).idempotent = Some(true);
        }
        /// `[open_world]`: reaches outside things.
        pub fn open_world(tool: &mut Tool) {
            annotations(tool).open_world = Some(true);
        }
        /// `[closed_world]`: touches only its own world.
        pub fn closed_world(tool: &mut Tool) {
            annotations(tool).open_world = Some(false);
        }
    }

    /// A tool's success, as the WIT wants it.
    pub fn finish<R: crate::IntoToolResult>(
        result: Result<R, crate::ToolError>,
    ) -> Result<WitToolResult, CallError> {
        result
            .map(|r| r.into_tool_result().into())
            .map_err(Into::into)
    }

    /// A structured tool's success: the value as structured output.
    pub fn finish_structured<T: serde::Serialize>(
        result: Result<T, crate::ToolError>,
    ) -> Result<WitToolResult, CallError> {
        result
            .map(|value| crate::ToolResult::structured(&value).into())
            .map_err(Into::into)
    }
}

/// Export tools: `tools! { name(Args) => "description", ... }`, where each
/// `name` is a `fn(Args) -> Result<R, ToolError>` and `Args` derives
/// `Deserialize` and `JsonSchema`; `R` is text, [`Content`], a list of
/// them, or a [`ToolResult`]. The function's name is the tool's name.
///
/// - `name(Args) -> Output => "..."`: the function returns
///   `Result<Output, ToolError>` and `Output` (`Serialize + JsonSchema`)
///   becomes the tool's structured output and `output-schema`.
/// - `name(Args) [read_only, idempotent, title = "Name"] => "..."`: hints
///   (`read_only`, `destructive`, `additive`, `idempotent`, `open_world`,
///   `closed_world`), a display title, and `input_schema = TEXT` to list a
///   hand-written schema instead of the derived one.
///
/// [`prompts!`], [`resources!`] and [`completions!`] may follow in the same
/// module; `tools!` exports whatever they define.
#[macro_export]
macro_rules! tools {
    ($($tool:ident($args:ty) $(-> $output:ty)? $([$($hint:ident $(= $value:expr)?),* $(,)?])? => $description:expr),+ $(,)?) => {
        /// The plugin `tools!` exports, with whatever prompts, resources and
        /// completions the module defines.
        pub struct __WasmMcpPlugin;

        impl $crate::__private::Guest for __WasmMcpPlugin {
            fn list_tools() -> ::std::vec::Vec<$crate::__private::Tool> {
                ::std::vec![$({
                    #[allow(unused_mut)]
                    let mut tool = $crate::__private::tool(
                        stringify!($tool),
                        &::std::string::String::from($description),
                        $crate::__private::schema_of::<$args>(),
                    );
                    $(tool.output_schema = ::std::option::Option::Some($crate::__private::schema_of::<$output>());)?
                    $($($crate::__private::hint::$hint(&mut tool $(, $value)?);)*)?
                    tool
                }),+]
            }

            fn call(
                name: ::std::string::String,
                arguments: ::std::string::String,
            ) -> ::std::result::Result<$crate::__private::WitToolResult, $crate::__private::CallError> {
                $(if name == stringify!($tool) {
                    let args: $args = $crate::__private::parse(&arguments)?;
                    return $crate::tools!(@finish $tool(args) $(-> $output)?);
                })+
                ::std::result::Result::Err($crate::__private::CallError::InvalidArguments(
                    ::std::format!("unknown tool `{name}`"),
                ))
            }
        }

        impl $crate::__private::PromptsGuest for __WasmMcpPlugin {
            fn list_prompts() -> ::std::vec::Vec<$crate::__private::Prompt> {
                #[allow(unused_imports)]
                use $crate::__private::{NoPrompts as _, PromptsOffer as _};
                $crate::__private::list_prompts(&(&__WasmMcpPlugin).prompts())
            }

            fn get_prompt(
                name: ::std::string::String,
                arguments: ::std::vec::Vec<(::std::string::String, ::std::string::String)>,
            ) -> ::std::result::Result<$crate::__private::Filled, $crate::__private::PromptError> {
                #[allow(unused_imports)]
                use $crate::__private::{NoPrompts as _, PromptsOffer as _};
                $crate::__private::fill_prompt(&(&__WasmMcpPlugin).prompts(), &name, &arguments)
            }
        }

        impl $crate::__private::ResourcesGuest for __WasmMcpPlugin {
            fn list_resources() -> ::std::vec::Vec<$crate::__private::Resource> {
                #[allow(unused_imports)]
                use $crate::__private::{NoResources as _, ResourcesOffer as _};
                $crate::__private::list_resources(&(&__WasmMcpPlugin).resources())
            }

            fn list_templates() -> ::std::vec::Vec<$crate::__private::Template> {
                #[allow(unused_imports)]
                use $crate::__private::{NoResources as _, ResourcesOffer as _};
                $crate::__private::list_templates(&(&__WasmMcpPlugin).resources())
            }

            fn read(
                uri: ::std::string::String,
            ) -> ::std::result::Result<::std::vec::Vec<$crate::bindings::wasm_mcp::plugin::content::ResourceContents>, $crate::__private::ResourceError> {
                #[allow(unused_imports)]
                use $crate::__private::{NoResources as _, ResourcesOffer as _};
                $crate::__private::read_resource(&(&__WasmMcpPlugin).resources(), &uri)
            }
        }

        impl $crate::__private::CompletionsGuest for __WasmMcpPlugin {
            fn complete(
                reference: $crate::__private::WitReference,
                argument: ::std::string::String,
                value: ::std::string::String,
                context: ::std::vec::Vec<(::std::string::String, ::std::string::String)>,
            ) -> $crate::__private::WitCompletion {
                #[allow(unused_imports)]
                use $crate::__private::{CompletionsOffer as _, NoCompletions as _};
                (&__WasmMcpPlugin).complete(reference, &argument, &value, &context).into()
            }
        }

        $crate::bindings::export!(__WasmMcpPlugin with_types_in $crate::bindings);
    };
    (@finish $tool:ident($args:ident) -> $output:ty) => {
        $crate::__private::finish_structured::<$output>($tool($args))
    };
    (@finish $tool:ident($args:ident)) => {
        $crate::__private::finish($tool($args))
    };
}

/// Offer prompts: `prompts! { name(Args) => "description", plain() => "..." }`,
/// where each `name` is a `fn(Args) -> Result<Vec<Message>, ToolError>` (or
/// `fn() -> ...` without arguments). `Args` derives `Deserialize` and
/// `JsonSchema`, and its fields are strings (or options of strings): they
/// become the prompt's arguments, with their doc comments as descriptions.
/// Use it in the module that calls [`tools!`].
#[macro_export]
macro_rules! prompts {
    ($($prompt:ident($($args:ty)?) => $description:expr),+ $(,)?) => {
        impl $crate::__private::PromptsOffer for __WasmMcpPlugin {
            fn prompts(&self) -> ::std::vec::Vec<$crate::__private::PromptEntry> {
                ::std::vec![$($crate::__private::PromptEntry {
                    name: stringify!($prompt),
                    description: $description,
                    arguments: $crate::prompts!(@arguments $($args)?),
                    get: |arguments| $crate::prompts!(@get $prompt arguments $($args)?),
                }),+]
            }
        }
    };
    (@arguments $args:ty) => { $crate::__private::prompt_arguments::<$args>() };
    (@arguments) => { ::std::vec::Vec::new() };
    (@get $prompt:ident $arguments:ident $args:ty) => {{
        let parsed: $args = $crate::serde_json::from_value($crate::__private::object_of_strings($arguments))
            .map_err(|e| $crate::ToolError::InvalidArguments(e.to_string()))?;
        $prompt(parsed)
    }};
    (@get $prompt:ident $arguments:ident) => {{
        let _ = $arguments;
        $prompt()
    }};
}

/// Offer resources: `resources! { name: "test://uri", "text/plain" => "description", ... }`
/// and templates: `name: template "test://items/{id}", "application/json" => "..."`.
/// Each `name` is a `fn(uri: &str, vars: &Vars) -> Result<Body, ToolError>`;
/// `vars` holds a template's matched values (`vars.get("id")`). Return
/// `Err(ToolError::NotFound(..))` for a URI that names nothing. Use it in
/// the module that calls [`tools!`].
#[macro_export]
macro_rules! resources {
    ($($name:ident: $($template:ident)? $uri:literal, $mime:literal => $description:expr),+ $(,)?) => {
        impl $crate::__private::ResourcesOffer for __WasmMcpPlugin {
            fn resources(&self) -> ::std::vec::Vec<$crate::__private::ResourceEntry> {
                ::std::vec![$($crate::__private::ResourceEntry {
                    name: stringify!($name),
                    uri: $uri,
                    template: $crate::resources!(@is_template $($template)?),
                    mime_type: $mime,
                    description: $description,
                    read: $name,
                }),+]
            }
        }
    };
    (@is_template template) => { true };
    (@is_template) => { false };
}

/// Offer argument completion: `completions!(complete)`, where `complete` is
/// a `fn(&Reference, argument: &str, value: &str, context: &[(String, String)]) -> Completion`.
/// Use it in the module that calls [`tools!`].
#[macro_export]
macro_rules! completions {
    ($complete:ident) => {
        impl $crate::__private::CompletionsOffer for __WasmMcpPlugin {
            fn complete(
                &self,
                reference: $crate::Reference,
                argument: &str,
                value: &str,
                context: &[(::std::string::String, ::std::string::String)],
            ) -> $crate::Completion {
                $complete(&reference, argument, value, context)
            }
        }
    };
}
