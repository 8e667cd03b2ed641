//! What a plugin exports, in either contract version, and the conversion of
//! what it hands back into MCP's shapes.
//!
//! A component targets `wasm-mcp:plugin@0.1.0` (tools returning text) or
//! `@0.2.0` (content blocks, structured output, prompts, resources,
//! completions). Which one is read from its exports when it loads; each
//! optional 0.2 export is found on its own, so a component may offer any of
//! them beside `tools`.
//!
//! The WIT's records become MCP's JSON here, checked on the way: every
//! plugin answer passes through [`Checked`] limits before a client sees it.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::{Result, anyhow, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use rmcp::model::{CompletionInfo, JsonObject, Prompt, Resource, ResourceTemplate, Tool};
use serde_json::{Map, Value, json};
use wasmtime::Store;
use wasmtime::component::{Instance, InstancePre};

use super::state::CallState;
use crate::bindings::v0_1::exports::wasm_mcp::plugin::tools as tools_v0_1;
use crate::bindings::{completions, content, prompts, resources, tools};

/// Which contract a component was built against, and the indices of its exports.
pub enum World {
    V0_1 {
        tools: tools_v0_1::GuestIndices,
    },
    V0_2 {
        tools: tools::GuestIndices,
        prompts: Option<prompts::GuestIndices>,
        resources: Option<resources::GuestIndices>,
        completions: Option<completions::GuestIndices>,
    },
}

impl World {
    /// Read the component's exports: 0.2's `tools` (with whatever else of
    /// 0.2 it exports), else 0.1's, else an error naming both.
    pub fn detect(pre: &InstancePre<CallState>, source: &str) -> Result<World> {
        if let Ok(tools) = tools::GuestIndices::new(pre) {
            return Ok(World::V0_2 {
                tools,
                prompts: prompts::GuestIndices::new(pre).ok(),
                resources: resources::GuestIndices::new(pre).ok(),
                completions: completions::GuestIndices::new(pre).ok(),
            });
        }
        match tools_v0_1::GuestIndices::new(pre) {
            Ok(tools) => Ok(World::V0_1 { tools }),
            Err(error) => bail!(
                "component {source} does not export the `wasm-mcp:plugin/tools` interface (of version 0.2.0 or 0.1.0): build it against the `plugin` or `tool-plugin` world of wit/plugin.wit ({error:#})"
            ),
        }
    }

    /// The contract's version, for logs and `wasm-mcp check`.
    pub fn version(&self) -> &'static str {
        match self {
            World::V0_1 { .. } => "0.1.0",
            World::V0_2 { .. } => "0.2.0",
        }
    }

    pub fn has_prompts(&self) -> bool {
        matches!(
            self,
            World::V0_2 {
                prompts: Some(_),
                ..
            }
        )
    }

    pub fn has_resources(&self) -> bool {
        matches!(
            self,
            World::V0_2 {
                resources: Some(_),
                ..
            }
        )
    }

    pub fn has_completions(&self) -> bool {
        matches!(
            self,
            World::V0_2 {
                completions: Some(_),
                ..
            }
        )
    }
}

/// A tool as the plugin listed it, before the host checks and names it.
pub struct ListedTool {
    pub name: String,
    pub title: Option<String>,
    pub description: String,
    pub input_schema: String,
    pub output_schema: Option<String>,
    pub annotations: Option<Value>,
}

/// Why a call produced no result, as the plugin said it.
pub enum Refusal {
    InvalidArguments(String),
    Failed(String),
    /// A prompt or resource that does not exist.
    NotFound(String),
    /// The answer holds more than [`MAX_ITEMS`] blocks, messages or items:
    /// a `limits.result_bytes` limit, refused before it is converted.
    TooLarge(String),
}

/// What an export call gives back before the host's checks.
pub type Answered<T> = wasmtime::Result<Result<T, Refusal>>;

