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
    // The abandoned call waits for its sampling answer 2 s, then ends.
    let workspace = Workspace::with_config(&format!(
        "[[plugin]]\ncomponent = {:?}\nappend = [\"incident_report.txt\"]\n[plugin.sampling]\ntimeout_s = 2\n",
        component("log-archiver")
    ));
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
    // Judge the file only once the abandoned call has really ended.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !server.log.lock().unwrap().contains("call failed") {
        assert!(
            std::time::Instant::now() < deadline,
            "the abandoned call never ended:\n{}",
            server.log.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(server.log.lock().unwrap().contains("TimedOut"));
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
    let longer = raw_post(&server, &initialize_body())
        .bearer_auth("s3cretX")
        .send()
        .await
        .unwrap();
    assert_eq!(longer.status(), 401);
    let right = raw_post(&server, &initialize_body())
        .bearer_auth("s3cret")
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), 200);
    let lowercase = raw_post(&server, &initialize_body())
        .header("authorization", "bearer s3cret")
        .send()
        .await
        .unwrap();
    assert_eq!(lowercase.status(), 200, "the scheme is case-insensitive");
    let log = server.log.lock().unwrap().clone();
    assert!(!log.contains("s3cret"), "the token never reaches the log");
    assert!(
        log.contains("any user of this machine can read it"),
        "a token on the command line is warned about:\n{log}"
    );

    // From a file, with no warning.
    std::fs::write(workspace.path("token"), "from-a-file\n").unwrap();
    let token_file = workspace.path("token");
    let server = HttpServer::start_with(
        Some(&workspace.config()),
        workspace.dir.path(),
        &["--auth-token-file", token_file.to_str().unwrap()],
    );
    let right = raw_post(&server, &initialize_body())
        .bearer_auth("from-a-file")
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), 200);
    let wrong = raw_post(&server, &initialize_body())
        .bearer_auth("s3cret")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    assert!(!server.log.lock().unwrap().contains("can read it"));
}

/// A request nested far deeper than any JSON parser allows.
fn deeply_nested(id: i64) -> String {
    format!(
        r#"{{"jsonrpc": "2.0", "id": {id}, "method": "tools/call", "params": {{"name": "probe_result", "arguments": {{"x": {}1{}}}}}}}"#,
        "[".repeat(100_000),
        "]".repeat(100_000)
    )
}

