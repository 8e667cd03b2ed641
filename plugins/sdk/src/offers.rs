//! Prompts, resources and completions: the tables [`crate::prompts!`],
//! [`crate::resources!`] and [`crate::completions!`] fill in, and the
//! exports that serve them.
//!
//! [`crate::tools!`] exports all four interfaces. Each optional one is found
//! by method resolution: the macro for it implements `*Offer` on the
//! plugin type; without it, the `No*` trait (implemented for every `&T`)
//! answers with nothing, and the host sees an empty list.

use schemars::JsonSchema;
use serde_json::Value;

use crate::ToolError;
use crate::bindings::exports::wasm_mcp::plugin::completions::{
    Completion as WitCompletion, Reference as WitReference,
};
use crate::bindings::exports::wasm_mcp::plugin::prompts::{
    Argument, Error as PromptError, Filled, Message as WitMessage, Prompt,
};
use crate::bindings::exports::wasm_mcp::plugin::resources::{
    Error as ResourceError, Resource, Template,
};
use crate::bindings::wasm_mcp::plugin::content::{self as wit, ResourceContents};
use crate::content::Message;

mod template;

/// What is being completed: a prompt (by name) or a resource template (by
/// its URI template).
pub type Reference = WitReference;

/// What a resource holds.
pub type Body = wit::Body;

/// Suggestions for an argument.
#[derive(Clone, Debug, Default)]
pub struct Completion {
    pub values: Vec<String>,
    pub total: Option<u32>,
    pub has_more: bool,
}

impl Completion {
    /// These values, all of them.
    pub fn of(values: impl IntoIterator<Item = impl Into<String>>) -> Self {
        let values: Vec<String> = values.into_iter().map(Into::into).collect();
        Completion {
            total: u32::try_from(values.len()).ok(),
            values,
            has_more: false,
        }
    }
}

impl From<Completion> for WitCompletion {
    fn from(completion: Completion) -> Self {
        WitCompletion {
            values: completion.values,
            total: completion.total,
            has_more: completion.has_more,
        }
    }
}

/// The values a URI matched in a template, by variable name, percent-decoded
/// (a URI with a malformed %-escape matches no template).
#[derive(Clone, Debug, Default)]
pub struct Vars(Vec<(String, String)>);

impl Vars {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Fills in a prompt from its arguments.
#[doc(hidden)]
pub type FillPrompt = fn(&[(String, String)]) -> Result<Vec<Message>, ToolError>;

#[doc(hidden)]
pub struct PromptEntry {
    pub name: &'static str,
    pub description: &'static str,
    pub arguments: Vec<Argument>,
    pub get: FillPrompt,
}

#[doc(hidden)]
pub struct ResourceEntry {
    pub name: &'static str,
    pub uri: &'static str,
    pub template: bool,
    pub mime_type: &'static str,
    pub description: &'static str,
    pub read: fn(&str, &Vars) -> Result<Body, ToolError>,
}

#[doc(hidden)]
pub trait PromptsOffer {
    fn prompts(&self) -> Vec<PromptEntry>;
}

#[doc(hidden)]
pub trait NoPrompts {
    fn prompts(&self) -> Vec<PromptEntry> {
        Vec::new()
    }
}

impl<T> NoPrompts for &T {}

#[doc(hidden)]
pub trait ResourcesOffer {
    fn resources(&self) -> Vec<ResourceEntry>;
}

#[doc(hidden)]
pub trait NoResources {
    fn resources(&self) -> Vec<ResourceEntry> {
        Vec::new()
    }
}

impl<T> NoResources for &T {}

#[doc(hidden)]
pub trait CompletionsOffer {
    fn complete(
        &self,
        reference: Reference,
        argument: &str,
        value: &str,
        context: &[(String, String)],
    ) -> Completion;
}

#[doc(hidden)]
pub trait NoCompletions {
    fn complete(&self, _: Reference, _: &str, _: &str, _: &[(String, String)]) -> Completion {
        Completion::default()
    }
}

impl<T> NoCompletions for &T {}

/// A prompt's arguments, from the fields of `T`.
#[doc(hidden)]
pub fn prompt_arguments<T: JsonSchema>() -> Vec<Argument> {
    let schema = serde_json::to_value(schemars::schema_for!(T)).unwrap_or_default();
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        return Vec::new();
    };
    properties
        .iter()
        .map(|(name, property)| Argument {
            name: name.clone(),
            title: property
                .get("title")
                .and_then(Value::as_str)
                .map(Into::into),
            description: property
                .get("description")
                .and_then(Value::as_str)
                .map(Into::into),
            required: required.contains(&name.as_str()),
        })
        .collect()
}

