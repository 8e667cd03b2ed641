//! MCP 2026-07-28 clients: `sample()` as multi round-trip `input_required`
//! results over parked calls, and the same plugins for both protocol eras.
#![allow(deprecated)]

mod common;

use std::time::Duration;

use common::*;
use rmcp::model::{CallToolRequestParams, CallToolResponse, ErrorCode};
use rmcp::service::ServiceError;
use serde_json::{Value, json};

/// Answers each prompt the way the tests' plugins expect.
fn oracle() -> ScriptedClient {
    ScriptedClient::by_prompt(
        &[("Summarize", "A short summary."), ("Grade", "9")],
        "An explanation.",
    )
}

fn params(tool: &str, arguments: Value) -> CallToolRequestParams {
    let Value::Object(arguments) = arguments else {
        panic!()
    };
    CallToolRequestParams::new(tool.to_string()).with_arguments(arguments)
}

/// The protocol error a retry got.
async fn refused(client: &Client, request: CallToolRequestParams) -> rmcp::ErrorData {
    match client.call_tool_once(request).await {
        Err(ServiceError::McpError(error)) => error,
        Err(other) => panic!("expected a protocol error, got {other}"),
        Ok(CallToolResponse::Complete(result)) => {
            panic!("expected an error, got {}", text(&result))
        }
        Ok(_) => panic!("expected an error, got another round"),
    }
}

#[tokio::test]
async fn the_same_plugins_work_for_both_eras_over_both_transports() {
    for transport in TRANSPORTS {
        for modern in [false, true] {
            let era = if modern { "2026-07-28" } else { "2025-11-25" };
            let workspace = Workspace::standard();
            let client = if modern { oracle().modern() } else { oracle() };
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
                "{transport:?} {era}: {}",
                text(&result)
            );
            assert_eq!(
                workspace.read("incident_report.txt"),
                Some(seed_report(DEADLOCK, "An explanation."))
            );

            let result = call(
                &session.client,
                "summarize_and_grade",
                json!({"text": "a long text"}),
            )
            .await;
            assert_eq!(
                text(&result),
                "summary: A short summary.; grade: 9",
                "{transport:?} {era}"
            );
            assert_eq!(
                workspace.read("two-step.txt").as_deref(),
                Some("summary: A short summary.\ngrade: 9\n"),
                "{transport:?} {era}: the plugin's append must happen exactly once"
            );
            assert_eq!(
                client.prompts(),
                [
                    format!(
                        "You are a Site Reliability Engineer. Explain this log error in one concise sentence: {DEADLOCK}"
                    ),
                    "Summarize: a long text".to_string(),
                    "Grade this summary from 1 to 10: A short summary.".to_string(),
                ],
                "{transport:?} {era}"
            );
            assert_eq!(client.asked.lock().unwrap()[0].max_tokens, 100);
        }
    }
}