#[test]
fn malformed_requests_over_stdio_each_get_their_json_rpc_error() {
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
    let _stop = KillOnDrop(child);
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
    send(&deeply_nested(5));
    send(
        r#"{"jsonrpc": "2.0", "id": 6, "method": "tools/call", "params": {"name": 42, "arguments": {}}}"#,
    );
    send(r#"{"jsonrpc": "2.0", "id": 7, "method": "tools/list", "params": {"cursor": "bogus"}}"#);
    send(r#"{"jsonrpc": "2.0", "id": 8, "method": "prompts/list"}"#);
    send(r#"{"jsonrpc": "2.0", "id": 9, "method": "resources/list"}"#);
    send(
        r#"{"jsonrpc": "2.0", "id": 10, "method": "completion/complete", "params": {"ref": {"type": "ref/prompt", "name": "x"}, "argument": {"name": "a", "value": "b"}}}"#,
    );

    // Read on a thread, so a request left unanswered fails the test instead
    // of hanging it.
    let (lines, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        while stdout.read_line(&mut line).is_ok_and(|n| n > 0) {
            let _ = lines.send(std::mem::take(&mut line));
        }
    });
    let mut answers = std::collections::HashMap::new();
    while answers.len() < 12 {
        let line = received
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("requests went unanswered; answered: {answers:?}"));
        let message: Value = serde_json::from_str(&line).unwrap();
        let id = message.get("id").cloned().unwrap_or(Value::Null);
        answers.insert(id.to_string(), message);
    }
    let error = |id: &str| {
        let answer = &answers[id];
        (
            answer["error"]["code"]
                .as_i64()
                .unwrap_or_else(|| panic!("{answer}")),
            answer["error"]["message"].as_str().unwrap().to_string(),
        )
    };
    assert_eq!(error("null").0, -32700, "not JSON: a parse error");
    assert_eq!(error("\"x\"").0, -32600, "a method that is no string");
    assert_eq!(answers["1"]["result"]["serverInfo"]["name"], "wasm-mcp");
    assert_eq!(error("2").0, -32601);
    let (code, message) = error("3");
    assert_eq!(code, -32602, "{message}");
    assert!(
        message.contains("`params.arguments` must be a JSON object"),
        "{message}"
    );
    assert!(answers["4"]["result"]["tools"].as_array().unwrap().len() >= 5);
    let (code, message) = error("5");
    assert_eq!(code, -32600, "{message}");
    assert!(message.contains("nested more than 128 levels"), "{message}");
    let (code, message) = error("6");
    assert_eq!(code, -32602, "{message}");
    assert!(
        message.contains("`params.name` must be a string"),
        "{message}"
    );
    let (code, message) = error("7");
    assert_eq!(code, -32602, "{message}");
    assert!(message.contains("unknown cursor"), "{message}");
    for undeclared in ["8", "9", "10"] {
        assert_eq!(
            error(undeclared).0,
            -32601,
            "{undeclared}: not declared, not served"
        );
    }
    drop(stdin);
}

/// Pipes are read and written on the event loop; anything else (here
/// regular files, as with `wasm-mcp serve --stdio < requests > answers`)
/// goes through tokio's threaded stdio. Both must answer every request.
#[test]
fn stdio_from_and_to_regular_files_answers_every_request() {
    let workspace = Workspace::standard();
    let requests = workspace.dir.path().join("requests.jsonl");
    let answers = workspace.dir.path().join("answers.jsonl");
    std::fs::write(
        &requests,
        [
            initialize_body(),
            r#"{"jsonrpc": "2.0", "method": "notifications/initialized"}"#.into(),
            r#"{"jsonrpc": "2.0", "id": 2, "method": "tools/list"}"#.into(),
            r#"{"jsonrpc": "2.0", "id": 3, "method": "ping"}"#.into(),
        ]
        .join("\n")
            + "\n",
    )
    .unwrap();
    let mut child = Command::new(binary())
        .env("WASM_MCP_CACHE_DIR", test_cache_dir())
        .current_dir(workspace.dir.path())
        .args(["serve", "--stdio", "--config"])
        .arg(workspace.config())
        .stdin(std::fs::File::open(&requests).unwrap())
        .stdout(std::fs::File::create(&answers).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let mut seen = HashSet::new();
    while seen.len() < 3 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        seen = std::fs::read_to_string(&answers)
            .unwrap()
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|answer| answer.get("result").is_some())
            .map(|answer| answer["id"].to_string())
            .collect();
    }
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(
        seen,
        HashSet::from(["1".to_string(), "2".to_string(), "3".to_string()]),
        "answers: {}",
        std::fs::read_to_string(&answers).unwrap()
    );
}

