//! Hostile and unlucky clients: cancellation, disconnects, floods, bad
//! input and HTTP requests the host must refuse. The host keeps serving and
//! nothing is half-written.
#![allow(deprecated)]

mod common;

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use rmcp::model::{CallToolRequest, CallToolRequestParams, ClientRequest};
use rmcp::service::PeerRequestOptions;
use serde_json::{Value, json};

fn tool_request(tool: &str, arguments: Value) -> ClientRequest {
    let Value::Object(arguments) = arguments else {
        panic!()
    };
    ClientRequest::CallToolRequest(CallToolRequest::new(
        CallToolRequestParams::new(tool.to_string()).with_arguments(arguments),
    ))
}

#[tokio::test(flavor = "multi_thread")]
async fn cancelling_a_call_stops_the_plugin_and_cancels_its_sampling_request() {
    for transport in TRANSPORTS {
        let workspace = Workspace::standard();
        let client = ScriptedClient::replying("late").slow(Duration::from_millis(1500));
        let session = open(transport, &workspace, client.clone()).await;

        let handle = session
            .client
            .peer()
            .send_request_with_option(
                tool_request("process_log_entry", json!({"log_line": "cancel me"})),
                PeerRequestOptions::no_options(),
            )
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(
            client.asked.lock().unwrap().len(),
            1,
            "{transport:?}: sampling is in flight"
        );
        handle
            .cancel(Some("the user pressed stop".into()))
            .await
            .unwrap();

        // Past the moment the client's (late) answer arrives.
        tokio::time::sleep(Duration::from_millis(2000)).await;
        assert!(
            !workspace.path("incident_report.txt").exists(),
            "{transport:?}: nothing may be appended after cancellation"
        );
        assert_eq!(
            client.cancelled.lock().unwrap().len(),
            1,
            "{transport:?}: the host must cancel its sampling request toward the client"
        );
        let after = call(&session.client, "probe_result", json!({"bytes": 1})).await;
        assert_eq!(text(&after), "r", "{transport:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn cancelling_a_busy_call_stops_it_before_it_appends() {
    let workspace = Workspace::standard();
    let session = open(Transport::Stdio, &workspace, ScriptedClient::replying("x")).await;
    let handle = session
        .client
        .peer()
        .send_request_with_option(
            tool_request(
                "probe_sleep",
                json!({"ms": 1000, "path": "probe.txt", "text": "woke"}),
            ),
            PeerRequestOptions::no_options(),
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    handle.cancel(None).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(!workspace.path("probe.txt").exists());
    // Uncancelled, the same call does append: the check above can fail.
    let done = call(
        &session.client,
        "probe_sleep",
        json!({"ms": 10, "path": "probe.txt", "text": "woke"}),
    )
    .await;
    assert_eq!(text(&done), "slept");
    assert_eq!(workspace.read("probe.txt").as_deref(), Some("woke"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_modern_client_closing_the_stream_stops_the_plugin() {
    let workspace = Workspace::standard();
    let server = HttpServer::start(Some(&workspace.config()), workspace.dir.path());
    let body = json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {
        "name": "probe_sleep", "arguments": {"ms": 1000, "path": "probe.txt", "text": "woke"},
        "_meta": {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientInfo": {"name": "raw", "version": "1"},
            "io.modelcontextprotocol/clientCapabilities": {}
        }
    }});
    let post = || {
        reqwest::Client::new()
            .post(&server.url)
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json")
            .header("mcp-protocol-version", "2026-07-28")
            .header("mcp-method", "tools/call")
            .header("mcp-name", "probe_sleep")
            .body(body.to_string())
    };
    // Give up after 200 ms: the connection closes with the call mid-sleep.
    let abandoned = tokio::time::timeout(Duration::from_millis(200), async {
        let response = post().send().await.unwrap();
        response.bytes().await
    })
    .await;
    assert!(abandoned.is_err(), "the call should still be running");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        !workspace.path("probe.txt").exists(),
        "the abandoned call appended"
    );

    // Waited for, the same request completes and appends.
    let finished = post().send().await.unwrap().text().await.unwrap();
    assert!(finished.contains("slept"), "{finished}");
    assert_eq!(workspace.read("probe.txt").as_deref(), Some("woke"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_disconnecting_mid_call_leaves_the_host_serving_and_nothing_half_written() {
    let workspace = Workspace::standard();
    let mut server = HttpServer::start(Some(&workspace.config()), workspace.dir.path());
    // A client that receives its sampling request and vanishes without a word.
    let leaving = BareClient::connect(&server.url).await;
    let response = leaving
        .post(
            &json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
                "name": "process_log_entry", "arguments": {"log_line": "left"}
            }}),
        )
        .send()
        .await
        .unwrap();
    let mut events = EventReader::new(response);
    assert_eq!(
        events.next_message().await["method"],
        "sampling/createMessage"
    );
    drop(events);
    drop(leaving);

    let staying = server.connect(ScriptedClient::replying("fine")).await;
    let result = call(&staying, "process_log_entry", json!({"log_line": "stayed"})).await;
    assert_eq!(result.is_error, Some(false), "{}", text(&result));
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(server.is_running());
    assert_eq!(
        workspace.read("incident_report.txt"),
        Some(seed_report("stayed", "fine"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hundred_concurrent_calls_of_a_hundred_appends_leave_ten_thousand_intact_records() {
    let workspace = Workspace::with_config(&format!(
        "[[plugin]]\ncomponent = {:?}\nappend = [\"logs/\"]\n[plugin.limits]\nconcurrent_calls = 128\ncpu_time_ms = 120000\n",
        component("probe")
    ));
    std::fs::create_dir(workspace.path("logs")).unwrap();
    let session = open(Transport::Stdio, &workspace, ScriptedClient::replying("x")).await;
    let calls = (0..100).map(|i| {
        let client = &session.client;
        async move {
            let result = call(
                client,
                "probe_append_many",
                json!({"path": "logs/load.log", "tag": format!("t{i:03}"), "count": 100}),
            )
            .await;
            assert_eq!(result.is_error, Some(false), "{}", text(&result));
        }
    });
    futures::future::join_all(calls).await;

    let written = workspace.read("logs/load.log").unwrap();
    let lines: Vec<&str> = written.lines().collect();
    assert_eq!(lines.len(), 10_000);
    assert!(written.ends_with('\n'));
    let filler = "x".repeat(40);
    let mut seen = HashSet::new();
    for line in &lines {
        let parts: Vec<&str> = line.split(' ').collect();
        assert!(
            parts.len() == 3 && parts[0].len() == 4 && parts[1].len() == 5 && parts[2] == filler,
            "torn record: {line:?}"
        );
        assert!(
            seen.insert((parts[0], parts[1])),
            "duplicate record {line:?}"
        );
    }
}

/// A raw POST to the server's endpoint.
fn raw_post(server: &HttpServer, body: &str) -> reqwest::RequestBuilder {
    reqwest::Client::new()
        .post(&server.url)
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .body(body.to_string())
}

fn initialize_body() -> String {
    json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "raw", "version": "1"}
    }})
    .to_string()
}

#[tokio::test]
async fn http_refuses_foreign_hosts_and_origins_and_oversized_bodies() {
    let workspace = Workspace::standard();
    let server = HttpServer::start_with(
        Some(&workspace.config()),
        workspace.dir.path(),
        &["--max-request-bytes", "4096"],
    );

    let rebinding = raw_post(&server, &initialize_body())
        .header("host", "evil.example:8000")
        .send()
        .await
        .unwrap();
    assert_eq!(
        rebinding.status(),
        403,
        "a foreign Host header (DNS rebinding)"
    );
    let foreign = raw_post(&server, &initialize_body())
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), 403, "a foreign browser Origin");
    let local = raw_post(&server, &initialize_body())
        .header("origin", "http://localhost:5173")
        .send()
        .await
        .unwrap();
    assert_eq!(local.status(), 200, "a loopback Origin is fine");

    let huge = raw_post(&server, &"x".repeat(10_000)).send().await.unwrap();
    assert_eq!(huge.status(), 413);
    let malformed = raw_post(&server, "{not json").send().await.unwrap();
    assert!(
        malformed.status().is_client_error(),
        "{}",
        malformed.status()
    );
    let still = raw_post(&server, &initialize_body()).send().await.unwrap();
    assert_eq!(still.status(), 200, "the server still serves");
}

#[tokio::test]
async fn a_bearer_token_is_required_on_every_request_when_set() {
    let workspace = Workspace::standard();
    let server = HttpServer::start_with(
        Some(&workspace.config()),
        workspace.dir.path(),
        &["--auth-token", "s3cret"],
    );
    let missing = raw_post(&server, &initialize_body()).send().await.unwrap();
    assert_eq!(missing.status(), 401);
    assert_eq!(missing.headers()["www-authenticate"], "Bearer");
    let wrong = raw_post(&server, &initialize_body())
        .bearer_auth("guess")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let right = raw_post(&server, &initialize_body())
        .bearer_auth("s3cret")
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), 200);
    assert!(
        !server.log.lock().unwrap().contains("s3cret"),
        "the token never reaches the log"
    );
}

