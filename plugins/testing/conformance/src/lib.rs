//! The fixture the official MCP conformance suite
//! (`@modelcontextprotocol/conformance`) runs its server scenarios against:
//! every tool, prompt and resource those scenarios call, by the names and
//! with the answers they expect, written with the SDK like any plugin.

use std::thread::sleep;
use std::time::Duration;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};
use wasm_mcp_sdk::{
    Batch, Body, Completion, Content, Elicited, Message, Reference, Sample, ToolError, ToolResult,
    Vars, append, completions, elicit, elicit_with_schema, log, progress, prompts, resources,
    roots, sample_text, tools,
};

/// A 1×1 PNG and a 44-byte WAV: what the suite's own fixture sends.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
    0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0xda, 0x63, 0xfc, 0xcf, 0xc0, 0xf0,
    0x1f, 0x00, 0x05, 0x05, 0x02, 0x00, 0x5f, 0xc8, 0xf1, 0xd2, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45,
    0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];
const WAV: &[u8] = &[
    0x52, 0x49, 0x46, 0x46, 0x26, 0x00, 0x00, 0x00, 0x57, 0x41, 0x56, 0x45, 0x66, 0x6d, 0x74, 0x20,
    0x10, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x40, 0x1f, 0x00, 0x00, 0x00, 0x7d, 0x00, 0x00,
    0x02, 0x00, 0x10, 0x00, 0x64, 0x61, 0x74, 0x61, 0x02, 0x00, 0x00, 0x00,
];

/// No arguments.
#[derive(Deserialize, JsonSchema)]
struct NoArgs {}

fn test_simple_text(_: NoArgs) -> Result<&'static str, ToolError> {
    Ok("This is a simple text response for testing.")
}

fn test_image_content(_: NoArgs) -> Result<Content, ToolError> {
    Ok(Content::image(PNG, "image/png"))
}

fn test_audio_content(_: NoArgs) -> Result<Content, ToolError> {
    Ok(Content::audio(WAV, "audio/wav"))
}

fn test_embedded_resource(_: NoArgs) -> Result<Content, ToolError> {
    Ok(Content::embedded_text(
        "test://embedded-resource",
        "text/plain",
        "This is an embedded resource content.",
    ))
}

fn test_multiple_content_types(_: NoArgs) -> Result<Vec<Content>, ToolError> {
    Ok(vec![
        Content::text("Multiple content types test:"),
        Content::image(PNG, "image/png"),
        Content::embedded_text(
            "test://mixed-content-resource",
            "application/json",
            r#"{"test":"data","value":123}"#,
        ),
    ])
}

fn test_tool_with_logging(_: NoArgs) -> Result<&'static str, ToolError> {
    for step in [
        "Tool execution started",
        "Tool processing data",
        "Tool execution completed",
    ] {
        log::info(step);
        sleep(Duration::from_millis(50));
    }
    Ok("Tool with logging executed successfully")
}

fn test_tool_with_progress(_: NoArgs) -> Result<&'static str, ToolError> {
    for done in [0.0, 50.0, 100.0] {
        progress(done, Some(100.0), Some(&format!("{done}% done")));
        if done < 100.0 {
            sleep(Duration::from_millis(50));
        }
    }
    Ok("Progress test completed")
}

fn test_error_handling(_: NoArgs) -> Result<ToolResult, ToolError> {
    Ok(ToolResult::error([Content::text(
        "This tool intentionally returns an error for testing",
    )]))
}

#[derive(Deserialize, JsonSchema)]
struct PromptArgs {
    /// The prompt to send to the LLM.
    prompt: String,
}

fn test_sampling(args: PromptArgs) -> Result<String, ToolError> {
    Ok(match sample_text(args.prompt, 100) {
        Ok(answer) => format!("LLM response: {answer}"),
        Err(error) => format!("Sampling failed: {error:?}"),
    })
}

#[derive(Deserialize, JsonSchema)]
struct MessageArgs {
    /// The message to show the user.
    message: String,
}

