//! The TypeScript SDK (`plugins/ts-sdk`), installed from npm with its
//! example as npm workspaces, type-checked with `tsc` against the types
//! generated from the WIT, and built with componentize-js: the example's
//! port of the seed leaves the seed's report for the official Python SDK's
//! clients in both eras, and its other tools (zod schemas, the Sample
//! builder, structured output, errors, elicitation, rich content, progress
//! and logs) work over both transports in both eras.
#![allow(deprecated)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::sdks::ts_example;
use common::*;
use rmcp::model::{
    CallToolRequestParams, ElicitResult, ElicitationAction, LoggingLevel, RequestMetaObject,
    SetLevelRequestParams,
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
