//! Tool behaviour over both transports: the real binary, real plugins built
//! from source, and rmcp's client answering sampling from a script.
#![allow(deprecated)]

mod common;

use common::*;
use serde_json::json;

#[tokio::test]
async fn tools_of_every_plugin_are_listed() {
    let workspace = Workspace::standard();
    for transport in TRANSPORTS {
        let session = open(transport, &workspace, ScriptedClient::replying("x")).await;
        let tools = session.client.list_all_tools().await.unwrap();
        let names: std::collections::BTreeSet<_> =
            tools.iter().map(|t| t.name.to_string()).collect();
        assert_eq!(names.len(), tools.len(), "no tool is listed twice");
        // The log archiver's one tool, the two-step plugin's, and the probe's 22.
        assert_eq!(names.len(), 24, "{transport:?}: {names:?}");
        for expected in [
            "process_log_entry",
            "summarize_and_grade",
            "probe_append",
            "probe_sleep",
        ] {
            assert!(
                names.contains(expected),
                "{transport:?}: {expected} missing from {names:?}"
            );
        }
        let archiver = tools
            .iter()
            .find(|t| t.name == "process_log_entry")
            .unwrap();
        assert_eq!(archiver.input_schema["required"], json!(["log_line"]));
        assert_eq!(
            archiver.input_schema["properties"]["log_line"]["type"],
            "string"
        );
        assert!(
            archiver
                .description
                .as_deref()
                .unwrap()
                .contains("Client's LLM")
        );
    }
}

#[tokio::test]
async fn process_log_entry_samples_the_seed_prompt_and_writes_the_seed_report() {
    for transport in TRANSPORTS {
        let workspace = Workspace::standard();
        let explanation =
            "Two transactions each waited on a lock the other held, so PostgreSQL aborted one.";
        let client = ScriptedClient::replying(explanation);
        let session = open(transport, &workspace, client.clone()).await;

        let result = call(
            &session.client,
            "process_log_entry",
            json!({"log_line": DEADLOCK}),
        )
        .await;
        assert_eq!(
            result.is_error,
            Some(false),
            "{transport:?}: {}",
            text(&result)
        );
        assert_eq!(
            text(&result),
            "Success: Log analyzed and appended to 'incident_report.txt'."
        );
        let second = call(
            &session.client,
            "process_log_entry",
            json!({"log_line": "disk full"}),
        )
        .await;
        assert_eq!(second.is_error, Some(false), "{}", text(&second));

        assert_eq!(
            workspace.read("incident_report.txt").as_deref(),
            Some(
                format!(
                    "{}{}",
                    seed_report(DEADLOCK, explanation),
                    seed_report("disk full", explanation)
                )
                .as_str()
            ),
            "{transport:?}"
        );
        let asked = client.asked.lock().unwrap().clone();
        assert_eq!(asked.len(), 2, "{transport:?}");
        assert_eq!(asked[0].max_tokens, 100);
        assert_eq!(asked[0].messages.len(), 1);
        assert_eq!(asked[0].system_prompt, None);
        assert_eq!(
            client.prompts()[0],
            format!(
                "You are a Site Reliability Engineer. Explain this log error in one concise sentence: {DEADLOCK}"
            )
        );
    }
}

#[tokio::test]
async fn a_client_without_sampling_gets_a_tool_error_and_nothing_is_written() {
    for transport in TRANSPORTS {
        let workspace = Workspace::standard();
        let session = open(transport, &workspace, ScriptedClient::without_sampling()).await;
        let result = call(
            &session.client,
            "process_log_entry",
            json!({"log_line": "boom"}),
        )
        .await;
        assert_eq!(result.is_error, Some(true), "{transport:?}");
        let message = text(&result);
        assert!(message.contains("log-archiver"), "{message}");
        assert!(
            message.contains("did not declare the MCP `sampling` capability"),
            "{message}"
        );
        assert!(!workspace.path("incident_report.txt").exists());
    }
}

#[tokio::test]
async fn a_declined_sampling_request_is_a_tool_error_and_nothing_is_written() {
    for transport in TRANSPORTS {
        let workspace = Workspace::standard();
        let client = ScriptedClient::declining();
        let session = open(transport, &workspace, client.clone()).await;
        let result = call(
            &session.client,
            "process_log_entry",
            json!({"log_line": "boom"}),
        )
        .await;
        assert_eq!(result.is_error, Some(true), "{transport:?}");
        assert!(text(&result).contains("declined"), "{}", text(&result));
        assert_eq!(client.asked.lock().unwrap().len(), 1);
        assert!(!workspace.path("incident_report.txt").exists());
    }
}