#[tokio::test]
async fn each_sample_is_one_input_required_round_of_one_parked_execution() {
    for transport in TRANSPORTS {
        let workspace = Workspace::standard();
        let session = open(transport, &workspace, oracle().modern()).await;
        let request = params("summarize_and_grade", json!({"text": "t"}));

        let first = round(&session.client, request.clone()).await;
        let requests = first.input_requests.as_ref().unwrap();
        assert_eq!(requests.len(), 1);
        let sampling = serde_json::to_value(requests.values().next().unwrap()).unwrap();
        assert_eq!(sampling["method"], "sampling/createMessage");
        assert_eq!(
            sampling["params"]["messages"][0]["content"]["text"],
            "Summarize: t"
        );
        assert_eq!(
            sampling["params"]["systemPrompt"],
            "You summarise texts in one sentence."
        );
        assert!(first.request_state.is_some());

        let second = round(&session.client, retry(&request, &first, answer("S"))).await;
        let sampling = serde_json::to_value(
            second
                .input_requests
                .as_ref()
                .unwrap()
                .values()
                .next()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(
            sampling["params"]["messages"][0]["content"]["text"],
            "Grade this summary from 1 to 10: S"
        );
        assert_ne!(second.request_state, first.request_state);
        assert!(
            !workspace.path("two-step.txt").exists(),
            "nothing is appended before the last round"
        );

        let CallToolResponse::Complete(result) = session
            .client
            .call_tool_once(retry(&request, &second, answer("7")))
            .await
            .unwrap()
        else {
            panic!("expected the final result")
        };
        assert_eq!(text(&result), "summary: S; grade: 7", "{transport:?}");
        assert_eq!(
            workspace.read("two-step.txt").as_deref(),
            Some("summary: S\ngrade: 7\n")
        );
    }
}

#[tokio::test]
async fn a_retry_without_the_answer_gets_the_same_round_again() {
    let workspace = Workspace::standard();
    let session = open(Transport::Http, &workspace, oracle().modern()).await;
    let request = params("process_log_entry", json!({"log_line": "x"}));
    let first = round(&session.client, request.clone()).await;
    let mut bare = request.clone();
    bare.request_state = first.request_state.clone();
    let again = round(&session.client, bare).await;
    assert_eq!(again.request_state, first.request_state);
    assert_eq!(again.input_requests, first.input_requests);
    // The original round still completes.
    let done = session
        .client
        .call_tool_once(retry(&request, &first, answer("fine")))
        .await
        .unwrap();
    assert!(matches!(done, CallToolResponse::Complete(r) if r.is_error == Some(false)));
}

#[tokio::test]
async fn tampered_misbound_and_replayed_states_are_refused() {
    for transport in TRANSPORTS {
        let workspace = Workspace::standard();
        let session = open(transport, &workspace, oracle().modern()).await;
        let request = params("process_log_entry", json!({"log_line": "real"}));
        let first = round(&session.client, request.clone()).await;
        let good = retry(&request, &first, answer("ok"));

        let mut tampered = good.clone();
        let state = tampered.request_state.take().unwrap();
        let mut bytes = state.into_bytes();
        let middle = bytes.len() / 2;
        bytes[middle] = if bytes[middle] == b'A' { b'B' } else { b'A' };
        tampered.request_state = Some(String::from_utf8(bytes).unwrap());
        let error = refused(&session.client, tampered).await;
        assert_eq!(error.code, ErrorCode::INVALID_PARAMS, "{transport:?}");
        assert!(
            error.message.contains("failed verification")
                && !error.message.contains("another server process"),
            "{}",
            error.message
        );

        let mut other_arguments = good.clone();
        other_arguments.arguments =
            params("process_log_entry", json!({"log_line": "forged"})).arguments;
        let error = refused(&session.client, other_arguments).await;
        assert!(
            error.message.contains("failed verification"),
            "{}",
            error.message
        );

        let mut other_tool = good.clone();
        other_tool.name = "probe_sample".into();
        let error = refused(&session.client, other_tool).await;
        assert!(
            error.message.contains("failed verification"),
            "{}",
            error.message
        );
        assert!(
            !workspace.path("incident_report.txt").exists(),
            "no forged retry reached the plugin"
        );

        let CallToolResponse::Complete(result) =
            session.client.call_tool_once(good.clone()).await.unwrap()
        else {
            panic!("the genuine retry must complete")
        };
        assert_eq!(result.is_error, Some(false), "{}", text(&result));

        let error = refused(&session.client, good).await;
        assert!(error.message.contains("already used"), "{}", error.message);
        assert_eq!(
            workspace.read("incident_report.txt"),
            Some(seed_report("real", "ok")),
            "{transport:?}: exactly one report"
        );
    }
}

#[tokio::test]
async fn a_state_from_another_server_process_is_refused() {
    let workspace = Workspace::standard();
    let first = open(Transport::Http, &workspace, oracle().modern()).await;
    let second = open(Transport::Http, &workspace, oracle().modern()).await;
    let request = params("process_log_entry", json!({"log_line": "x"}));
    let issued = round(&first.client, request.clone()).await;
    let error = refused(&second.client, retry(&request, &issued, answer("a"))).await;
    assert!(
        error
            .message
            .contains("was issued by another server process")
            && !error.message.contains("altered"),
        "only a state from another process gets this message: {}",
        error.message
    );
}

/// A workspace serving the probe alone, one call at a time, with `sampling`
/// settings added to its config.
fn lone_probe(sampling: &str) -> Workspace {
    Workspace::with_config(&format!(
        "[[plugin]]\nname = \"probe\"\ncomponent = {:?}\nappend = [\"probe.txt\"]\n[plugin.limits]\nconcurrent_calls = 1\n[plugin.sampling]\n{sampling}\n",
        component("probe")
    ))
}

/// Expiry stops the call: the plugin never learns that sampling failed, so
/// nothing it would do afterwards happens, and its slot is free again.
#[tokio::test]
async fn an_expired_call_is_stopped_and_its_state_is_refused() {
    let workspace = lone_probe("");
    let session = open_with(
        Transport::Http,
        &workspace,
        oracle().modern(),
        &["--parked-call-ttl", "1"],
    )
    .await;
    let request = params(
        "probe_sample_then_append",
        json!({"path": "probe.txt", "text": "after"}),
    );
    let first = round(&session.client, request.clone()).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;

    let error = refused(&session.client, retry(&request, &first, answer("late"))).await;
    assert!(error.message.contains("expired"), "{}", error.message);
    assert!(
        !workspace.path("probe.txt").exists(),
        "the expired call went on and appended"
    );
    let log = session.server.as_ref().unwrap().log.lock().unwrap().clone();
    assert!(
        log.contains("expired without a retry and were stopped"),
        "{log}"
    );
    // Its `concurrent_calls = 1` slot is free: a new call parks.
    round(&session.client, request).await;
}

/// With `sampling.timeout_s` shorter than the TTL, the call expires when
/// the plugin's wait ends, and a late answer is told so, not dropped.
#[tokio::test]
async fn a_sampling_timeout_shorter_than_the_ttl_expires_the_call() {
    let workspace = lone_probe("timeout_s = 1");
    let session = open(Transport::Stdio, &workspace, oracle().modern()).await;
    let request = params(
        "probe_sample_then_append",
        json!({"path": "probe.txt", "text": "after"}),
    );
    let first = round(&session.client, request.clone()).await;
    tokio::time::sleep(Duration::from_millis(2000)).await;
    let error = refused(&session.client, retry(&request, &first, answer("late"))).await;
    assert!(error.message.contains("expired"), "{}", error.message);
    assert!(!workspace.path("probe.txt").exists());

    // Answered in time, the same call completes.
    let second = round(&session.client, request.clone()).await;
    let CallToolResponse::Complete(done) = session
        .client
        .call_tool_once(retry(&request, &second, answer("ok")))
        .await
        .unwrap()
    else {
        panic!("an answer in time completes the call")
    };
    assert_eq!(text(&done), "appended after an answer");
}

#[tokio::test]
async fn calls_beyond_the_parking_limit_are_refused_and_parked_ones_finish() {
    let workspace = Workspace::standard();
    let session = open_with(
        Transport::Stdio,
        &workspace,
        oracle().modern(),
        &["--max-parked-calls", "1"],
    )
    .await;
    let first_request = params("process_log_entry", json!({"log_line": "first"}));
    let first = round(&session.client, first_request.clone()).await;

    let CallToolResponse::Complete(second) = session
        .client
        .call_tool_once(params("process_log_entry", json!({"log_line": "second"})))
        .await
        .unwrap()
    else {
        panic!("a call beyond the limit must not park")
    };
    assert_eq!(second.is_error, Some(true));
    assert!(
        text(&second).contains("the most this host parks"),
        "{}",
        text(&second)
    );

    let CallToolResponse::Complete(done) = session
        .client
        .call_tool_once(retry(&first_request, &first, answer("ok")))
        .await
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(done.is_error, Some(false), "{}", text(&done));
    assert_eq!(
        workspace.read("incident_report.txt"),
        Some(seed_report("first", "ok"))
    );
}

#[tokio::test]
async fn an_error_answer_reaches_the_plugin_as_declined() {
    let workspace = Workspace::standard();
    let session = open(Transport::Stdio, &workspace, oracle().modern()).await;
    let request = params("process_log_entry", json!({"log_line": "x"}));
    let first = round(&session.client, request.clone()).await;
    let declined = json!({"code": -1, "message": "User rejected sampling request"});
    let CallToolResponse::Complete(result) = session
        .client
        .call_tool_once(retry(&request, &first, declined))
        .await
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(result.is_error, Some(true));
    assert!(text(&result).contains("declined"), "{}", text(&result));
    assert!(!workspace.path("incident_report.txt").exists());
}

#[tokio::test]
async fn a_modern_client_without_sampling_gets_missing_capability() {
    for transport in TRANSPORTS {
        let workspace = Workspace::standard();
        let session = open(
            transport,
            &workspace,
            ScriptedClient::without_sampling().modern(),
        )
        .await;
        let error = refused(
            &session.client,
            params("process_log_entry", json!({"log_line": "x"})),
        )
        .await;
        assert_eq!(
            error.code,
            ErrorCode::MISSING_REQUIRED_CLIENT_CAPABILITY,
            "{transport:?}"
        );
        assert!(error.data.unwrap()["requiredCapabilities"]["sampling"].is_object());
        assert!(!workspace.path("incident_report.txt").exists());
    }
}

#[tokio::test]
async fn missing_capability_is_http_400() {
    let workspace = Workspace::standard();
    let server = HttpServer::start(Some(&workspace.config()), workspace.dir.path());
    let response = reqwest::Client::new()
        .post(&server.url)
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/call")
        .header("mcp-name", "process_log_entry")
        .body(
            json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
                "name": "process_log_entry", "arguments": {"log_line": "x"},
                "_meta": {
                    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                    "io.modelcontextprotocol/clientInfo": {"name": "raw", "version": "1"},
                    "io.modelcontextprotocol/clientCapabilities": {}
                }
            }})
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body = response.text().await.unwrap();
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("-32021") && body.contains("sampling"),
        "{body}"
    );
}

