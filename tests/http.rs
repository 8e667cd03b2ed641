//! Streamable HTTP specifics: the embedded default as the seed serves it,
//! session isolation under concurrency, and sampling for clients that never
//! open the standalone GET stream.
#![allow(deprecated)]

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;

#[tokio::test]
async fn the_embedded_default_serves_the_log_archiver_into_the_working_folder() {
    let workspace = Workspace::new();
    let server = HttpServer::start(None, workspace.dir.path());
    let client = ScriptedClient::replying("A deadlock between two transactions.");
    let session = server.connect(client.clone()).await;
    let tools = session.list_all_tools().await.unwrap();
    assert_eq!(tools.len(), 1);
    assert_eq!(tools[0].name, "process_log_entry");

    let result = call(&session, "process_log_entry", json!({"log_line": DEADLOCK})).await;
    assert_eq!(
        text(&result),
        "Success: Log analyzed and appended to 'incident_report.txt'."
    );
    assert_eq!(
        workspace.read("incident_report.txt"),
        Some(seed_report(
            DEADLOCK,
            "A deadlock between two transactions."
        ))
    );
    assert_eq!(client.asked.lock().unwrap()[0].max_tokens, 100);
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_sessions_each_receive_only_their_own_sampling_requests() {
    let workspace = Workspace::standard();
    let server = HttpServer::start(Some(&workspace.config()), workspace.dir.path());
    const SESSIONS: usize = 24;
    const CALLS: usize = 3;
    let names: Vec<String> = (0..SESSIONS).map(|i| format!("client{i:02}")).collect();

    // Each answers slowly enough that all sessions' calls overlap.
    let clients: Vec<ScriptedClient> = names
        .iter()
        .map(|name| {
            ScriptedClient::replying(&format!("answered by {name}")).slow(Duration::from_millis(50))
        })
        .collect();
    let mut sessions = Vec::new();
    for client in &clients {
        sessions.push(server.connect(client.clone()).await);
    }

    let mut calls = Vec::new();
    for (session, name) in sessions.iter().zip(&names) {
        for i in 0..CALLS {
            calls.push(async move {
                let line = format!("{name} error {i}");
                let result = call(session, "process_log_entry", json!({"log_line": line})).await;
                assert_eq!(result.is_error, Some(false), "{}", text(&result));
            });
        }
    }
    futures::future::join_all(calls).await;

    for (client, name) in clients.iter().zip(&names) {
        let prompts = client.prompts();
        assert_eq!(prompts.len(), CALLS, "{name} got {prompts:?}");
        for prompt in prompts {
            assert!(
                prompt.contains(&format!("{name} error")),
                "{name} was asked {prompt:?}"
            );
        }
    }
    let report = workspace.read("incident_report.txt").unwrap();
    for name in &names {
        for i in 0..CALLS {
            let expected =
                seed_report(&format!("{name} error {i}"), &format!("answered by {name}"));
            assert!(
                report.contains(&expected),
                "missing or torn report for {name} {i}:\n{report}"
            );
        }
    }
    assert_eq!(
        report.matches("--- INCIDENT REPORT ---").count(),
        SESSIONS * CALLS
    );
}

#[tokio::test]
async fn sampling_rides_the_tool_call_stream_for_clients_without_a_get_stream() {
    let workspace = Workspace::standard();
    let server = HttpServer::start(Some(&workspace.config()), workspace.dir.path());
    let client = BareClient::connect(&server.url).await;

    let response = client
        .post(
            &json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
                "name": "process_log_entry", "arguments": {"log_line": "bare error"}
            }}),
        )
        .send()
        .await
        .unwrap();
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream"),
        "a call that samples answers with an event stream"
    );
    let mut events = EventReader::new(response);

    let request = events.next_message().await;
    assert_eq!(request["method"], "sampling/createMessage", "{request}");
    assert_eq!(request["params"]["maxTokens"], 100);
    let answer = client
        .post(&json!({"jsonrpc": "2.0", "id": request["id"], "result": {
            "role": "assistant", "content": {"type": "text", "text": "bare answer"},
            "model": "bare-model", "stopReason": "endTurn"
        }}))
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_success(), "{}", answer.status());

    let result = events.next_message().await;
    assert_eq!(result["id"], 2, "{result}");
    assert_eq!(
        result["result"]["content"][0]["text"],
        "Success: Log analyzed and appended to 'incident_report.txt'."
    );
    assert_eq!(
        workspace.read("incident_report.txt"),
        Some(seed_report("bare error", "bare answer"))
    );
}