/// `list-tools`, in either version.
pub async fn list_tools(
    world: &World,
    store: &mut Store<CallState>,
    instance: &Instance,
) -> wasmtime::Result<Vec<ListedTool>> {
    Ok(match world {
        World::V0_1 { tools } => tools
            .load(&mut *store, instance)?
            .call_list_tools(&mut *store)
            .await?
            .into_iter()
            .map(|tool| ListedTool {
                name: tool.name,
                title: tool.title,
                description: tool.description,
                input_schema: tool.input_schema,
                output_schema: None,
                annotations: None,
            })
            .collect(),
        World::V0_2 { tools, .. } => tools
            .load(&mut *store, instance)?
            .call_list_tools(&mut *store)
            .await?
            .into_iter()
            .map(|tool| ListedTool {
                annotations: tool.annotations.map(|a| {
                    let mut hints = Map::new();
                    put(&mut hints, "readOnlyHint", a.read_only);
                    put(&mut hints, "destructiveHint", a.destructive);
                    put(&mut hints, "idempotentHint", a.idempotent);
                    put(&mut hints, "openWorldHint", a.open_world);
                    Value::Object(hints)
                }),
                name: tool.name,
                title: tool.title,
                description: tool.description,
                input_schema: tool.input_schema,
                output_schema: tool.output_schema,
            })
            .collect(),
    })
}

/// A tool call's result as MCP JSON (`content`, `structuredContent`,
/// `isError`), before the host's checks.
pub async fn call_tool(
    world: &World,
    store: &mut Store<CallState>,
    instance: &Instance,
    tool: &str,
    arguments: &str,
) -> Answered<Value> {
    Ok(match world {
        World::V0_1 { tools } => {
            match tools
                .load(&mut *store, instance)?
                .call_call(&mut *store, tool, arguments)
                .await?
            {
                Ok(text) => {
                    Ok(json!({"content": [{"type": "text", "text": text}], "isError": false}))
                }
                Err(tools_v0_1::CallError::InvalidArguments(why)) => {
                    Err(Refusal::InvalidArguments(why))
                }
                Err(tools_v0_1::CallError::Failed(why)) => Err(Refusal::Failed(why)),
            }
        }
        World::V0_2 { tools, .. } => {
            match tools
                .load(&mut *store, instance)?
                .call_call(&mut *store, tool, arguments)
                .await?
            {
                Ok(result) => check_items("content blocks", result.content.len())
                    .map(|()| tool_result_json(result)),
                Err(tools::CallError::InvalidArguments(why)) => Err(Refusal::InvalidArguments(why)),
                Err(tools::CallError::Failed(why)) => Err(Refusal::Failed(why)),
            }
        }
    })
}

fn tool_result_json(result: tools::ToolResult) -> Value {
    let mut object = Map::new();
    let content: Vec<Value> = result.content.into_iter().map(block_json).collect();
    object.insert("content".into(), Value::Array(content));
    if let Some(structured) = result.structured {
        // Kept as text here; `check_tool_result` parses and checks it.
        object.insert("structuredContent".into(), Value::String(structured));
    }
    object.insert("isError".into(), Value::Bool(result.is_error));
    Value::Object(object)
}

/// `list-prompts`, `list-resources` and `list-templates` of a 0.2 plugin
/// (empty for what it does not export).
pub async fn list_offers(
    world: &World,
    store: &mut Store<CallState>,
    instance: &Instance,
) -> wasmtime::Result<(Vec<Value>, Vec<Value>, Vec<Value>)> {
    let World::V0_2 {
        prompts, resources, ..
    } = world
    else {
        return Ok(Default::default());
    };
    let mut listed = (Vec::new(), Vec::new(), Vec::new());
    if let Some(prompts) = prompts {
        let guest = prompts.load(&mut *store, instance)?;
        listed.0 = guest
            .call_list_prompts(&mut *store)
            .await?
            .into_iter()
            .map(prompt_json)
            .collect();
    }
    if let Some(resources) = resources {
        let guest = resources.load(&mut *store, instance)?;
        listed.1 = guest
            .call_list_resources(&mut *store)
            .await?
            .into_iter()
            .map(resource_json)
            .collect();
        listed.2 = guest
            .call_list_templates(&mut *store)
            .await?
            .into_iter()
            .map(template_json)
            .collect();
    }
    Ok(listed)
}

