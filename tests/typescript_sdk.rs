//! The TypeScript SDK (`plugins/ts-sdk`), installed from npm with its
//! example as npm workspaces, type-checked with `tsc` against the types
//! generated from the WIT, and built with componentize-js: the example's
//! port of the seed leaves the seed's report for the official Python SDK's
//! clients in both eras, and its other tools (zod schemas, the Sample
//! builder, structured output, errors, elicitation, rich content, progress
//! and logs) and its prompt and resources (`prompt()`, `resource()`,
//! completions) work over both transports in both eras.
#![allow(deprecated)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::sdks::ts_example;
use common::*;
use rmcp::model::{
    ArgumentInfo, CallToolRequestParams, CompleteRequestParams, ElicitResult, ElicitationAction,
    ErrorCode, GetPromptRequestParams, LoggingLevel, ReadResourceRequestParams, Reference,
    RequestMetaObject, ResourceContents, SetLevelRequestParams,
};
use serde_json::{Value, json};

const SUCCESS: &str = "Success: Log analyzed and appended to 'incident_report.txt'.";

fn example_config() -> String {
    format!(
        "[[plugin]]\ncomponent = {:?}\nappend = [\"incident_report.txt\", \"incidents.txt\"]\n",
        ts_example()
    )
}

#[test]
fn the_seed_ported_to_typescript_leaves_the_seeds_report_for_both_eras_clients() {
    let answer = "Two transactions waited on each other's locks, so one was aborted.";
    for version in ["1.30.0", "2.3.0"] {
        let python = python_with_mcp(version);
        let workspace = Workspace::with_config(&example_config());
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
}

/// The model rates disk entries high and shrugs at anything else; the
/// user files the first incident (paged) and declines the second.
fn model_and_user() -> ScriptedClient {
    let asked = Arc::new(AtomicUsize::new(0));
    ScriptedClient::by_prompt(
        &[
            ("next line: disk", "High\nThe disk is full."),
            ("Rate this", "perhaps"),
        ],
        "Two transactions deadlocked.",
    )
    .eliciting(move |_| {
        Ok(if asked.fetch_add(1, Ordering::SeqCst) == 0 {
            let mut accepted = ElicitResult::new(ElicitationAction::Accept);
            accepted.content = Some(json!({"team": "storage", "page": true}));
            accepted
        } else {
            ElicitResult::new(ElicitationAction::Decline)
        })
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn the_typescript_example_works_over_both_transports_in_both_eras() {
    let config = example_config();
    for transport in TRANSPORTS {
        for modern in [false, true] {
            let context = format!("{transport:?}, modern={modern}");
            let workspace = Workspace::with_config(&config);
            let client = if modern {
                model_and_user().modern()
            } else {
                model_and_user()
            };
            let session = open(transport, &workspace, client.clone()).await;
            let session = &session.client;
            if !modern {
                session
                    .set_level(SetLevelRequestParams::new(LoggingLevel::Info))
                    .await
                    .unwrap();
            }

            // Schemas come from zod.
            let tools = session.list_all_tools().await.unwrap();
            let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
            assert_eq!(
                names,
                ["process_log_entry", "classify_log_entry", "assign_incident"],
                "{context}"
            );
            let classify = serde_json::to_value(&tools[1]).unwrap();
            assert_eq!(
                classify["inputSchema"],
                json!({
                    "type": "object",
                    "properties": {
                        "log_line": {"type": "string", "minLength": 1,
                                     "description": "The raw log line to rate."},
                    },
                    "required": ["log_line"],
                    "additionalProperties": false,
                })
            );
            assert_eq!(
                classify["outputSchema"]["properties"]["severity"]["enum"],
                json!(["low", "medium", "high"])
            );
            assert_eq!(
                classify["annotations"],
                json!({"readOnlyHint": true, "openWorldHint": false})
            );

            // The seed's tool.
            let archived = call(session, "process_log_entry", json!({"log_line": "boom"})).await;
            assert_eq!(text(&archived), SUCCESS, "{context}");
            assert_eq!(
                workspace.read("incident_report.txt"),
                Some(seed_report("boom", "Two transactions deadlocked."))
            );

            // Structured output from the Sample builder, with progress and logs.
            let mut rate = CallToolRequestParams::new("classify_log_entry").with_arguments(
                json!({"log_line": "disk full"})
                    .as_object()
                    .unwrap()
                    .clone(),
            );
            // A modern call asks for logs in its `_meta`.
            let mut meta = RequestMetaObject::default();
            meta.set_log_level(LoggingLevel::Info);
            rate.meta = Some(meta);
            let rated = session.call_tool(rate).await.unwrap();
            assert_eq!(rated.is_error, Some(false), "{context}: {}", text(&rated));
            assert_eq!(
                rated.structured_content,
                Some(json!({"severity": "high", "reason": "The disk is full."}))
            );
            let asked = client.asked.lock().unwrap().last().unwrap().clone();
            assert_eq!(
                asked.system_prompt.as_deref(),
                Some("You are a Site Reliability Engineer. Answer in two lines.")
            );
            assert_eq!(asked.max_tokens, 80);
            assert_eq!(
                client.progress.lock().unwrap().clone(),
                [
                    (0.0, Some(1.0), Some("asking the model".to_string())),
                    (1.0, Some(1.0), Some("rated".to_string()))
                ],
                "{context}"
            );
            let rated = |logs: &[LogSeen]| {
                logs.iter().any(|(level, _, message)| {
                    level == "info" && message == "rated high: disk full"
                })
            };
            let logs = client.logs_once(rated).await;
            assert!(rated(&logs), "{context}: {logs:?}");

            // Errors: the tool's own, zod's, and the host's schema check.
            let shrug = call(session, "classify_log_entry", json!({"log_line": "x"})).await;
            assert_eq!(shrug.is_error, Some(true));
            assert!(
                text(&shrug).ends_with("the model did not rate the entry (it said \"perhaps\")"),
                "{}",
                text(&shrug)
            );
            for (arguments, expected) in [
                (json!({"log_line": 7}), "log_line"),
                (json!({"log_line": "x", "extra": 1}), "extra"),
                (json!({"log_line": ""}), "log_line"),
            ] {
                let wrong = call(session, "classify_log_entry", arguments.clone()).await;
                assert_eq!(wrong.is_error, Some(true), "{arguments}");
                assert!(
                    text(&wrong).contains(expected),
                    "{arguments}: {}",
                    text(&wrong)
                );
            }

            // Elicitation and rich content: filed, then declined.
            let filed = call(session, "assign_incident", json!({"summary": "disk full"})).await;
            let blocks = serde_json::to_value(&filed.content).unwrap();
            assert_eq!(blocks[0]["text"], "Filed for storage.", "{context}");
            assert_eq!(blocks[1]["type"], "resource_link");
            assert_eq!(blocks[1]["uri"], "file:///incidents.txt");
            assert_eq!(blocks[2]["type"], "resource");
            assert_eq!(blocks[2]["resource"]["uri"], "incident://latest");
            assert_eq!(blocks[2]["resource"]["text"], "disk full");
            assert_eq!(blocks[2]["annotations"]["audience"], json!(["user"]));
            let form: Value = serde_json::to_value(&client.elicited.lock().unwrap()[0]).unwrap();
            assert_eq!(form["message"], "Who owns \"disk full\"?");
            assert_eq!(
                form["requestedSchema"]["properties"]["team"]["enum"],
                json!(["storage", "network", "database"])
            );
            let declined = call(session, "assign_incident", json!({"summary": "again"})).await;
            assert_eq!(declined.is_error, Some(true));
            assert_eq!(text(&declined), "Not filed: the user chose to decline.");
            assert_eq!(
                workspace.read("incidents.txt").as_deref(),
                Some("storage (paged): disk full\n"),
                "{context}"
            );
        }
    }
}

fn triage(arguments: Value) -> GetPromptRequestParams {
    let mut request = GetPromptRequestParams::new("triage");
    request.arguments = arguments.as_object().cloned();
    request
}

#[tokio::test(flavor = "multi_thread")]
async fn the_typescript_example_offers_a_prompt_resources_and_completions() {
    let workspace = Workspace::with_config(&example_config());
    for transport in TRANSPORTS {
        for modern in [false, true] {
            let at = format!("{transport:?}, modern={modern}");
            let client = ScriptedClient::replying("x");
            let client = if modern { client.modern() } else { client };
            let session = open(transport, &workspace, client).await;
            let session = &session.client;

            // `prompt()`: arguments from the zod shape, with their descriptions.
            let prompts = session.list_all_prompts().await.unwrap();
            assert_eq!(
                serde_json::to_value(&prompts).unwrap(),
                json!([{
                    "name": "triage",
                    "title": "Triage a log entry",
                    "description": "Starts a conversation that triages one log entry.",
                    "arguments": [
                        {"name": "log_line", "description": "The raw log line.", "required": true},
                        {"name": "audience", "description": "Who reads the answer.", "required": false},
                        {"name": "lines", "description": "How many lines to answer in.", "required": false},
                    ],
                }]),
                "{at}"
            );
            let filled = session
                .get_prompt(triage(json!({"log_line": "disk full", "lines": "2"})))
                .await
                .unwrap();
            assert_eq!(
                serde_json::to_value(&filled.messages).unwrap(),
                json!([
                    {"role": "user", "content": {"type": "text",
                        "text": "Explain this log entry to an engineer in 2 line(s): disk full"}},
                    {"role": "assistant", "content": {"type": "text", "text": "Which service wrote it?",
                        "annotations": {"audience": ["user"]}}},
                ]),
                "{at}"
            );
            // zod checks the string arguments, and says which one is wrong.
            for (arguments, why) in [
                (json!({}), "`log_line`"),
                (json!({"log_line": "x", "audience": "intern"}), "`audience`"),
                (json!({"log_line": "x", "lines": "many"}), "`lines`"),
                (json!({"log_line": "x", "lines": "9"}), "`lines`"),
                (json!({"log_line": "x", "tone": "dry"}), "tone"),
            ] {
                let (code, message) = refusal(
                    session
                        .get_prompt(triage(arguments.clone()))
                        .await
                        .unwrap_err(),
                );
                assert_eq!(code, ErrorCode::INVALID_PARAMS, "{at}: {arguments}");
                assert!(
                    message.starts_with("prompt `triage`: ") && message.contains(why),
                    "{at}: {arguments}: {message}"
                );
            }

            // `resource()`: a fixed URI (data sent as JSON) and a template.
            let resources = session.list_all_resources().await.unwrap();
            assert_eq!(
                serde_json::to_value(&resources).unwrap(),
                json!([{"uri": "runbook://index", "name": "runbooks",
                        "description": "The runbooks this plugin knows, with their step counts.",
                        "mimeType": "application/json"}]),
                "{at}"
            );
            let templates = session.list_all_resource_templates().await.unwrap();
            assert_eq!(
                templates[0].uri_template, "runbook://{name}/steps/{step}",
                "{at}"
            );
            let read = |uri: &str| session.read_resource(ReadResourceRequestParams::new(uri));
            let index = read("runbook://index").await.unwrap();
            let ResourceContents::TextResourceContents {
                text, mime_type, ..
            } = &index.contents[0]
            else {
                panic!("{at}: {index:?}")
            };
            assert_eq!(mime_type.as_deref(), Some("application/json"), "{at}");
            assert_eq!(
                serde_json::from_str::<Value>(text).unwrap(),
                json!({"disk": 3, "network": 2})
            );
            let step = read("runbook://disk/steps/2").await.unwrap();
            assert!(
                matches!(&step.contents[0], ResourceContents::TextResourceContents { text, uri, .. }
                    if text == "Rotate the logs." && uri == "runbook://disk/steps/2"),
                "{at}: {step:?}"
            );
            // Variables are percent-decoded.
            let escaped = read("runbook://dis%6B/steps/1").await.unwrap();
            assert!(
                matches!(&escaped.contents[0], ResourceContents::TextResourceContents { text, .. }
                    if text == "Find the largest files."),
                "{at}: {escaped:?}"
            );
            // The handler's `ResourceNotFound` (or a malformed escape) is MCP's "not found", in the
            // revision's own code, with the URI.
            let not_found = if modern {
                ErrorCode::INVALID_PARAMS
            } else {
                ErrorCode::RESOURCE_NOT_FOUND
            };
            for uri in [
                "runbook://disk/steps/4",
                "runbook://power/steps/1",
                "runbook://%E0%A4%A/steps/1",
            ] {
                let rmcp::service::ServiceError::McpError(error) = read(uri).await.unwrap_err()
                else {
                    panic!("{at}: {uri}")
                };
                assert_eq!(error.code, not_found, "{at}: {uri}");
                assert_eq!(error.data.unwrap()["uri"], uri, "{at}");
            }

            // Completions: a prompt's `z.enum`, and a template's own list.
            let complete = |reference: Reference, name: &str, value: &str| {
                session.complete(CompleteRequestParams::new(
                    reference,
                    ArgumentInfo::new(name, value),
                ))
            };
            let audiences = complete(Reference::for_prompt("triage"), "audience", "")
                .await
                .unwrap();
            assert_eq!(audiences.completion.values, ["engineer", "manager"], "{at}");
            let names = complete(
                Reference::for_resource("runbook://{name}/steps/{step}"),
                "name",
                "n",
            )
            .await
            .unwrap();
            assert_eq!(names.completion.values, ["network"], "{at}");
            let free = complete(Reference::for_prompt("triage"), "log_line", "d")
                .await
                .unwrap();
            assert!(free.completion.values.is_empty(), "{at}");
        }
    }
}

/// Bundles the TypeScript SDK's `offers.ts` for node with the SDK's own
/// esbuild, runs its URI template matcher over every case of the table,
/// and prints the cases it gets wrong as a JSON list.
const TS_TEMPLATE_CASES: &str = r#"
import { build } from 'esbuild';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [offers, table] = process.argv.slice(2);
const bundled = await build({
  stdin: { contents: `export { parseTemplate, matchTemplate } from ${JSON.stringify(offers)};`, resolveDir: process.cwd(), loader: 'js' },
  bundle: true,
  format: 'esm',
  platform: 'node',
  external: ['wasm-mcp:*'],
  write: false,
  logLevel: 'error',
});
const scratch = mkdtempSync(join(tmpdir(), 'uri-template-cases-'));
let matcher;
try {
  const module = join(scratch, 'offers.mjs');
  writeFileSync(module, bundled.outputFiles[0].text);
  matcher = await import(pathToFileURL(module).href);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
const shown = (values) => (values === null ? 'null' : JSON.stringify(Object.keys(values).sort().map((key) => [key, values[key]])));
const wrong = [];
for (const c of JSON.parse(readFileSync(table, 'utf8'))) {
  const got = matcher.matchTemplate(matcher.parseTemplate(c.template), c.uri) ?? null;
  if (shown(got) !== shown(c.expect)) {
    wrong.push(`${c.why}: ${JSON.stringify(c.template)} gave ${shown(got).slice(0, 200)}`);
  }
}
console.log(JSON.stringify(wrong));
"#;

/// The TypeScript SDK's matcher agrees with the host's and the other SDKs'
/// on the shared table (linear time, percent-decoding, malformed escapes,
/// the 8 KiB limit).
#[test]
fn the_typescript_sdk_matches_uri_templates_as_the_shared_table_says() {
    let workspace = sdks::node_workspace();
    // In the workspace, so `esbuild` and `zod` resolve from its node_modules.
    let script = workspace.join(format!("uri-template-cases-{}.mjs", std::process::id()));
    std::fs::write(&script, TS_TEMPLATE_CASES).unwrap();
    let output = sdks::run(
        std::process::Command::new("node")
            .current_dir(&workspace)
            .arg(&script)
            .arg(workspace.join("ts-sdk/src/offers.ts"))
            .arg(repo_root().join("tests/cases/uri_templates.json")),
    );
    let _ = std::fs::remove_file(&script);
    let wrong: Vec<String> = serde_json::from_str(output.trim())
        .unwrap_or_else(|e| panic!("the case runner printed {output:?}: {e}"));
    assert!(
        wrong.is_empty(),
        "the TypeScript SDK disagrees with tests/cases/uri_templates.json:\n{}",
        wrong.join("\n")
    );
}