/// Kills the server when the test ends, passed or failed.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn malformed_requests_over_http_get_json_rpc_errors() {
    let workspace = Workspace::standard();
    let server = HttpServer::start(Some(&workspace.config()), workspace.dir.path());
    let client = BareClient::connect(&server.url).await;
    for (body, id, code) in [
        ("{not json".to_string(), Value::Null, -32700),
        (deeply_nested(11), json!(11), -32600),
        (
            r#"{"jsonrpc": "2.0", "id": 12, "method": 7}"#.to_string(),
            json!(12),
            -32600,
        ),
    ] {
        let response = client
            .post(&json!(null))
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{}", &body[..20.min(body.len())]);
        assert_eq!(response.headers()["content-type"], "application/json");
        let answer: Value = response.json().await.unwrap();
        assert_eq!(answer["jsonrpc"], "2.0");
        assert_eq!(answer["id"], id, "{answer}");
        assert_eq!(answer["error"]["code"], code, "{answer}");
    }
    // A well-formed request with bad params is the handler's: -32602.
    let response = client
        .post(&json!({"jsonrpc": "2.0", "id": 13, "method": "tools/call",
            "params": {"name": "probe_result", "arguments": [1, 2]}}))
        .send()
        .await
        .unwrap();
    let answer = EventReader::new(response).next_message().await;
    assert_eq!(answer["id"], 13);
    assert_eq!(answer["error"]["code"], -32602, "{answer}");

    // The typed client sees the same over HTTP and stdio, in both eras.
    for transport in TRANSPORTS {
        for client in [
            ScriptedClient::replying("x"),
            ScriptedClient::replying("x").modern(),
        ] {
            let modern = client.is_modern();
            let session = open(transport, &workspace, client).await;
            let bogus =
                rmcp::model::PaginatedRequestParams::default().with_cursor(Some("bogus".into()));
            let error = session.client.list_tools(Some(bogus)).await.unwrap_err();
            assert!(
                error.to_string().contains("unknown cursor"),
                "{transport:?} modern={modern}: {error}"
            );
            let error = session.client.list_prompts(None).await.unwrap_err();
            assert!(
                error.to_string().contains("-32601") || error.to_string().contains("prompts/list"),
                "{transport:?} modern={modern}: {error}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_greedy_client_cannot_lock_out_a_polite_one() {
    let workspace = Workspace::standard();
    let server = HttpServer::start_with(
        Some(&workspace.config()),
        workspace.dir.path(),
        &["--max-client-calls", "4"],
    );
    // A legacy client whose LLM never answers holds four calls; its fifth
    // and sixth are refused.
    let greedy = ScriptedClient::replying("never").slow(Duration::from_secs(3600));
    let greedy_session = server.connect(greedy.clone()).await;
    let mut pending = Vec::new();
    for i in 0..4 {
        let handle = greedy_session
            .peer()
            .send_request_with_option(
                tool_request(
                    "process_log_entry",
                    json!({"log_line": format!("greedy {i}")}),
                ),
                PeerRequestOptions::no_options(),
            )
            .await
            .unwrap();
        pending.push(handle);
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while greedy.asked.lock().unwrap().len() < 4 {
        assert!(
            std::time::Instant::now() < deadline,
            "the calls never started"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for _ in 0..2 {
        let more = call(
            &greedy_session,
            "process_log_entry",
            json!({"log_line": "more"}),
        );
        let refused = tokio::time::timeout(Duration::from_secs(20), more)
            .await
            .expect("a call over the client's share must be refused at once, not run");
        assert_eq!(refused.is_error, Some(true));
        assert!(
            text(&refused).contains("this client already has 4 calls running"),
            "{}",
            text(&refused)
        );
    }
    // Another address is another client (another session from this one
    // is not: see `one_address_is_one_client_however_many_sessions_it_opens`).
    let polite = ScriptedClient::replying("fine")
        .connect(transport_from(&server, 2))
        .await;
    let result = call(&polite, "process_log_entry", json!({"log_line": "polite"})).await;
    assert_eq!(result.is_error, Some(false), "{}", text(&result));

    // A 2026-07-28 client, too, is its address. Four parked calls it never
    // answers, and the fifth is refused...
    let modern_greedy = ScriptedClient::replying("x")
        .modern()
        .connect(transport_from(&server, 3))
        .await;
    for i in 0..4 {
        let request = rmcp::model::CallToolRequestParams::new("process_log_entry").with_arguments(
            json!({"log_line": format!("parked {i}")})
                .as_object()
                .unwrap()
                .clone(),
        );
        let parked = modern_greedy.call_tool_once(request).await.unwrap();
        assert!(
            matches!(parked, rmcp::model::CallToolResponse::InputRequired(_)),
            "call {i} parks"
        );
    }
    let request = rmcp::model::CallToolRequestParams::new("process_log_entry")
        .with_arguments(json!({"log_line": "fifth"}).as_object().unwrap().clone());
    let fifth = tokio::time::timeout(
        Duration::from_secs(20),
        modern_greedy.call_tool_once(request),
    );
    let rmcp::model::CallToolResponse::Complete(refused) =
        fifth.await.expect("refused at once").unwrap()
    else {
        panic!("the fifth call must be refused, not parked")
    };
    assert!(
        text(&refused).contains("this client already has 4 calls"),
        "{}",
        text(&refused)
    );
    // ...while a client from another address is served.
    let modern_polite = ScriptedClient::replying("fine too")
        .modern()
        .connect(transport_from(&server, 4))
        .await;
    let result = call(
        &modern_polite,
        "process_log_entry",
        json!({"log_line": "other"}),
    )
    .await;
    assert_eq!(result.is_error, Some(false), "{}", text(&result));
    drop(pending);
}

#[tokio::test]
async fn live_sessions_are_capped() {
    let workspace = Workspace::standard();
    let server = HttpServer::start_with(
        Some(&workspace.config()),
        workspace.dir.path(),
        &["--max-sessions", "2"],
    );
    let _first = BareClient::connect(&server.url).await;
    let _second = BareClient::connect(&server.url).await;
    let third = raw_post(&server, &initialize_body()).send().await.unwrap();
    assert_eq!(third.status(), 503);
    let answer: Value = third.json().await.unwrap();
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("--max-sessions"),
        "{answer}"
    );
}

/// An MCP transport to `server` whose connections come from 127.0.0.`host`
/// (all of 127/8 reaches a server on 127.0.0.1): another client, as the
/// server tells clients apart by address.
fn transport_from(
    server: &HttpServer,
    host: u8,
) -> rmcp::transport::StreamableHttpClientTransport<reqwest::Client> {
    let http = reqwest::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, host]))
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    rmcp::transport::StreamableHttpClientTransport::with_client(
        http,
        rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig::with_uri(
            server.url.as_str(),
        ),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn one_address_is_one_client_however_many_sessions_it_opens() {
    use futures::StreamExt;
    // The plugin has room for eight calls; the client's share is two.
    let workspace = Workspace::with_config(&format!(
        "[[plugin]]\ncomponent = {:?}\nappend = [\"incident_report.txt\"]\n[plugin.limits]\nconcurrent_calls = 8\n",
        component("log-archiver")
    ));
    let server = HttpServer::start_with(
        Some(&workspace.config()),
        workspace.dir.path(),
        &["--max-client-calls", "2"],
    );
    // Four legacy sessions from 127.0.0.1 whose LLM never answers, one
    // call on each.
    let greedy = ScriptedClient::replying("never").slow(Duration::from_secs(3600));
    let mut sessions = Vec::new();
    for _ in 0..4 {
        sessions.push(server.connect(greedy.clone()).await);
    }
    let mut calls: futures::stream::FuturesUnordered<_> = sessions
        .iter()
        .enumerate()
        .map(|(i, session)| {
            call(
                session,
                "process_log_entry",
                json!({"log_line": format!("greedy {i}")}),
            )
        })
        .collect();
    for _ in 0..2 {
        let refused = tokio::time::timeout(Duration::from_secs(20), calls.next())
            .await
            .expect("calls past the address's share must be refused at once, not run")
            .expect("four calls were sent");
        assert_eq!(refused.is_error, Some(true), "{}", text(&refused));
        assert!(
            text(&refused).contains("this client already has 2 calls running"),
            "{}",
            text(&refused)
        );
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while greedy.asked.lock().unwrap().len() < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "the two admitted calls never started"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        tokio::time::timeout(Duration::from_millis(500), calls.next())
            .await
            .is_err(),
        "the two admitted calls still wait for their sampling answers"
    );
    assert_eq!(
        greedy.asked.lock().unwrap().len(),
        2,
        "at most two of the address's calls ran, whatever its sessions"
    );

    // A client from another address is served as before.
    let polite = ScriptedClient::replying("fine")
        .connect(transport_from(&server, 2))
        .await;
    let result = call(&polite, "process_log_entry", json!({"log_line": "polite"})).await;
    assert_eq!(result.is_error, Some(false), "{}", text(&result));
    drop(calls);
}

/// The first word on a `tools/call`'s response stream.
enum FirstWord {
    /// The call was admitted and asked for sampling; its stream is kept
    /// open, so the call keeps its slot.
    Sampling(#[allow(dead_code)] EventReader),
    /// The call was answered at once: its result or error.
    Answer(Value),
}

/// Send `request` (a legacy `tools/call`) and read its stream up to the
/// first sampling request or answer.
async fn first_word(request: reqwest::RequestBuilder) -> FirstWord {
    let mut events = EventReader::new(request.send().await.unwrap());
    for _ in 0..20 {
        let message = events.next_message().await;
        if message["method"] == "sampling/createMessage" {
            return FirstWord::Sampling(events);
        }
        if message.get("result").is_some() || message.get("error").is_some() {
            return FirstWord::Answer(message);
        }
    }
    panic!("twenty messages, and neither a sampling request nor an answer");
}

/// The text of a JSON-RPC answer: a result's text content, or an error's message.
fn answer_text(answer: &Value) -> String {
    if let Some(message) = answer["error"]["message"].as_str() {
        return message.to_string();
    }
    answer["result"]["content"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|block| block["text"].as_str())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn request_state_in_a_legacy_session_earns_no_free_slot() {
    let workspace = Workspace::standard();
    let server = HttpServer::start_with(
        Some(&workspace.config()),
        workspace.dir.path(),
        &["--max-client-calls", "2"],
    );
    // A legacy session that declares sampling and never answers it, with a
    // `requestState` (meaningless before 2026-07-28) on each of six calls.
    let client = BareClient::connect(&server.url).await;
    let calls = (0..6).map(|i| {
        first_word(client.post(&json!({
            "jsonrpc": "2.0", "id": 100 + i, "method": "tools/call", "params": {
                "name": "process_log_entry",
                "arguments": {"log_line": format!("free ride {i}")},
                "requestState": "x"
            }
        })))
    });
    let words = futures::future::join_all(calls).await;
    let admitted = words
        .iter()
        .filter(|word| matches!(word, FirstWord::Sampling(_)))
        .count();
    let refused: Vec<String> = words
        .iter()
        .filter_map(|word| match word {
            FirstWord::Answer(answer) => Some(answer_text(answer)),
            FirstWord::Sampling(_) => None,
        })
        .collect();
    assert_eq!(admitted, 2, "refused: {refused:?}");
    assert_eq!(refused.len(), 4);
    for why in &refused {
        assert!(
            why.contains("`--max-client-calls`") && why.contains("already has 2 calls"),
            "{why}"
        );
    }
}