/// `get-prompt`, as MCP's `GetPromptResult` JSON.
pub async fn get_prompt(
    world: &World,
    store: &mut Store<CallState>,
    instance: &Instance,
    name: &str,
    arguments: &[(String, String)],
) -> Answered<Value> {
    let World::V0_2 {
        prompts: Some(prompts),
        ..
    } = world
    else {
        return Ok(Err(Refusal::NotFound(format!("no prompt `{name}`"))));
    };
    let guest = prompts.load(&mut *store, instance)?;
    Ok(
        match guest.call_get_prompt(&mut *store, name, arguments).await? {
            Ok(filled) => {
                check_items("messages", filled.messages.len()).map(|()| filled_json(filled))
            }
            Err(prompts::Error::NotFound(why)) => Err(Refusal::NotFound(why)),
            Err(prompts::Error::InvalidArguments(why)) => Err(Refusal::InvalidArguments(why)),
            Err(prompts::Error::Failed(why)) => Err(Refusal::Failed(why)),
        },
    )
}

/// A filled prompt as MCP's `GetPromptResult` JSON.
fn filled_json(filled: prompts::Filled) -> Value {
    let messages: Vec<Value> = filled
        .messages
        .into_iter()
        .map(|m| json!({"role": role_name(m.role), "content": block_json(m.content)}))
        .collect();
    let mut object = Map::new();
    put(&mut object, "description", filled.description);
    object.insert("messages".into(), Value::Array(messages));
    Value::Object(object)
}

/// `read`, as MCP's `ReadResourceResult` JSON.
pub async fn read_resource(
    world: &World,
    store: &mut Store<CallState>,
    instance: &Instance,
    uri: &str,
) -> Answered<Value> {
    let World::V0_2 {
        resources: Some(resources),
        ..
    } = world
    else {
        return Ok(Err(Refusal::NotFound(format!("no resource `{uri}`"))));
    };
    let guest = resources.load(&mut *store, instance)?;
    Ok(match guest.call_read(&mut *store, uri).await? {
        Ok(contents) => check_items("resource contents", contents.len()).map(|()| {
            let contents: Vec<Value> = contents.into_iter().map(contents_json).collect();
            json!({ "contents": contents })
        }),
        Err(resources::Error::NotFound(why)) => Err(Refusal::NotFound(why)),
        Err(resources::Error::Failed(why)) => Err(Refusal::Failed(why)),
    })
}

/// What is being completed, as the plugin names it.
pub enum CompletionTarget {
    Prompt(String),
    Template(String),
}

/// `complete`, as MCP's `completion` JSON.
pub async fn complete(
    world: &World,
    store: &mut Store<CallState>,
    instance: &Instance,
    target: &CompletionTarget,
    argument: (&str, &str),
    context: &[(String, String)],
) -> Answered<Value> {
    let World::V0_2 {
        completions: Some(completions),
        ..
    } = world
    else {
        return Ok(Ok(json!({"values": []})));
    };
    let reference = match target {
        CompletionTarget::Prompt(name) => completions::Reference::Prompt(name.clone()),
        CompletionTarget::Template(uri) => completions::Reference::ResourceTemplate(uri.clone()),
    };
    let guest = completions.load(&mut *store, instance)?;
    let done = guest
        .call_complete(&mut *store, &reference, argument.0, argument.1, context)
        .await?;
    let mut values = done.values;
    let cut = values.len() > CompletionInfo::MAX_VALUES;
    values.truncate(CompletionInfo::MAX_VALUES);
    let mut object = Map::new();
    object.insert("values".into(), json!(values));
    put(&mut object, "total", done.total);
    object.insert("hasMore".into(), Value::Bool(done.has_more || cut));
    Ok(Ok(Value::Object(object)))
}