#[test]
fn garbage_and_unknown_methods_over_stdio_get_errors_not_a_crash() {
    let workspace = Workspace::standard();
    let mut child = Command::new(binary())
        .env("WASM_MCP_CACHE_DIR", test_cache_dir())
        .current_dir(workspace.dir.path())
        .args(["serve", "--stdio", "--config"])
        .arg(workspace.config())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut send = |line: &str| {
        stdin.write_all(line.as_bytes()).unwrap();
        stdin.write_all(b"\n").unwrap();
        stdin.flush().unwrap();
    };
    send("this is not json");
    send(r#"{"jsonrpc": "2.0", "id": "x", "method": 42}"#);
    send(&initialize_body());
    send(r#"{"jsonrpc": "2.0", "method": "notifications/initialized"}"#);
    send(r#"{"jsonrpc": "2.0", "id": 2, "method": "no/such/method"}"#);
    send(
        r#"{"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "process_log_entry", "arguments": "not an object"}}"#,
    );
    send(r#"{"jsonrpc": "2.0", "id": 4, "method": "tools/list"}"#);

    let mut answers = std::collections::HashMap::new();
    let mut line = String::new();
    while answers.len() < 4 {
        line.clear();
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "the server exited: {answers:?}"
        );
        let message: Value = serde_json::from_str(&line).unwrap();
        if let Some(id) = message.get("id").filter(|id| id.is_number()) {
            answers.insert(id.as_i64().unwrap(), message);
        }
    }
    assert!(
        answers[&1]["result"]["serverInfo"]["name"] == "wasm-mcp",
        "{:?}",
        answers[&1]
    );
    assert_eq!(answers[&2]["error"]["code"], -32601, "{:?}", answers[&2]);
    assert!(answers[&3].get("error").is_some(), "{:?}", answers[&3]);
    assert!(
        answers[&4]["result"]["tools"].as_array().unwrap().len() >= 5,
        "{:?}",
        answers[&4]
    );
    drop(stdin);
    let _ = child.wait();
}