#[test]
fn the_python_sdk_2_default_client_completes_process_log_entry() {
    let python = python_with_mcp("2.3.0");
    let run = |args: &[&str], cwd: &std::path::Path| -> Vec<Value> {
        let output = std::process::Command::new(&python)
            .env("WASM_MCP_CACHE_DIR", test_cache_dir())
            .current_dir(cwd)
            .arg(repo_root().join("tests/python/sampling_client.py"))
            .args(args)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };

    let over_http = Workspace::new();
    let server = HttpServer::start(None, over_http.dir.path());
    let lines = run(
        &["http", &server.url, DEADLOCK, "via http"],
        over_http.dir.path(),
    );
    assert_eq!(
        lines[0]["protocol_version"], "2026-07-28",
        "the SDK's default mode negotiates 2026-07-28"
    );
    assert_eq!(lines[1]["is_error"], false, "{}", lines[1]);
    assert_eq!(
        over_http.read("incident_report.txt"),
        Some(seed_report(DEADLOCK, "via http"))
    );

    let over_stdio = Workspace::new();
    let lines = run(
        &[
            "stdio",
            binary(),
            "serve",
            "--stdio",
            "--",
            DEADLOCK,
            "via stdio",
        ],
        over_stdio.dir.path(),
    );
    assert_eq!(lines[0]["protocol_version"], "2026-07-28");
    assert_eq!(lines[1]["is_error"], false, "{}", lines[1]);
    assert_eq!(
        over_stdio.read("incident_report.txt"),
        Some(seed_report(DEADLOCK, "via stdio"))
    );
}