/// Insert `value` under `key` when it is set.
fn put<T: Into<Value>>(object: &mut Map<String, Value>, key: &str, value: Option<T>) {
    if let Some(value) = value {
        object.insert(key.into(), value.into());
    }
}

fn role_name(role: content::Role) -> &'static str {
    match role {
        content::Role::User => "user",
        content::Role::Assistant => "assistant",
    }
}

fn annotations_json(annotations: content::Annotations) -> Value {
    let mut object = Map::new();
    if !annotations.audience.is_empty() {
        let audience: Vec<&str> = annotations.audience.into_iter().map(role_name).collect();
        object.insert("audience".into(), json!(audience));
    }
    put(&mut object, "priority", annotations.priority.map(f64::from));
    put(&mut object, "lastModified", annotations.last_modified);
    Value::Object(object)
}

fn block_json(block: content::ContentBlock) -> Value {
    let mut object = match block.block {
        content::Block::Text(text) => json!({"type": "text", "text": text}),
        content::Block::Image(media) => {
            json!({"type": "image", "data": BASE64.encode(media.data), "mimeType": media.mime_type})
        }
        content::Block::Audio(media) => {
            json!({"type": "audio", "data": BASE64.encode(media.data), "mimeType": media.mime_type})
        }
        content::Block::ResourceLink(link) => {
            let mut object = Map::new();
            object.insert("type".into(), "resource_link".into());
            object.insert("uri".into(), link.uri.into());
            object.insert("name".into(), link.name.into());
            put(&mut object, "title", link.title);
            put(&mut object, "description", link.description);
            put(&mut object, "mimeType", link.mime_type);
            put(&mut object, "size", link.size);
            Value::Object(object)
        }
        content::Block::Resource(contents) => {
            json!({"type": "resource", "resource": contents_json(contents)})
        }
    };
    if let (Some(annotations), Some(object)) = (block.annotations, object.as_object_mut()) {
        object.insert("annotations".into(), annotations_json(annotations));
    }
    object
}

fn contents_json(contents: content::ResourceContents) -> Value {
    let mut object = Map::new();
    object.insert("uri".into(), contents.uri.into());
    put(&mut object, "mimeType", contents.mime_type);
    match contents.body {
        content::Body::Text(text) => object.insert("text".into(), text.into()),
        content::Body::Blob(bytes) => object.insert("blob".into(), BASE64.encode(bytes).into()),
    };
    Value::Object(object)
}

fn prompt_json(prompt: prompts::Prompt) -> Value {
    let mut object = Map::new();
    object.insert("name".into(), prompt.name.into());
    put(&mut object, "title", prompt.title);
    put(&mut object, "description", prompt.description);
    let arguments: Vec<Value> = prompt
        .arguments
        .into_iter()
        .map(|argument| {
            let mut object = Map::new();
            object.insert("name".into(), argument.name.into());
            put(&mut object, "title", argument.title);
            put(&mut object, "description", argument.description);
            object.insert("required".into(), argument.required.into());
            Value::Object(object)
        })
        .collect();
    if !arguments.is_empty() {
        object.insert("arguments".into(), Value::Array(arguments));
    }
    Value::Object(object)
}

fn resource_json(resource: resources::Resource) -> Value {
    let mut object = Map::new();
    object.insert("uri".into(), resource.uri.into());
    object.insert("name".into(), resource.name.into());
    put(&mut object, "title", resource.title);
    put(&mut object, "description", resource.description);
    put(&mut object, "mimeType", resource.mime_type);
    put(&mut object, "size", resource.size);
    put(
        &mut object,
        "annotations",
        resource.annotations.map(annotations_json),
    );
    Value::Object(object)
}

fn template_json(template: resources::Template) -> Value {
    let mut object = Map::new();
    object.insert("uriTemplate".into(), template.uri_template.into());
    object.insert("name".into(), template.name.into());
    put(&mut object, "title", template.title);
    put(&mut object, "description", template.description);
    put(&mut object, "mimeType", template.mime_type);
    put(
        &mut object,
        "annotations",
        template.annotations.map(annotations_json),
    );
    Value::Object(object)
}

