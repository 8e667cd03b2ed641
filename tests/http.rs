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

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_drains_new_requests_get_503_and_running_calls_finish() {
    let workspace = Workspace::with_config(&format!(
        "[[plugin]]\ncomponent = {:?}\nappend = [\"out.txt\"]\n",
        component("probe")
    ));
    let mut server = HttpServer::start_with(
        Some(&workspace.config()),
        workspace.dir.path(),
        &["--shutdown-grace-s", "10"],
    );
    let health = server.url.replace("/mcp", "/healthz");
    let http = reqwest::Client::new();
    let ok = http.get(&health).send().await.unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.text().await.unwrap(), "ok\n");

    let client = server.connect(ScriptedClient::without_sampling()).await;
    let running = {
        let peer = client.peer().clone();
        tokio::spawn(async move {
            let arguments = json!({ "ms": 1500, "path": "out.txt", "text": "finished" });
            peer.call_tool(
                rmcp::model::CallToolRequestParams::new("probe_sleep")
                    .with_arguments(arguments.as_object().unwrap().clone()),
            )
            .await
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &server.pid().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    tokio::time::sleep(Duration::from_millis(200)).await;

    let draining = http.get(&health).send().await.unwrap();
    assert_eq!(
        draining.status(),
        503,
        "the balancer is told to stop sending work"
    );
    let refused = http
        .post(&server.url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 503);
    assert_eq!(refused.headers()["retry-after"], "1");

    let finished = running
        .await
        .unwrap()
        .expect("the running call was cut off");
    assert_eq!(text(&finished), "slept");
    assert_eq!(workspace.read("out.txt").as_deref(), Some("finished"));
    let started = std::time::Instant::now();
    while server.is_running() {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the server did not exit once its running call finished"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
