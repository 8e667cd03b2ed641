//! A 0.2 plugin for the host's own checks: structured output that fits its
//! schema and output that does not, error results that carry content,
//! batches of questions with bad keys, and prompts, resources and
//! completions to merge with another plugin's.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;
use wasm_mcp_sdk::{
    Batch, Body, Completion, Content, Message, Reference, Role, Sample, ToolError, ToolResult,
    Vars, completions, prompts, resources, tools,
};

#[derive(Deserialize, JsonSchema)]
struct City {
    /// A city name.
    city: String,
}

/// The weather, as structured output.
#[derive(Serialize, JsonSchema)]
struct Weather {
    city: String,
    /// Degrees Celsius.
    celsius: i32,
    sunny: bool,
}

fn weather(City { city }: City) -> Result<Weather, ToolError> {
    Ok(Weather {
        celsius: city.len() as i32,
        city,
        sunny: true,
    })
}

#[derive(Deserialize, JsonSchema)]
struct How {
    /// `fits`, `wrong-type`, `missing`, `not-json`, `not-object` or `error`.
    how: String,
}

const SCHEMA: &str =
    r#"{"type":"object","properties":{"count":{"type":"integer"}},"required":["count"]}"#;

/// Declares `SCHEMA` and returns structured output that fits it or not.
fn counted(How { how }: How) -> Result<ToolResult, ToolError> {
    let mut result = ToolResult::new([Content::text(format!("counted: {how}"))]);
    result.structured = match how.as_str() {
        "fits" => Some(json!({"count": 3}).to_string()),
        "wrong-type" => Some(json!({"count": "three"}).to_string()),
        "missing" => None,
        "not-json" => Some("{count: 3".into()),
        "not-object" => Some("[3]".into()),
        // An error result needs no structured output.
        "error" => return Ok(ToolResult::error([Content::text("could not count")])),
        other => {
            return Err(ToolError::InvalidArguments(format!(
                "unknown `how`: {other}"
            )));
        }
    };
    Ok(result)
}

/// An error the model reads, with an image and a link to look at.
fn broken_chart(_: City) -> Result<ToolResult, ToolError> {
    Ok(ToolResult::error([
        Content::text("The chart could not be drawn; here is what came out.")
            .for_audience(&[Role::User]),
        Content::image(vec![0x89, b'P', b'N', b'G'], "image/png").with_priority(0.5),
        Content::resource_link("shapes://items/charts/last", "last-chart")
            .describe("The last chart", "image/png"),
        Content::audio(vec![1, 2, 3], "audio/wav"),
        Content::embedded_blob(
            "shapes://raw",
            "application/octet-stream",
            vec![0, 1, 2, 255],
        ),
    ]))
}

#[derive(Deserialize, JsonSchema)]
struct Key {
    /// The key to ask under.
    key: String,
}

/// Asks twice under `key`, which the host must refuse, or once if valid.
fn ask_with_key(Key { key }: Key) -> Result<String, ToolError> {
    let mut replies = Batch::new()
        .sample(&key, Sample::new("one").max_tokens(5))
        .sample(&key, Sample::new("two").max_tokens(5))
        .send();
    Ok(match replies.sampled(&key) {
        Ok(answer) => format!("answered: {}", answer.text()),
        Err(error) => format!("refused: {error:?}"),
    })
}

#[derive(Deserialize, JsonSchema)]
struct Count {
    /// How many empty text blocks to return.
    count: u32,
}

/// `count` empty text blocks: each must count toward the host's
/// `limits.result_bytes`, though none holds a byte of text.
fn empty_blocks(Count { count }: Count) -> Result<ToolResult, ToolError> {
    Ok(ToolResult::new((0..count).map(|_| Content::text(""))))
}

tools! {
    weather(City) -> Weather [read_only, idempotent, closed_world, title = "Weather"] => "Reports the weather as structured output",
    counted(How) [output_schema = SCHEMA] => "Returns structured output that fits its schema, or not",
    broken_chart(City) [destructive, open_world] => "Returns an error result carrying every kind of content",
    ask_with_key(Key) => "Asks two questions under one key",
    empty_blocks(Count) => "Returns as many empty text blocks as asked",
}

#[derive(Deserialize, JsonSchema)]
struct Topic {
    /// What to write about.
    topic: String,
    /// How long, in words.
    words: Option<String>,
}

fn haiku(Topic { topic, words }: Topic) -> Result<Vec<Message>, ToolError> {
    if topic.is_empty() {
        return Err(ToolError::InvalidArguments("`topic` is empty".into()));
    }
    Ok(vec![
        Message::user(format!(
            "Write a haiku about {topic} in {} words.",
            words.unwrap_or("17".into())
        )),
        Message::assistant(Content::embedded_text(
            "shapes://style",
            "text/plain",
            "5-7-5",
        )),
    ])
}

prompts! {
    haiku(Topic) => "Asks for a haiku about a topic",
}

fn style(_: &str, _: &Vars) -> Result<Body, ToolError> {
    Ok(Body::Text("5-7-5".into()))
}

fn item(uri: &str, vars: &Vars) -> Result<Body, ToolError> {
    match vars.get("path") {
        Some(path) if path.starts_with("missing") => {
            Err(ToolError::NotFound(format!("nothing at {uri}")))
        }
        Some(path) => Ok(Body::Blob(path.as_bytes().to_vec())),
        None => Err(ToolError::Failed("no path".into())),
    }
}

resources! {
    style: "shapes://style", "text/plain" => "The haiku's form",
    item: template "shapes://items/{+path}", "application/octet-stream" => "Any item, by path",
}

fn complete(
    reference: &Reference,
    argument: &str,
    value: &str,
    _: &[(String, String)],
) -> Completion {
    match (reference, argument) {
        (Reference::Prompt(_), "topic") => Completion::of(
            ["autumn", "august", "winter"]
                .into_iter()
                .filter(|t| t.starts_with(value)),
        ),
        (Reference::ResourceTemplate(_), "path") => {
            Completion::of([format!("{value}/a"), format!("{value}/b")])
        }
        _ => Completion::default(),
    }
}

completions!(complete);