/// An output schema, compiled once at load.
pub struct OutputSchema {
    validator: jsonschema::Validator,
}

impl OutputSchema {
    pub fn compile(tool: &str, schema: &JsonObject) -> Result<OutputSchema> {
        if schema.get("type").and_then(Value::as_str) != Some("object") {
            bail!(
                "tool `{tool}`: `output-schema` must describe an object (`\"type\": \"object\"`)"
            );
        }
        let validator = jsonschema::validator_for(&Value::Object(schema.clone())).map_err(|e| {
            anyhow!("tool `{tool}`: `output-schema` is not a valid JSON Schema: {e}")
        })?;
        Ok(OutputSchema { validator })
    }

    fn check(&self, value: &Value) -> Result<(), String> {
        let problems: Vec<String> = self
            .validator
            .iter_errors(value)
            .take(3)
            .map(|e| format!("{e} at `{}`", e.instance_path()))
            .collect();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    }
}

/// A plugin's answer after the host's checks, or why it was refused.
pub type Checked<T> = Result<T, String>;

/// Check a tool result: structured content parses as an object and fits the
/// tool's output schema; a tool with a schema must give structured content
/// unless the result is an error.
pub fn check_tool_result(mut result: Value, schema: Option<&OutputSchema>) -> Checked<Value> {
    let is_error = result.get("isError") == Some(&Value::Bool(true));
    if let Some(Value::String(text)) = result.get("structuredContent") {
        let structured: Value = serde_json::from_str(text)
            .map_err(|e| format!("its `structured` output is not JSON: {e}"))?;
        if !structured.is_object() {
            return Err("its `structured` output must be a JSON object".into());
        }
        if let Some(schema) = schema.filter(|_| !is_error) {
            schema.check(&structured).map_err(|why| {
                format!("its `structured` output does not fit the tool's `output-schema`: {why}")
            })?;
        }
        let object = result.as_object_mut().expect("built as an object");
        // A client that reads only `content` still gets the data.
        let empty = object
            .get("content")
            .and_then(Value::as_array)
            .is_some_and(Vec::is_empty);
        if empty {
            object.insert(
                "content".into(),
                json!([{"type": "text", "text": structured.to_string()}]),
            );
        }
        object.insert("structuredContent".into(), structured);
    } else if schema.is_some() && !is_error {
        return Err(
            "the tool declares an `output-schema` but returned no `structured` output".into(),
        );
    }
    Ok(result)
}

/// A final result (`resultType: "complete"`, which 2026-07-28 requires;
/// rmcp drops it for older clients).
pub fn complete_result(mut value: Value) -> Value {
    if let Some(object) = value.as_object_mut() {
        object.insert("resultType".into(), "complete".into());
    }
    value
}

/// What each content block, prompt message, resource item or annotation
/// set counts toward `limits.result_bytes` beside its text and data: the
/// JSON around it on the wire and the host memory it takes, so a result of
/// many empty blocks is as bounded as one of a few large ones.
pub const ITEM_BYTES: usize = 64;

/// The most content blocks, prompt messages or resource items one answer
/// may hold, however small they are.
pub const MAX_ITEMS: usize = 10_000;

/// What a plugin handed over in `value`, in bytes: its strings (texts,
/// base64 data, URIs...) and numbers, plus [`ITEM_BYTES`] for each object
/// in it (content block, message, resource, annotations), not the keys or
/// `type` tags the host adds. Structured content counts as its JSON text.
/// For a text result: the text's length plus one block.
pub fn payload_size(value: &Value) -> usize {
    match value {
        Value::Object(object) => object
            .iter()
            .map(|(key, value)| match key.as_str() {
                "structuredContent" => json_size(value),
                _ => item_size(value, Some(key)),
            })
            .sum(),
        other => item_size(other, None),
    }
}