/// The form `test_elicitation` asks for.
#[derive(Deserialize, JsonSchema)]
#[allow(dead_code)]
struct UserInfo {
    /// User's response
    username: String,
    /// User's email address
    email: String,
}

fn test_elicitation(args: MessageArgs) -> Result<String, ToolError> {
    Ok(
        match elicit_with_schema(&args.message, &wasm_mcp_sdk::form_schema_of::<UserInfo>()) {
            Ok(Elicited::Accepted(content)) => {
                format!("User response: action=accept, content={content}")
            }
            Ok(Elicited::Declined) => "User response: action=decline".into(),
            Ok(Elicited::Cancelled) => "User response: action=cancel".into(),
            Err(error) => format!("Elicitation failed: {error:?}"),
        },
    )
}

/// Ask with `schema` exactly as the scenario wants to see it.
fn elicit_exactly(message: &str, schema: Value) -> Result<String, ToolError> {
    Ok(match elicit_with_schema(message, &schema) {
        Ok(Elicited::Accepted(content)) => {
            format!("Elicitation completed: action=accept, content={content}")
        }
        Ok(Elicited::Declined) => "Elicitation completed: action=decline".into(),
        Ok(Elicited::Cancelled) => "Elicitation completed: action=cancel".into(),
        Err(error) => format!("Elicitation failed: {error:?}"),
    })
}

fn test_elicitation_sep1034_defaults(_: NoArgs) -> Result<String, ToolError> {
    elicit_exactly(
        "Please review and update the form fields with defaults",
        json!({"type": "object", "properties": {
            "name": {"type": "string", "description": "User name", "default": "John Doe"},
            "age": {"type": "integer", "description": "User age", "default": 30},
            "score": {"type": "number", "description": "User score", "default": 95.5},
            "status": {"type": "string", "description": "User status", "enum": ["active", "inactive", "pending"], "default": "active"},
            "verified": {"type": "boolean", "description": "Verification status", "default": true}
        }, "required": []}),
    )
}

fn test_elicitation_sep1330_enums(_: NoArgs) -> Result<String, ToolError> {
    elicit_exactly(
        "Please select options from the enum fields",
        json!({"type": "object", "properties": {
            "untitledSingle": {"type": "string", "description": "Select one option", "enum": ["option1", "option2", "option3"]},
            "titledSingle": {"type": "string", "description": "Select one option with titles", "oneOf": [
                {"const": "value1", "title": "First Option"},
                {"const": "value2", "title": "Second Option"},
                {"const": "value3", "title": "Third Option"}]},
            "legacyEnum": {"type": "string", "description": "Select one option (legacy)", "enum": ["opt1", "opt2", "opt3"], "enumNames": ["Option One", "Option Two", "Option Three"]},
            "untitledMulti": {"type": "array", "description": "Select multiple options", "minItems": 1, "maxItems": 3,
                "items": {"type": "string", "enum": ["option1", "option2", "option3"]}},
            "titledMulti": {"type": "array", "description": "Select multiple options with titles", "minItems": 1, "maxItems": 3,
                "items": {"anyOf": [
                    {"const": "value1", "title": "First Choice"},
                    {"const": "value2", "title": "Second Choice"},
                    {"const": "value3", "title": "Third Choice"}]}}
        }, "required": []}),
    )
}

/// Listed with a JSON Schema 2020-12 input schema, passed through verbatim.
const SCHEMA_2020_12: &str = r##"{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object","$defs":{"address":{"$anchor":"addressDef","type":"object","properties":{"street":{"type":"string"},"city":{"type":"string"}}}},"properties":{"name":{"type":"string"},"address":{"$ref":"#/$defs/address"},"contactMethod":{"type":"string","enum":["phone","email"]},"phone":{"type":"string"},"email":{"type":"string"}},"allOf":[{"anyOf":[{"required":["phone"]},{"required":["email"]}]}],"if":{"properties":{"contactMethod":{"const":"phone"}},"required":["contactMethod"]},"then":{"required":["phone"]},"else":{"required":["email"]},"additionalProperties":false}"##;

