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
    // All 72 calls come from one address, one client: let it hold them all.
    let server = HttpServer::start_with(
        Some(&workspace.config()),
        workspace.dir.path(),
        &["--max-client-calls", "100"],
    );
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

/// A raw `initialize` POST to `url`, as a browser page or a script could send it.
fn raw_initialize(url: &str) -> reqwest::RequestBuilder {
    reqwest::Client::new()
        .post(url)
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .body(
            json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                "protocolVersion": "2025-11-25", "capabilities": {},
                "clientInfo": {"name": "raw", "version": "1"}
            }})
            .to_string(),
        )
}

#[tokio::test]
async fn loopback_looking_hosts_and_origins_are_refused_and_open_no_session() {
    let workspace = Workspace::standard();
    // One session at most: one opened by a refused request would leave
    // none for the real client at the end.
    let server = HttpServer::start_with(
        Some(&workspace.config()),
        workspace.dir.path(),
        &["--max-sessions", "1"],
    );
    let port = reqwest::Url::parse(&server.url).unwrap().port().unwrap();
    for origin in [
        "http://[::1].evil.test".to_string(),
        format!("http://[::1].evil.test:{port}"),
        "http://localhost:80.evil.test".to_string(),
        "http://127.0.0.1.evil.test".to_string(),
        "null".to_string(),
    ] {
        let refused = raw_initialize(&server.url)
            .header("origin", &origin)
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 403, "Origin {origin}");
        assert!(refused.headers().get("mcp-session-id").is_none());
        let message = refused.text().await.unwrap();
        assert!(message.contains("Origin"), "{origin}: {message}");
    }
    // Not `host[:port]` at all: a malformed Host is a bad request (RFC 9112).
    for host in [
        format!("[::1]evil.test:{port}"),
        format!("[::1].evil.test:{port}"),
        format!("localhost:{port}.evil.test"),
        format!("127.0.0.1:{port}:{port}"),
    ] {
        let refused = raw_initialize(&server.url)
            .header("host", &host)
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 400, "Host {host}");
        assert!(refused.headers().get("mcp-session-id").is_none());
        let message = refused.text().await.unwrap();
        assert!(message.contains("Host"), "{host}: {message}");
    }
    // Well formed, but not this server's name.
    for host in [
        format!("localhost.evil.test:{port}"),
        format!("127.0.0.1.evil.test:{port}"),
    ] {
        let refused = raw_initialize(&server.url)
            .header("host", &host)
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 403, "Host {host}");
    }

    let accepted = raw_initialize(&server.url)
        .header("origin", "http://localhost:5173")
        .header("host", format!("localhost:{port}"))
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status(), 200, "the one session is still free");
    let session = accepted.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_string();
    let _ = accepted.bytes().await;
    let initialized = reqwest::Client::new()
        .post(&server.url)
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .header("mcp-protocol-version", "2025-11-25")
        .header("mcp-session-id", session)
        .body(r#"{"jsonrpc": "2.0", "method": "notifications/initialized"}"#)
        .send()
        .await
        .unwrap();
    assert!(
        initialized.status().is_success(),
        "{}",
        initialized.status()
    );
    let over = raw_initialize(&server.url).send().await.unwrap();
    assert_eq!(over.status(), 503, "and the limit of one is in force");
}

#[tokio::test]
async fn a_json_rpc_batch_gets_a_json_rpc_error_not_silence() {
    let workspace = Workspace::standard();
    let server = HttpServer::start(Some(&workspace.config()), workspace.dir.path());
    let batch = json!([
        {"jsonrpc": "2.0", "id": 1, "method": "ping"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
    ]);
    let without_session = reqwest::Client::new()
        .post(&server.url)
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .body(batch.to_string())
        .send()
        .await
        .unwrap();
    let client = BareClient::connect(&server.url).await;
    let in_session = client.post(&batch).send().await.unwrap();
    for response in [without_session, in_session] {
        assert_eq!(response.status(), 400);
        assert_eq!(response.headers()["content-type"], "application/json");
        let answer: serde_json::Value = response.json().await.unwrap();
        assert_eq!(answer["jsonrpc"], "2.0", "{answer}");
        assert_eq!(answer["id"], serde_json::Value::Null, "{answer}");
        assert_eq!(answer["error"]["code"], -32600, "{answer}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("batches") && message.contains("2025-06-18"),
            "{message}"
        );
    }
}
