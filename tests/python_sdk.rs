//! The Python SDK (`plugins/python-sdk`), installed from the repo with pip
//! and built with componentize-py from PyPI: the seed's log archiver ported
//! to it leaves the seed's report for the official Python SDK's clients in
//! both eras, and the `py-haiku` example's tools (schemas from type hints,
//! sampling, appends, errors, structured output, elicitation, rich content,
//! progress and logs) and its prompt and resources (`@prompt`, `@resource`,
//! completions from `Literal` hints) work over both transports in both eras.
#![allow(deprecated)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::sdks::python_plugin;
use common::*;
use rmcp::model::{
    ArgumentInfo, CallToolRequestParams, CompleteRequestParams, ElicitResult, ElicitationAction,
    ErrorCode, GetPromptRequestParams, LoggingLevel, ReadResourceRequestParams, Reference,
    RequestMetaObject, ResourceContents, SetLevelRequestParams,
};
use serde_json::{Value, json};

const SUCCESS: &str = "Success: Log analyzed and appended to 'incident_report.txt'.";

fn archiver_config() -> String {
    format!(
        "[[plugin]]\ncomponent = {:?}\nappend = [\"incident_report.txt\"]\n",
        python_plugin("py-log-archiver")
    )
}

#[test]
fn the_seed_ported_to_python_leaves_the_seeds_report_for_both_eras_clients() {
    let answer = "Two transactions waited on each other's locks, so one was aborted.";
    // The seed's own client (SDK 1.30, session sampling) and SDK 2.3's
    // default client (2026-07-28, input_required rounds), over HTTP.
    for version in ["1.30.0", "2.3.0"] {
        let python = python_with_mcp(version);
        let workspace = Workspace::with_config(&archiver_config());
        let server = HttpServer::start(Some(&workspace.config()), workspace.dir.path());
        let (requests, result) = run_sampling_client(
            &python,
            &["http", &server.url, DEADLOCK, answer],
            workspace.dir.path(),
        );
        assert_eq!(result["is_error"], false, "SDK {version}: {result}");
        assert_eq!(result["text"], SUCCESS, "SDK {version}");
        assert_seed_shaped(&requests);
        assert_eq!(
            workspace.read("incident_report.txt"),
            Some(seed_report(DEADLOCK, answer)),
            "SDK {version}"
        );
    }
    // And over stdio, as the seed's client can run it.
    let python = python_with_mcp("1.30.0");
    let workspace = Workspace::with_config(&archiver_config());
    let config = workspace.config();
    let (_, result) = run_sampling_client(
        &python,
        &[
            "stdio",
            binary(),
            "serve",
            "--stdio",
            "--config",
            config.to_str().unwrap(),
            "--",
            DEADLOCK,
            "over stdio",
        ],
        workspace.dir.path(),
    );
    assert_eq!(result["text"], SUCCESS, "{result}");
    assert_eq!(
        workspace.read("incident_report.txt"),
        Some(seed_report(DEADLOCK, "over stdio"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_ported_seed_reports_what_it_cannot_do() {
    let workspace = Workspace::with_config(&archiver_config());
    for client in [
        ScriptedClient::declining(),
        ScriptedClient::replying("unused").modern(),
    ] {
        let modern = client.is_modern();
        let session = connect_stdio(client, Some(&workspace.config()), workspace.dir.path()).await;
        if !modern {
            let declined = call(&session, "process_log_entry", json!({"log_line": "x"})).await;
            assert_eq!(declined.is_error, Some(true));
            assert!(
                text(&declined).contains("sampling failed: declined: User rejected"),
                "{}",
                text(&declined)
            );
        }
        let wrong = call(&session, "process_log_entry", json!({"log_line": 7})).await;
        assert_eq!(wrong.is_error, Some(true));
        assert!(
            text(&wrong).contains("`log_line` must be a string, not 7 (a number)"),
            "{}",
            text(&wrong)
        );
    }
    assert_eq!(workspace.read("incident_report.txt"), None);
}

/// The user signs the first poem (with the seal), then declines.
fn poet_and_user() -> ScriptedClient {
    let asked = Arc::new(AtomicUsize::new(0));
    ScriptedClient::replying("Old pond / a frog jumps in / the sound of water").eliciting(
        move |_| {
            Ok(if asked.fetch_add(1, Ordering::SeqCst) == 0 {
                let mut accepted = ElicitResult::new(ElicitationAction::Accept);
                accepted.content = Some(json!({"author": "Bashō", "stamp": true}));
                accepted
            } else {
                ElicitResult::new(ElicitationAction::Decline)
            })
        },
    )
}

fn haiku_call() -> CallToolRequestParams {
    let mut params = CallToolRequestParams::new("haiku")
        .with_arguments(json!({"topic": "frogs"}).as_object().unwrap().clone());
    let mut meta = RequestMetaObject::default();
    meta.set_log_level(LoggingLevel::Info);
    params.meta = Some(meta);
    params
}

#[tokio::test(flavor = "multi_thread")]
async fn the_python_example_works_over_both_transports_in_both_eras() {
    let component = python_plugin("py-haiku");
    for transport in TRANSPORTS {
        for modern in [false, true] {
            let context = format!("{transport:?}, modern={modern}");
            let workspace = Workspace::with_config(&format!(
                "[[plugin]]\ncomponent = {component:?}\nappend = [\"haiku.txt\"]\n"
            ));
            let client = if modern {
                poet_and_user().modern()
            } else {
                poet_and_user()
            };
            let session = open(transport, &workspace, client.clone()).await;
            let session = &session.client;
            if !modern {
                // A legacy session asks for logs once; a modern call asks in its `_meta`.
                session
                    .set_level(SetLevelRequestParams::new(LoggingLevel::Info))
                    .await
                    .unwrap();
            }

            // Schemas come from the type hints and docstrings.
            let tools = session.list_all_tools().await.unwrap();
            let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
            assert_eq!(names, ["haiku", "count_syllables", "sign"], "{context}");
            let haiku = serde_json::to_value(&tools[0]).unwrap();
            assert_eq!(
                haiku["description"],
                "Writes a haiku with the client's LLM and keeps it in haiku.txt."
            );
            assert_eq!(
                haiku["inputSchema"],
                json!({
                    "type": "object",
                    "properties": {
                        "topic": {"type": "string", "description": "What the haiku is about."},
                        "mood": {"type": "string", "enum": ["calm", "playful", "dark"],
                                 "default": "calm", "description": "The tone of the poem."},
                    },
                    "required": ["topic"],
                    "additionalProperties": false,
                })
            );
            assert_eq!(haiku["annotations"], json!({"destructiveHint": false}));
            let counted = serde_json::to_value(&tools[1]).unwrap();
            assert_eq!(
                counted["outputSchema"]["required"],
                json!(["lines", "total", "classic"])
            );
            assert_eq!(counted["annotations"], json!({"readOnlyHint": true}));

            // Sampling, appends, progress and logs.
            let result = session.call_tool(haiku_call()).await.unwrap();
            assert_eq!(
                text(&result),
                "Old pond / a frog jumps in / the sound of water",
                "{context}"
            );
            let asked = client.asked.lock().unwrap()[0].clone();
            assert_eq!(
                asked.system_prompt.as_deref(),
                Some("You are a poet. Answer with the haiku only.")
            );
            assert_eq!(asked.max_tokens, 60);
            assert_eq!(client.prompts(), ["Write a calm haiku about frogs."]);
            assert_eq!(
                client.progress.lock().unwrap().clone(),
                [
                    (0.0, Some(2.0), Some("asking the model".to_string())),
                    (1.0, Some(2.0), Some("keeping it".to_string()))
                ],
                "{context}"
            );
            let kept = |logs: &[LogSeen]| {
                logs.iter().any(|(level, _, message)| {
                    level == "info" && message == "kept a calm haiku about frogs"
                })
            };
            let logs = client.logs_once(kept).await;
            assert!(kept(&logs), "{context}: {logs:?}");

            // Errors: the host's schema check, the SDK's, and the tool's own.
            for (arguments, expected) in [
                (json!({"topic": 7}), "topic"),
                (json!({"topic": "  "}), "`topic` is empty"),
                (json!({"topic": "x", "mood": "grim"}), "mood"),
            ] {
                let wrong = call(session, "haiku", arguments.clone()).await;
                assert_eq!(wrong.is_error, Some(true), "{arguments}");
                assert!(
                    text(&wrong).contains(expected),
                    "{arguments}: {}",
                    text(&wrong)
                );
            }
            let wordless = call(session, "count_syllables", json!({"poem": "!!"})).await;
            assert_eq!(wordless.is_error, Some(true));
            assert_eq!(
                text(&wordless),
                "plugin `py-haiku` failed: the poem has no words to count"
            );

            // Structured output, checked by the host against the output schema.
            let poem = "an old silent pond\na frog jumps into the pond\nsplash silence again";
            let counted = call(session, "count_syllables", json!({"poem": poem})).await;
            assert_eq!(counted.is_error, Some(false));
            assert_eq!(
                counted.structured_content,
                Some(json!({"lines": [5, 7, 5], "total": 17, "classic": true}))
            );

            // Elicitation and rich content: signed with the seal, then declined.
            let signed = call(session, "sign", json!({"poem": "Old pond"})).await;
            let blocks = serde_json::to_value(&signed.content).unwrap();
            assert_eq!(blocks[0]["text"], "Old pond\n  -- Bashō", "{context}");
            assert_eq!(blocks[1]["type"], "resource_link");
            assert_eq!(blocks[1]["uri"], "file:///haiku.txt");
            assert_eq!(blocks[2]["type"], "image");
            assert_eq!(blocks[2]["mimeType"], "image/png");
            assert_eq!(blocks[2]["annotations"]["audience"], json!(["user"]));
            let elicited = client.elicited.lock().unwrap()[0].clone();
            let form: Value = serde_json::to_value(&elicited).unwrap();
            assert_eq!(form["message"], "Who signs this haiku?");
            assert_eq!(
                form["requestedSchema"]["properties"]["author"],
                json!({"type": "string", "description": "The name to sign with."})
            );
            let unsigned = call(session, "sign", json!({"poem": "Old pond"})).await;
            assert_eq!(unsigned.is_error, Some(true));
            assert_eq!(text(&unsigned), "Left unsigned: the user chose to decline.");

            assert_eq!(
                workspace.read("haiku.txt").as_deref(),
                Some("Old pond / a frog jumps in / the sound of water\n\nOld pond\n  -- Bashō\n\n"),
                "{context}"
            );
        }
    }
}

fn workshop(arguments: Value) -> GetPromptRequestParams {
    let mut request = GetPromptRequestParams::new("workshop");
    request.arguments = arguments.as_object().cloned();
    request
}

#[tokio::test(flavor = "multi_thread")]
async fn the_python_example_offers_prompts_resources_and_completions() {
    let component = python_plugin("py-haiku");
    let workspace = Workspace::with_config(&format!(
        "[[plugin]]\ncomponent = {component:?}\nappend = [\"haiku.txt\"]\n"
    ));
    for transport in TRANSPORTS {
        for modern in [false, true] {
            let at = format!("{transport:?}, modern={modern}");
            let client = ScriptedClient::replying("x");
            let client = if modern { client.modern() } else { client };
            let session = open(transport, &workspace, client).await;
            let session = &session.client;

            // `@prompt`: arguments from the signature, described by the docstring.
            let prompts = session.list_all_prompts().await.unwrap();
            assert_eq!(
                serde_json::to_value(&prompts).unwrap(),
                json!([{
                    "name": "workshop",
                    "title": "Haiku workshop",
                    "description": "Starts a conversation that drafts haiku with the user.",
                    "arguments": [
                        {"name": "topic", "description": "What the haiku is about.", "required": true},
                        {"name": "mood", "description": "The tone of the poems.", "required": false},
                        {"name": "drafts", "description": "How many drafts to offer.", "required": false},
                    ],
                }]),
                "{at}"
            );
            let filled = session
                .get_prompt(workshop(json!({"topic": "frogs", "drafts": "2"})))
                .await
                .unwrap();
            assert_eq!(
                serde_json::to_value(&filled.messages).unwrap(),
                json!([
                    {"role": "user", "content": {"type": "text", "text": "Let us write 2 calm haiku about frogs."}},
                    {"role": "assistant", "content": {"type": "text", "text": "Gladly. Which image should the first one open with?"}},
                ]),
                "{at}"
            );
            // Each string argument is converted to its hint, or refused saying why.
            for (arguments, why) in [
                (json!({}), "needs the argument `topic`"),
                (
                    json!({"topic": "x", "mood": "grim"}),
                    "`mood` must be one of",
                ),
                (
                    json!({"topic": "x", "drafts": "two"}),
                    "`drafts` must be a whole number",
                ),
                (
                    json!({"topic": "x", "drafts": "0"}),
                    "`drafts` must be at least 1",
                ),
                (
                    json!({"topic": "x", "rhyme": "yes"}),
                    "has no argument `rhyme`",
                ),
            ] {
                let (code, message) = refusal(
                    session
                        .get_prompt(workshop(arguments.clone()))
                        .await
                        .unwrap_err(),
                );
                assert_eq!(code, ErrorCode::INVALID_PARAMS, "{at}: {arguments}");
                assert!(message.contains(why), "{at}: {arguments}: {message}");
            }

            // `@resource`: a fixed URI (data sent as JSON) and a template.
            let resources = session.list_all_resources().await.unwrap();
            assert_eq!(
                serde_json::to_value(&resources).unwrap(),
                json!([{"uri": "haiku://forms", "name": "forms",
                        "description": "Syllables per line of each short form.",
                        "mimeType": "application/json"}]),
                "{at}"
            );
            let templates = session.list_all_resource_templates().await.unwrap();
            assert_eq!(
                templates[0].uri_template, "haiku://forms/{form}/lines/{line}",
                "{at}"
            );
            let read = |uri: &str| session.read_resource(ReadResourceRequestParams::new(uri));
            let forms = read("haiku://forms").await.unwrap();
            let ResourceContents::TextResourceContents {
                text, mime_type, ..
            } = &forms.contents[0]
            else {
                panic!("{at}: {forms:?}")
            };
            assert_eq!(mime_type.as_deref(), Some("application/json"), "{at}");
            assert_eq!(
                serde_json::from_str::<Value>(text).unwrap()["tanka"],
                json!([5, 7, 5, 7, 7])
            );
            let line = read("haiku://forms/tanka/lines/4").await.unwrap();
            assert!(
                matches!(&line.contents[0], ResourceContents::TextResourceContents { text, uri, .. }
                    if text == "7" && uri == "haiku://forms/tanka/lines/4"),
                "{at}: {line:?}"
            );
            // Variables are percent-decoded.
            let escaped = read("haiku://forms/tank%61/lines/5").await.unwrap();
            assert!(
                matches!(&escaped.contents[0], ResourceContents::TextResourceContents { text, .. }
                    if text == "7"),
                "{at}: {escaped:?}"
            );
            // Not found: the plugin's own `ResourceNotFound`, and a value
            // that fits no hint. The host answers with the revision's code
            // and the URI (the plugin's reason goes to the host's log).
            let not_found = if modern {
                ErrorCode::INVALID_PARAMS
            } else {
                ErrorCode::RESOURCE_NOT_FOUND
            };
            for uri in [
                "haiku://forms/haiku/lines/4",
                "haiku://forms/sonnet/lines/1",
                "haiku://forms/haiku/lines/first",
            ] {
                let rmcp::service::ServiceError::McpError(error) = read(uri).await.unwrap_err()
                else {
                    panic!("{at}: {uri}")
                };
                assert_eq!(error.code, not_found, "{at}: {uri}");
                assert_eq!(error.data.unwrap()["uri"], uri, "{at}");
            }

            // Completions: the values of a Literal hint, for prompts and templates.
            let complete = |reference: Reference, name: &str, value: &str| {
                session.complete(CompleteRequestParams::new(
                    reference,
                    ArgumentInfo::new(name, value),
                ))
            };
            let moods = complete(Reference::for_prompt("workshop"), "mood", "")
                .await
                .unwrap();
            assert_eq!(moods.completion.values, ["calm", "playful", "dark"], "{at}");
            let forms = complete(
                Reference::for_resource("haiku://forms/{form}/lines/{line}"),
                "form",
                "t",
            )
            .await
            .unwrap();
            assert_eq!(forms.completion.values, ["tanka"], "{at}");
            let free = complete(Reference::for_prompt("workshop"), "topic", "fr")
                .await
                .unwrap();
            assert!(free.completion.values.is_empty(), "{at}");
        }
    }
}

/// Loads the Python SDK's `_offers` module without the package's
/// `__init__` (which needs a component's bindings), runs its URI template
/// matcher over every case of the table, and prints the cases it gets wrong
/// as a JSON list.
const PYTHON_TEMPLATE_CASES: &str = r#"
import importlib, json, sys, types
sdk, table = sys.argv[1], sys.argv[2]
package = types.ModuleType("wasm_mcp")
package.__path__ = [sdk]
sys.modules["wasm_mcp"] = package
offers = importlib.import_module("wasm_mcp._offers")
wrong = []
with open(table, encoding="utf-8") as cases:
    for case in json.load(cases):
        got = offers.match_template(offers.parse_template(case["template"]), case["uri"])
        if got != case["expect"]:
            wrong.append(f"{case['why']}: {case['template']!r} gave {str(got)[:200]}")
print(json.dumps(wrong))
"#;

/// The Python SDK's matcher agrees with the host's and the other SDKs' on
/// the shared table (linear time, percent-decoding, malformed escapes, the
/// 8 KiB limit), run with the same `python3` the SDK's venv comes from.
#[test]
fn the_python_sdk_matches_uri_templates_as_the_shared_table_says() {
    let root = repo_root();
    let output = sdks::run(
        std::process::Command::new("python3")
            .arg("-c")
            .arg(PYTHON_TEMPLATE_CASES)
            .arg(root.join("plugins/python-sdk/wasm_mcp"))
            .arg(root.join("tests/cases/uri_templates.json")),
    );
    let wrong: Vec<String> = serde_json::from_str(output.trim())
        .unwrap_or_else(|e| panic!("the case runner printed {output:?}: {e}"));
    assert!(
        wrong.is_empty(),
        "the Python SDK disagrees with tests/cases/uri_templates.json:\n{}",
        wrong.join("\n")
    );
}