#[tokio::test]
async fn an_earlier_rounds_state_cannot_answer_a_later_round() {
    let workspace = Workspace::standard();
    let session = open(Transport::Stdio, &workspace, oracle().modern()).await;
    let request = params("summarize_and_grade", json!({"text": "t"}));
    let first = round(&session.client, request.clone()).await;
    let answered_first = retry(&request, &first, answer("S"));
    let second = round(&session.client, answered_first.clone()).await;

    // Replaying the first round's retry while the call waits in round two.
    let error = refused(&session.client, answered_first).await;
    assert!(error.message.contains("already used"), "{}", error.message);

    let CallToolResponse::Complete(result) = session
        .client
        .call_tool_once(retry(&request, &second, answer("7")))
        .await
        .unwrap()
    else {
        panic!("the genuine second round must complete")
    };
    assert_eq!(text(&result), "summary: S; grade: 7");
}

/// The spec: a server SHOULD ignore `inputResponses` it does not recognise.
/// A retry carrying, beside the asked key's answer, keys it never asked
/// (one named like a later round's, one holding no result at all)
/// completes the call with the answer asked for.
#[tokio::test]
async fn a_retry_with_extra_input_responses_completes_the_call() {
    for transport in TRANSPORTS {
        let workspace = Workspace::standard();
        let session = open(transport, &workspace, oracle().modern()).await;
        let request = params("process_log_entry", json!({"log_line": "extra"}));
        let first = round(&session.client, request.clone()).await;
        let mut answered = retry(&request, &first, answer("fine"));
        let responses = answered.input_responses.as_mut().unwrap();
        responses.insert("sampling-99".into(), answer("not this one"));
        responses.insert("unrecognised".into(), json!({"anything": [1, 2]}));
        responses.insert("not-an-object".into(), json!("text"));
        let CallToolResponse::Complete(done) =
            session.client.call_tool_once(answered).await.unwrap()
        else {
            panic!("{transport:?}: extra inputResponses kept the call from completing")
        };
        assert_eq!(done.is_error, Some(false), "{transport:?}: {}", text(&done));
        assert_eq!(
            workspace.read("incident_report.txt"),
            Some(seed_report("extra", "fine")),
            "{transport:?}"
        );
    }
}

/// A state key file the two processes of the replay test share.
const KEYS: &str = "k1 0303030303030303030303030303030303030303030303030303030303030303\n";