#[tokio::test]
async fn appends_outside_the_grants_are_denied_and_create_nothing() {
    for transport in TRANSPORTS {
        let workspace = Workspace::standard();
        let session = open(transport, &workspace, ScriptedClient::replying("x")).await;

        let allowed = call(
            &session.client,
            "probe_append",
            json!({"path": "probe.txt", "text": "a"}),
        )
        .await;
        assert_eq!(allowed.is_error, Some(false), "{}", text(&allowed));
        let inside = call(
            &session.client,
            "probe_append",
            json!({"path": "logs/today.log", "text": "b"}),
        )
        .await;
        assert_eq!(inside.is_error, Some(false), "{}", text(&inside));
        assert_eq!(workspace.read("probe.txt").as_deref(), Some("a"));
        assert_eq!(workspace.read("logs/today.log").as_deref(), Some("b"));

        // The log archiver's grant is not the probe's.
        let denied = call(
            &session.client,
            "probe_append",
            json!({"path": "incident_report.txt", "text": "x"}),
        )
        .await;
        assert_eq!(denied.is_error, Some(true), "{transport:?}");
        let message = text(&denied);
        assert!(message.contains("Denied"), "{message}");
        assert!(
            message.contains("`incident_report.txt`"),
            "names the path: {message}"
        );
        assert!(
            message.contains("`probe.txt`") && message.contains("`logs/`"),
            "names the grants: {message}"
        );
        assert!(!workspace.path("incident_report.txt").exists());

        for escape in [
            "../escaped.txt",
            "/tmp/escaped.txt",
            "logs/../escaped.txt",
            "logs2/x.txt",
        ] {
            let denied = call(
                &session.client,
                "probe_append",
                json!({"path": escape, "text": "x"}),
            )
            .await;
            assert_eq!(denied.is_error, Some(true), "{escape} over {transport:?}");
            assert!(
                text(&denied).contains("Denied"),
                "{escape}: {}",
                text(&denied)
            );
        }
        assert!(
            !workspace
                .dir
                .path()
                .parent()
                .unwrap()
                .join("escaped.txt")
                .exists()
        );
        assert!(!workspace.path("escaped.txt").exists());
        assert!(!workspace.path("logs2").exists());
    }
}

#[tokio::test]
async fn a_trapping_plugin_is_a_tool_error_and_the_host_keeps_serving() {
    for transport in TRANSPORTS {
        let workspace = Workspace::standard();
        let session = open(transport, &workspace, ScriptedClient::replying("fine")).await;
        let trapped = call(&session.client, "probe_trap", json!({})).await;
        assert_eq!(trapped.is_error, Some(true), "{transport:?}");
        let message = text(&trapped);
        assert!(message.starts_with("plugin `probe` crashed"), "{message}");

        let after = call(
            &session.client,
            "probe_sample",
            json!({"prompt": "still there?"}),
        )
        .await;
        assert_eq!(after.is_error, Some(false), "{}", text(&after));
        assert_eq!(text(&after), "fine");
    }
}

#[tokio::test]
async fn bad_arguments_and_unknown_tools_get_clear_errors() {
    for transport in TRANSPORTS {
        let workspace = Workspace::standard();
        let session = open(transport, &workspace, ScriptedClient::replying("x")).await;
        let wrong_type = call(
            &session.client,
            "process_log_entry",
            json!({"log_line": 42}),
        )
        .await;
        assert_eq!(wrong_type.is_error, Some(true), "{transport:?}");
        assert!(
            text(&wrong_type).contains("refused the arguments"),
            "{}",
            text(&wrong_type)
        );

        let unknown = session
            .client
            .call_tool(rmcp::model::CallToolRequestParams::new("no_such_tool"))
            .await
            .unwrap_err();
        assert!(
            unknown.to_string().contains("unknown tool `no_such_tool`"),
            "{unknown}"
        );
    }
}

#[tokio::test]
async fn the_sampling_request_carries_what_the_plugin_asked() {
    let workspace = Workspace::standard();
    let client = ScriptedClient::replying("ok");
    let session = open(Transport::Stdio, &workspace, client.clone()).await;
    let result = call(
        &session.client,
        "probe_sample",
        json!({"prompt": "hello", "system": "be terse", "max_tokens": 7}),
    )
    .await;
    assert_eq!(text(&result), "ok");
    let asked = client.asked.lock().unwrap().clone();
    assert_eq!(asked[0].system_prompt.as_deref(), Some("be terse"));
    assert_eq!(asked[0].max_tokens, 7);
    assert_eq!(client.prompts(), ["hello"]);
}

#[tokio::test]
async fn one_component_can_be_loaded_twice_under_tool_prefixes() {
    let archiver = component("log-archiver");
    let workspace = Workspace::with_config(&format!(
        "[[plugin]]\nname = \"ops\"\ntool_prefix = \"ops_\"\ncomponent = {archiver:?}\nappend = [\"incident_report.txt\"]\n\
         [[plugin]]\nname = \"dev\"\ntool_prefix = \"dev_\"\ncomponent = {archiver:?}\nappend = [\"incident_report.txt\"]\n"
    ));
    let session = open(
        Transport::Stdio,
        &workspace,
        ScriptedClient::replying("prefixed"),
    )
    .await;
    let mut names: Vec<_> = session
        .client
        .list_all_tools()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name.to_string())
        .collect();
    names.sort();
    assert_eq!(names, ["dev_process_log_entry", "ops_process_log_entry"]);
    let result = call(
        &session.client,
        "dev_process_log_entry",
        json!({"log_line": "x"}),
    )
    .await;
    assert_eq!(result.is_error, Some(false), "{}", text(&result));
    assert_eq!(
        workspace.read("incident_report.txt"),
        Some(seed_report("x", "prefixed"))
    );
}