/// The size of `value` below the top of an answer (see [`payload_size`]).
fn item_size(value: &Value, key: Option<&str>) -> usize {
    match value {
        Value::String(_) if matches!(key, Some("type" | "resultType")) => 0,
        Value::String(text) => text.len(),
        Value::Number(number) => number.to_string().len(),
        Value::Array(items) => items.iter().map(|v| item_size(v, None)).sum(),
        Value::Object(object) => {
            ITEM_BYTES
                + object
                    .iter()
                    .map(|(k, v)| item_size(v, Some(k)))
                    .sum::<usize>()
        }
        Value::Bool(_) | Value::Null => 0,
    }
}

/// About the length of `value` as JSON text (without escapes): what
/// structured content costs on the wire, where many tiny objects or array
/// items are each a few bytes.
fn json_size(value: &Value) -> usize {
    match value {
        Value::String(text) => text.len() + 2,
        Value::Number(number) => number.to_string().len(),
        Value::Bool(true) | Value::Null => 4,
        Value::Bool(false) => 5,
        Value::Array(items) => {
            let commas = items.len().saturating_sub(1);
            2 + commas + items.iter().map(json_size).sum::<usize>()
        }
        Value::Object(object) => {
            let commas = object.len().saturating_sub(1);
            // `"key":` around each value.
            2 + commas
                + object
                    .iter()
                    .map(|(k, v)| k.len() + 3 + json_size(v))
                    .sum::<usize>()
        }
    }
}

/// Refuse an answer of more than [`MAX_ITEMS`] blocks, messages or items
/// before the host turns them into JSON (which costs far more memory than
/// the plugin's own list did).
fn check_items(what: &str, count: usize) -> Result<(), Refusal> {
    if count > MAX_ITEMS {
        return Err(Refusal::TooLarge(format!(
            "result size: the answer has {count} {what}, more than {MAX_ITEMS} (each also counts {ITEM_BYTES} bytes toward `limits.result_bytes`); return fewer, larger ones"
        )));
    }
    Ok(())
}

/// An answer in MCP's shape (`CallToolResult`, `GetPromptResult`,
/// `ReadResourceResult`, `CompletionInfo`), or why it is not valid MCP.
pub fn to_mcp<T: serde::de::DeserializeOwned>(value: Value) -> Checked<T> {
    serde_json::from_value(value).map_err(|e| format!("its answer is not valid MCP: {e}"))
}

/// What a plugin offers beside tools, checked at load.
#[derive(Default)]
pub struct Offers {
    pub prompts: Vec<Prompt>,
    pub resources: Vec<Resource>,
    pub templates: Vec<ResourceTemplate>,
    /// Each template's matcher, in `templates` order.
    pub matchers: Vec<super::template::UriTemplate>,
}

/// The most prompts, resources or templates one plugin may list.
const MAX_OFFERS: usize = 10_000;

impl Offers {
    /// Parse and check what `list-prompts`, `list-resources` and
    /// `list-templates` returned.
    pub fn check(
        prompts: Vec<Value>,
        resources: Vec<Value>,
        templates: Vec<Value>,
    ) -> Result<Offers> {
        for (what, count) in [
            ("prompts", prompts.len()),
            ("resources", resources.len()),
            ("resource templates", templates.len()),
        ] {
            if count > MAX_OFFERS {
                bail!("it lists {count} {what}; a plugin may offer at most {MAX_OFFERS}");
            }
        }
        let mut offers = Offers::default();
        let mut seen = HashMap::new();
        for value in prompts {
            let prompt: Prompt = serde_json::from_value(value)
                .map_err(|e| anyhow!("`list-prompts` returned an invalid prompt: {e}"))?;
            if prompt.name.is_empty() || seen.insert(prompt.name.clone(), ()).is_some() {
                bail!(
                    "`list-prompts` names prompt {:?} twice (or with an empty name): each prompt needs its own name",
                    prompt.name
                );
            }
            offers.prompts.push(prompt);
        }
        seen.clear();
        for value in resources {
            let resource: Resource = serde_json::from_value(value)
                .map_err(|e| anyhow!("`list-resources` returned an invalid resource: {e}"))?;
            check_uri(&resource.uri)?;
            if seen.insert(resource.uri.clone(), ()).is_some() {
                bail!(
                    "`list-resources` lists {:?} twice: each resource needs its own URI",
                    resource.uri
                );
            }
            offers.resources.push(resource);
        }
        for value in templates {
            let template: ResourceTemplate = serde_json::from_value(value)
                .map_err(|e| anyhow!("`list-templates` returned an invalid template: {e}"))?;
            check_printable("resource template", &template.uri_template)?;
            let matcher = super::template::UriTemplate::parse(&template.uri_template)
                .map_err(|why| anyhow!("resource template {:?}: {why}", template.uri_template))?;
            offers.templates.push(template);
            offers.matchers.push(matcher);
        }
        Ok(offers)
    }
}