fn json_schema_2020_12_tool(args: Value) -> Result<String, ToolError> {
    Ok(format!("Received: {args}"))
}

fn test_missing_capability(_: NoArgs) -> Result<String, ToolError> {
    // Fails without the client's `sampling` capability: the host answers -32021.
    Ok(format!("Sampled: {}", sample_text("Say hi", 10)?))
}

#[derive(Deserialize, JsonSchema)]
#[allow(dead_code)]
struct Name {
    name: String,
}

fn test_streaming_elicitation(_: NoArgs) -> Result<String, ToolError> {
    Ok(match elicit::<Name>("What is your name?")? {
        Elicited::Accepted(Name { name }) => format!("Hello, {name}!"),
        _ => "No name given".into(),
    })
}

fn test_logging_tool(_: NoArgs) -> Result<&'static str, ToolError> {
    log::info("test_logging_tool ran");
    Ok("Logged a message")
}

/// The suite's hooks for "the lists changed" change them as an operator
/// does: the test serves this fixture with `serve --watch` and grants it its
/// own config file, so a line appended there reloads the plugins, and every
/// `subscriptions/listen` stream hears that the tool and prompt lists changed.
fn touch_config() -> Result<&'static str, ToolError> {
    append("wasm-mcp.toml", "# touched by a test_trigger_*_change call\n")?;
    Ok("The config was touched; the host reloads the plugins")
}

fn test_trigger_tool_change(_: NoArgs) -> Result<&'static str, ToolError> {
    touch_config()
}

fn test_trigger_prompt_change(_: NoArgs) -> Result<&'static str, ToolError> {
    touch_config()
}

fn test_input_required_result_elicitation(_: NoArgs) -> Result<String, ToolError> {
    let mut replies = Batch::new()
        .elicit::<Name>("user_name", "What is your name?")
        .send();
    Ok(match replies.elicited::<Name>("user_name")? {
        Elicited::Accepted(Name { name }) => format!("Hello, {name}!"),
        Elicited::Declined => "Hello, stranger (declined)!".into(),
        Elicited::Cancelled => "Hello, stranger (cancelled)!".into(),
    })
}

fn test_input_required_result_sampling(_: NoArgs) -> Result<String, ToolError> {
    let answer = sample_text("What is the capital of France?", 100)?;
    Ok(format!("Sampling result: {answer}"))
}

fn test_input_required_result_list_roots(_: NoArgs) -> Result<String, ToolError> {
    Ok(format!("Found {} root(s)", roots()?.len()))
}

#[derive(Deserialize, JsonSchema)]
#[allow(dead_code)]
struct Confirm {
    ok: bool,
}

fn test_input_required_result_request_state(_: NoArgs) -> Result<String, ToolError> {
    match elicit::<Confirm>("Please confirm")? {
        Elicited::Accepted(Confirm { ok: true }) => Ok("state-ok: requestState validated".into()),
        _ => Ok("state-ok: not confirmed".into()),
    }
}

fn test_input_required_result_multiple_inputs(_: NoArgs) -> Result<String, ToolError> {
    let mut replies = Batch::new()
        .elicit::<Name>("user_name", "What is your name?")
        .sample(
            "greeting",
            Sample::new("Generate a greeting").max_tokens(50),
        )
        .roots("client_roots")
        .send();
    let name = match replies.elicited::<Name>("user_name")? {
        Elicited::Accepted(Name { name }) => name,
        _ => "nobody".into(),
    };
    let greeting = replies.sampled("greeting")?.text();
    let roots = replies.roots("client_roots")?.len();
    Ok(format!(
        "Name: {name}; Greeting: {greeting}; Roots: {roots}"
    ))
}

#[derive(Deserialize, JsonSchema)]
#[allow(dead_code)]
struct Color {
    color: String,
}