#[doc(hidden)]
pub fn list_prompts(entries: &[PromptEntry]) -> Vec<Prompt> {
    entries
        .iter()
        .map(|entry| Prompt {
            name: entry.name.into(),
            title: None,
            description: Some(entry.description.into()),
            arguments: entry.arguments.clone(),
        })
        .collect()
}

#[doc(hidden)]
pub fn fill_prompt(
    entries: &[PromptEntry],
    name: &str,
    arguments: &[(String, String)],
) -> Result<Filled, PromptError> {
    let Some(entry) = entries.iter().find(|e| e.name == name) else {
        return Err(PromptError::NotFound(format!("no prompt `{name}`")));
    };
    for argument in entry.arguments.iter().filter(|a| a.required) {
        if !arguments.iter().any(|(n, _)| *n == argument.name) {
            return Err(PromptError::InvalidArguments(format!(
                "prompt `{name}` needs argument `{}`",
                argument.name
            )));
        }
    }
    match (entry.get)(arguments) {
        Ok(messages) => Ok(Filled {
            description: Some(entry.description.into()),
            messages: messages
                .into_iter()
                .map(|m| WitMessage {
                    role: m.role,
                    content: m.content.0,
                })
                .collect(),
        }),
        Err(ToolError::InvalidArguments(why)) => Err(PromptError::InvalidArguments(why)),
        Err(ToolError::NotFound(why)) => Err(PromptError::NotFound(why)),
        Err(ToolError::Failed(why)) => Err(PromptError::Failed(why)),
    }
}

#[doc(hidden)]
pub fn list_resources(entries: &[ResourceEntry]) -> Vec<Resource> {
    entries
        .iter()
        .filter(|e| !e.template)
        .map(|entry| Resource {
            uri: entry.uri.into(),
            name: entry.name.into(),
            title: None,
            description: Some(entry.description.into()),
            mime_type: Some(entry.mime_type.into()),
            size: None,
            annotations: None,
        })
        .collect()
}

#[doc(hidden)]
pub fn list_templates(entries: &[ResourceEntry]) -> Vec<Template> {
    entries
        .iter()
        .filter(|e| e.template)
        .map(|entry| Template {
            uri_template: entry.uri.into(),
            name: entry.name.into(),
            title: None,
            description: Some(entry.description.into()),
            mime_type: Some(entry.mime_type.into()),
            annotations: None,
        })
        .collect()
}

#[doc(hidden)]
pub fn read_resource(
    entries: &[ResourceEntry],
    uri: &str,
) -> Result<Vec<ResourceContents>, ResourceError> {
    let found = entries.iter().find_map(|entry| {
        if entry.template {
            template::match_template(entry.uri, uri).map(|vars| (entry, Vars(vars)))
        } else {
            (entry.uri == uri)
                .then(Vars::default)
                .map(|vars| (entry, vars))
        }
    });
    let Some((entry, vars)) = found else {
        return Err(ResourceError::NotFound(format!("no resource `{uri}`")));
    };
    match (entry.read)(uri, &vars) {
        Ok(body) => Ok(vec![ResourceContents {
            uri: uri.into(),
            mime_type: Some(entry.mime_type.into()),
            body,
        }]),
        Err(ToolError::NotFound(why)) => Err(ResourceError::NotFound(why)),
        Err(ToolError::InvalidArguments(why) | ToolError::Failed(why)) => {
            Err(ResourceError::Failed(why))
        }
    }
}