/// A process serving the replayable test plugin with the shared key file,
/// one call per client at a time.
fn capped_replica(workspace: &Workspace) -> HttpServer {
    let keys = workspace.path("state.keys");
    HttpServer::start_with(
        Some(&workspace.config()),
        workspace.dir.path(),
        &[
            "--state-key-file",
            keys.to_str().unwrap(),
            "--max-client-calls",
            "1",
        ],
    )
}

/// A retry that replays its call needs a call slot of its own where it
/// runs: at the client's cap it is refused as a new call is (it used to
/// run without one, past the cap), and the refusal does not use up the
/// round: once a slot is free, the same retry replays.
#[tokio::test(flavor = "multi_thread")]
async fn a_replay_at_the_clients_cap_is_refused_until_a_slot_is_free() {
    let workspace = Workspace::with_config(&format!(
        "[[plugin]]\ncomponent = {:?}\nappend = [\"replay.txt\"]\n",
        component("replayable")
    ));
    std::fs::write(workspace.path("state.keys"), KEYS).unwrap();
    let (a, b) = (capped_replica(&workspace), capped_replica(&workspace));
    let on_a = a.connect(ScriptedClient::replying("unused").modern()).await;
    let on_b = b.connect(ScriptedClient::replying("unused").modern()).await;
    let request = params("ask_with_random", json!({}));
    let first = round(&on_a, request.clone()).await;
    // The client's one call on B.
    let other = params("ask_twice", json!({"topic": "t"}));
    let held = round(&on_b, other.clone()).await;

    let replayed = on_b
        .call_tool_once(retry(&request, &first, answer("one")))
        .await
        .unwrap();
    let CallToolResponse::Complete(refused) = replayed else {
        panic!("a replay at the client's cap ran without a call slot")
    };
    assert_eq!(refused.is_error, Some(true));
    assert!(
        text(&refused).contains("`--max-client-calls`"),
        "{}",
        text(&refused)
    );

    // B's call ends, giving its slot back; the same retry now replays.
    let next = round(&on_b, retry(&other, &held, answer("x"))).await;
    let end = on_b
        .call_tool_once(retry(&other, &next, answer("y")))
        .await
        .unwrap();
    assert!(matches!(end, CallToolResponse::Complete(r) if r.is_error == Some(false)));
    let second = round(&on_b, retry(&request, &first, answer("one"))).await;
    let asked = serde_json::to_string(&second.input_requests).unwrap();
    assert!(asked.contains("Again "), "{asked}");
}

/// The conformance suite's reading of the spec: a request may carry
/// `inputResponses` before it was asked anything (no `requestState`), and
/// answers that cover the call's first round answer it, unrecognised keys
/// beside them ignored; the call completes without an `input_required`
/// round. Answers that do not cover the round change nothing: it is asked.
#[tokio::test]
async fn answers_sent_with_the_first_request_answer_the_first_round() {
    for transport in TRANSPORTS {
        let workspace = Workspace::standard();
        let session = open(transport, &workspace, oracle().modern()).await;
        let mut request = params("process_log_entry", json!({"log_line": "early"}));
        let mut supplied = rmcp::model::InputResponses::default();
        supplied.insert("sampling-1".into(), answer("known already"));
        supplied.insert("unrecognised".into(), json!({"anything": [1, 2]}));
        request.input_responses = Some(supplied);
        let CallToolResponse::Complete(done) =
            session.client.call_tool_once(request).await.unwrap()
        else {
            panic!("{transport:?}: answers sent up front did not answer the first round")
        };
        assert_eq!(done.is_error, Some(false), "{transport:?}: {}", text(&done));
        assert_eq!(
            workspace.read("incident_report.txt"),
            Some(seed_report("early", "known already")),
            "{transport:?}"
        );

        let mut request = params("process_log_entry", json!({"log_line": "later"}));
        let mut elsewhere = rmcp::model::InputResponses::default();
        elsewhere.insert("sampling-7".into(), answer("not asked"));
        request.input_responses = Some(elsewhere);
        let asked = round(&session.client, request.clone()).await;
        assert!(
            asked
                .input_requests
                .as_ref()
                .is_some_and(|r| r.contains_key("sampling-1")),
            "{transport:?}: the round is asked as usual"
        );
        let finished = session
            .client
            .call_tool_once(retry(&request, &asked, answer("asked for")))
            .await
            .unwrap();
        let CallToolResponse::Complete(finished) = finished else {
            panic!("{transport:?}: the retry did not complete")
        };
        assert_eq!(finished.is_error, Some(false), "{transport:?}");
        assert!(
            workspace
                .read("incident_report.txt")
                .unwrap()
                .ends_with(&seed_report("later", "asked for")),
            "{transport:?}"
        );
    }
}