fn test_input_required_result_multi_round(_: NoArgs) -> Result<String, ToolError> {
    let Elicited::Accepted(Name { name }) = elicit::<Name>("Step 1: What is your name?")? else {
        return Ok("Multi-round stopped at step 1".into());
    };
    let Elicited::Accepted(Color { color }) =
        elicit::<Color>("Step 2: What is your favorite color?")?
    else {
        return Ok("Multi-round stopped at step 2".into());
    };
    Ok(format!("Multi-round complete for {name} who likes {color}"))
}

fn test_input_required_result_tampered_state(_: NoArgs) -> Result<String, ToolError> {
    elicit::<Confirm>("Please confirm")?;
    Ok("integrity-ok: state verified".into())
}

fn test_input_required_result_capabilities(_: NoArgs) -> Result<String, ToolError> {
    // Ask the user if the client can; else fall back to its LLM.
    match elicit::<Name>("What is your name?") {
        Ok(Elicited::Accepted(Name { name })) => Ok(format!("Asked the user: {name}")),
        Ok(_) => Ok("The user did not answer".into()),
        Err(wasm_mcp_sdk::ElicitError::Unsupported(_)) => {
            let answer = sample_text("Sample request", 50)?;
            Ok(format!("Sampled instead: {answer}"))
        }
        Err(error) => Err(error.into()),
    }
}

/// Mirrors `region` into the `Mcp-Param-Region` header (SEP-2243).
const CUSTOM_HEADER_SCHEMA: &str = r#"{"type":"object","properties":{"region":{"type":"string","description":"Mirrored into Mcp-Param-Region","x-mcp-header":"Region"}},"required":["region"]}"#;

fn test_custom_header(args: Value) -> Result<String, ToolError> {
    Ok(format!(
        "region={}",
        args["region"].as_str().unwrap_or_default()
    ))
}

tools! {
    test_simple_text(NoArgs) [read_only] => "Returns a simple text response",
    test_image_content(NoArgs) [read_only] => "Returns an image (a 1x1 PNG)",
    test_audio_content(NoArgs) [read_only] => "Returns audio (a short WAV)",
    test_embedded_resource(NoArgs) [read_only] => "Returns an embedded text resource",
    test_multiple_content_types(NoArgs) [read_only] => "Returns text, an image and a resource",
    test_tool_with_logging(NoArgs) => "Logs three messages while it runs",
    test_tool_with_progress(NoArgs) => "Reports progress three times",
    test_error_handling(NoArgs) => "Always returns an error result",
    test_sampling(PromptArgs) => "Asks the client's LLM to answer the prompt",
    test_elicitation(MessageArgs) => "Asks the user for a username and email",
    test_elicitation_sep1034_defaults(NoArgs) => "Asks with a form whose fields have defaults (SEP-1034)",
    test_elicitation_sep1330_enums(NoArgs) => "Asks with every kind of enum field (SEP-1330)",
    json_schema_2020_12_tool(Value) [input_schema = SCHEMA_2020_12] => "Lists a JSON Schema 2020-12 input schema",
    test_missing_capability(NoArgs) => "Samples at once; fails without the client's sampling capability",
    test_streaming_elicitation(NoArgs) => "Asks the user for a name",
    test_logging_tool(NoArgs) => "Logs one message and returns",
    test_input_required_result_elicitation(NoArgs) => "Asks the user's name under the key user_name",
    test_input_required_result_sampling(NoArgs) => "Asks the client's LLM for the capital of France",
    test_input_required_result_list_roots(NoArgs) => "Counts the client's roots",
    test_input_required_result_request_state(NoArgs) => "Asks the user to confirm",
    test_input_required_result_multiple_inputs(NoArgs) => "Asks a name, a greeting and the roots in one round",
    test_input_required_result_multi_round(NoArgs) => "Asks a name, then a color",
    test_input_required_result_tampered_state(NoArgs) => "Asks the user to confirm",
    test_input_required_result_capabilities(NoArgs) => "Asks the user if it can, else the LLM",
    test_custom_header(Value) [input_schema = CUSTOM_HEADER_SCHEMA] => "Echoes a parameter mirrored into a header (SEP-2243)",
    test_trigger_tool_change(NoArgs) => "Touches the config (granted, with serve --watch): the host reloads and the tool list changes",
    test_trigger_prompt_change(NoArgs) => "Touches the config (granted, with serve --watch): the host reloads and the prompt list changes",
}