/// The longest resource URI or URI template a plugin may offer.
const MAX_URI_BYTES: usize = 2048;

/// A URI or URI template holds no whitespace and nothing that could drive
/// an operator's terminal or hide what it says (control, bidi and
/// zero-width characters), and is at most [`MAX_URI_BYTES`] long. Shown
/// escaped in the error, so the error is safe to print too.
fn check_printable(what: &str, uri: &str) -> Result<()> {
    let bad = uri
        .chars()
        .find(|&c| c.is_whitespace() || crate::logging::is_dangerous(c));
    if let Some(c) = bad {
        bail!(
            "{what} \"{}\" is not valid: it holds {:?}; a URI may not hold spaces or control, bidi or zero-width characters (percent-encode them, e.g. %20 for a space)",
            crate::logging::escape_text(crate::logging::truncate(uri, 200)),
            c
        );
    }
    if uri.len() > MAX_URI_BYTES {
        bail!(
            "{what} \"{}…\" is not valid: it has {} bytes, more than {MAX_URI_BYTES}",
            crate::logging::escape_text(crate::logging::truncate(uri, 200)),
            uri.len()
        );
    }
    Ok(())
}

/// A resource URI: a scheme, then anything printable, at most 2 KiB.
fn check_uri(uri: &str) -> Result<()> {
    check_printable("resource URI", uri)?;
    let scheme_ok = uri.split_once(':').is_some_and(|(scheme, _)| {
        !scheme.is_empty()
            && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    });
    if !scheme_ok {
        bail!(
            "resource URI {uri:?} is not valid: it needs a scheme (`file:`, `test:`...), no spaces, and at most {MAX_URI_BYTES} bytes"
        );
    }
    Ok(())
}