#[derive(Deserialize, JsonSchema)]
struct TwoArgs {
    /// First test argument
    arg1: String,
    /// Second test argument
    arg2: String,
}

#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct EmbedArgs {
    /// URI of the resource to embed
    resource_uri: String,
}

fn test_simple_prompt() -> Result<Vec<Message>, ToolError> {
    Ok(vec![Message::user("This is a simple prompt for testing.")])
}

fn test_prompt_with_arguments(args: TwoArgs) -> Result<Vec<Message>, ToolError> {
    Ok(vec![Message::user(format!(
        "Prompt with arguments: arg1='{}', arg2='{}'",
        args.arg1, args.arg2
    ))])
}

fn test_prompt_with_embedded_resource(args: EmbedArgs) -> Result<Vec<Message>, ToolError> {
    Ok(vec![
        Message::user(Content::embedded_text(
            args.resource_uri,
            "text/plain",
            "Embedded resource content for testing.",
        )),
        Message::user("Please process the embedded resource above."),
    ])
}

fn test_prompt_with_image() -> Result<Vec<Message>, ToolError> {
    Ok(vec![
        Message::user(Content::image(PNG, "image/png")),
        Message::user("Please analyze the image above."),
    ])
}

#[derive(Deserialize, JsonSchema)]
struct Context {
    context: String,
}

fn test_input_required_result_prompt() -> Result<Vec<Message>, ToolError> {
    let mut replies = Batch::new()
        .elicit::<Context>("user_context", "What context should the prompt use?")
        .send();
    let context = match replies.elicited::<Context>("user_context")? {
        Elicited::Accepted(Context { context }) => context,
        _ => "none".into(),
    };
    Ok(vec![Message::user(format!(
        "Prompt with context: {context}"
    ))])
}

prompts! {
    test_simple_prompt() => "A simple prompt without arguments",
    test_prompt_with_arguments(TwoArgs) => "A prompt with two required arguments",
    test_prompt_with_embedded_resource(EmbedArgs) => "A prompt that embeds a resource",
    test_prompt_with_image() => "A prompt with an image",
    test_input_required_result_prompt() => "A prompt that asks the user for context first",
}

fn static_text(_: &str, _: &Vars) -> Result<Body, ToolError> {
    Ok(Body::Text(
        "This is the content of the static text resource.".into(),
    ))
}

fn static_binary(_: &str, _: &Vars) -> Result<Body, ToolError> {
    Ok(Body::Blob(PNG.to_vec()))
}

fn watched_resource(_: &str, _: &Vars) -> Result<Body, ToolError> {
    Ok(Body::Text("Watched resource content".into()))
}

fn template(_: &str, vars: &Vars) -> Result<Body, ToolError> {
    let id = vars.get("id").unwrap_or_default();
    let data = json!({"id": id, "templateTest": true, "data": format!("Data for ID: {id}")});
    Ok(Body::Text(data.to_string()))
}

resources! {
    static_text: "test://static-text", "text/plain" => "A static text resource",
    static_binary: "test://static-binary", "image/png" => "A static binary resource (a 1x1 PNG)",
    watched_resource: "test://watched-resource", "text/plain" => "A resource clients may subscribe to",
    template: template "test://template/{id}/data", "application/json" => "Data for any id",
}

/// Completes `arg1` of `test_prompt_with_arguments` from a short list.
fn complete(
    reference: &Reference,
    argument: &str,
    value: &str,
    _: &[(String, String)],
) -> Completion {
    match (reference, argument) {
        (Reference::Prompt(name), "arg1") if name == "test_prompt_with_arguments" => {
            Completion::of(
                ["test", "testing", "tested"]
                    .into_iter()
                    .filter(|v| v.starts_with(value)),
            )
        }
        _ => Completion::default(),
    }
}

completions!(complete);