/// The tool as MCP lists it, with its output schema compiled.
pub fn describe_tool(
    name: String,
    listed: &ListedTool,
    input_schema: JsonObject,
) -> Result<(Tool, Option<Arc<OutputSchema>>)> {
    let mut tool = Tool::new(name, listed.description.clone(), Arc::new(input_schema));
    tool.title = listed.title.clone();
    let mut compiled = None;
    if let Some(text) = &listed.output_schema {
        let schema: JsonObject = serde_json::from_str(text).map_err(|e| {
            anyhow!(
                "tool `{}`: `output-schema` is not a JSON object: {e}",
                listed.name
            )
        })?;
        compiled = Some(Arc::new(OutputSchema::compile(&listed.name, &schema)?));
        tool.output_schema = Some(Arc::new(schema));
    }
    if let Some(annotations) = &listed.annotations {
        tool.annotations = Some(
            serde_json::from_value(annotations.clone())
                .map_err(|e| anyhow!("tool `{}`: bad annotations: {e}", listed.name))?,
        );
    }
    Ok((tool, compiled))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(value: Value) -> JsonObject {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn output_schemas_must_describe_objects_and_be_valid() {
        assert!(OutputSchema::compile("t", &object(json!({"type": "object"}))).is_ok());
        let array = OutputSchema::compile("t", &object(json!({"type": "array"})));
        assert!(
            array
                .err()
                .unwrap()
                .to_string()
                .contains("must describe an object")
        );
        let broken = OutputSchema::compile(
            "t",
            &object(json!({"type": "object", "properties": {"a": {"type": 7}}})),
        );
        assert!(
            broken
                .err()
                .unwrap()
                .to_string()
                .contains("not a valid JSON Schema")
        );
    }

    #[test]
    fn structured_output_becomes_text_when_the_content_is_empty() {
        let result = json!({"content": [], "structuredContent": "{\"a\":1}", "isError": false});
        let checked = check_tool_result(result, None).unwrap();
        assert_eq!(checked["structuredContent"], json!({"a": 1}));
        assert_eq!(
            checked["content"],
            json!([{"type": "text", "text": "{\"a\":1}"}])
        );
    }

    #[test]
    fn the_payload_counts_what_the_plugin_gave_not_the_json_around_it() {
        let text = json!({"content": [{"type": "text", "text": "abcde"}], "isError": false, "resultType": "complete"});
        assert_eq!(payload_size(&text), 5 + ITEM_BYTES);
        // Structured content counts as its JSON text.
        let structured = json!({"n": 1234, "list": [{}, "a", true, null, false, [1, 2]]});
        assert_eq!(
            payload_size(&json!({ "structuredContent": structured })),
            structured.to_string().len()
        );
    }

    #[test]
    fn every_block_counts_however_empty() {
        let blocks = vec![json!({"type": "text", "text": ""}); 150_000];
        let result = json!({"content": blocks, "isError": false});
        assert_eq!(payload_size(&result), 150_000 * ITEM_BYTES);
        assert!(payload_size(&result) > 200_000);
        // Messages and their blocks, resource items and annotations too.
        let prompt =
            json!({"messages": [{"role": "user", "content": {"type": "text", "text": ""}}]});
        assert_eq!(payload_size(&prompt), "user".len() + 2 * ITEM_BYTES);
        let annotated =
            json!({"content": [{"type": "text", "text": "", "annotations": {"priority": 1}}]});
        assert_eq!(payload_size(&annotated), 2 * ITEM_BYTES + 1);
    }

    #[test]
    fn more_items_than_allowed_are_refused_before_conversion() {
        assert!(check_items("content blocks", MAX_ITEMS).is_ok());
        let Err(Refusal::TooLarge(why)) = check_items("content blocks", MAX_ITEMS + 1) else {
            panic!("{} blocks were accepted", MAX_ITEMS + 1);
        };
        assert!(
            why.contains("10001 content blocks, more than 10000")
                && why.contains("`limits.result_bytes`"),
            "{why}"
        );
    }

    #[test]
    fn uris_with_control_characters_or_spaces_are_refused_at_load() {
        let resource = |uri: &str| json!({"uri": uri, "name": "r"});
        let template = |uri: &str| json!({"uriTemplate": uri, "name": "t"});
        let refused = Offers::check(vec![], vec![resource("h2://ctrl\x1b[2J\x07\0x")], vec![])
            .err()
            .expect("a URI with ESC, BEL and NUL loaded");
        let message = refused.to_string();
        assert!(
            message.contains(r"h2://ctrl\u{1b}[2J\u{7}\u{0}x") && !message.contains('\x1b'),
            "{message}"
        );
        for uri in ["a://b c", "a://b\u{202e}c", "a://\u{200b}"] {
            assert!(
                Offers::check(vec![], vec![resource(uri)], vec![]).is_err(),
                "{uri:?}"
            );
        }
        for uri in ["a://{x}\ny", "a://{x}\x1b[31m", "a:// {x}"] {
            let refused = Offers::check(vec![], vec![], vec![template(uri)]);
            assert!(refused.is_err(), "template {uri:?} loaded");
        }
        let fine = Offers::check(
            vec![],
            vec![resource("test://ünïcödé/%20")],
            vec![template("test://items/{id}")],
        );
        assert!(fine.is_ok(), "{:?}", fine.err());
    }
}
