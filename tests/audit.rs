//! The sampling audit (`[audit]`, `--audit-file`) and Prometheus metrics
//! (`--metrics`): one record per sampling request whatever its route and
//! outcome, counted the same in `/metrics`, which keeps `/mcp`'s Host,
//! Origin and token rules.

mod common;

use common::fake_llm::*;
use common::*;
use serde_json::{Value, json};

const TOKEN: &str = "metrics-test-token";

/// The probe routed to the provider (at most 3 requests a minute), and the
/// log archiver routed to the client.
fn config(api: &FakeLlm, audit: &str) -> String {
    format!(
        "llm = {{ kind = \"anthropic\", base_url = {:?}, retries = 0 }}\n[audit]\n{audit}\n[[plugin]]\nname = \"probe\"\ncomponent = {:?}\n[plugin.sampling]\nroute = \"provider\"\nrequests_per_minute = 3\n[[plugin]]\nname = \"log-archiver\"\ncomponent = {:?}\nappend = [\"incident_report.txt\"]\n[plugin.sampling]\nroute = \"client\"\n",
        api.url(),
        component("probe"),
        component("log-archiver"),
    )
}

/// The audit file's records, once it has `expected` of them (its writer
/// thread may be a moment behind the tool result), or after 10 s.
fn records(workspace: &Workspace, expected: usize) -> Vec<Value> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let text = workspace.read("audit.jsonl").unwrap_or_default();
        if text.lines().count() >= expected || std::time::Instant::now() > deadline {
            return text
                .lines()
                .map(|line| serde_json::from_str(line).unwrap())
                .collect();
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// The value of the sample `name{labels}` in a Prometheus text body.
fn sample(metrics: &str, name_and_labels: &str) -> Option<f64> {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(name_and_labels)?.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread")]
async fn every_sampling_request_is_audited_once_and_counted() {
    let api = FakeLlm::start(vec![
        (200, anthropic_answer_using("first", 11, 3)),
        (200, anthropic_answer_using("second", 11, 3)),
        (400, json!({"error": {"message": "bad request"}})),
    ])
    .await;
    let workspace = Workspace::with_config(&config(&api, "file = \"audit.jsonl\""));
    let token_file = workspace.path("token");
    std::fs::write(&token_file, TOKEN).unwrap();
    let server = HttpServer::start_env(
        Some(&workspace.config()),
        workspace.dir.path(),
        &[
            "--metrics",
            "--auth-token-file",
            token_file.to_str().unwrap(),
        ],
        &[("ANTHROPIC_API_KEY", "sk-ant-test-key")],
    );
    let authorized = |builder: reqwest::RequestBuilder| builder.bearer_auth(TOKEN);
    let connect = |client: ScriptedClient| {
        let config =
            rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig::with_uri(
                server.url.as_str(),
            )
            .auth_header(TOKEN);
        client.connect(rmcp::transport::StreamableHttpClientTransport::from_config(
            config,
        ))
    };
    let cannot_sample = connect(ScriptedClient::without_sampling()).await;
    for prompt in ["answered 1", "answered 2", "failed", "refused"] {
        call(&cannot_sample, "probe_sample", json!({"prompt": prompt})).await;
    }
    let samples = connect(ScriptedClient::replying("A deadlock.")).await;
    call(&samples, "process_log_entry", json!({"log_line": "one"})).await;
    call(&samples, "process_log_entry", json!({"log_line": "two"})).await;
    let declines = connect(ScriptedClient::declining()).await;
    call(&declines, "process_log_entry", json!({"log_line": "three"})).await;

    let records = records(&workspace, 7);
    let outcomes: Vec<_> = records
        .iter()
        .map(|r| format!("{} {} {}", r["plugin"], r["route"], r["outcome"]).replace('"', ""))
        .collect();
    assert_eq!(
        outcomes,
        [
            "probe provider answered",
            "probe provider answered",
            "probe provider failed",
            "probe provider refused",
            "log-archiver client answered",
            "log-archiver client answered",
            "log-archiver client declined",
        ]
    );
    let first = &records[0];
    assert_eq!(first["tool"], "probe_sample");
    assert_eq!(first["via"], "anthropic");
    assert_eq!(
        (
            first["input_tokens"].as_u64(),
            first["output_tokens"].as_u64()
        ),
        (Some(11), Some(3))
    );
    assert_eq!(first["usage"], "reported");
    assert_eq!(first["tokens_asked"], 50);
    assert!(first["latency_ms"].as_f64().unwrap() >= 0.0);
    assert!(first["time"].as_str().unwrap().ends_with('Z'));
    assert_eq!(records[3]["policy"], "sampling.requests_per_minute");
    assert!(
        records[3].get("input_tokens").is_none(),
        "a refused request used nothing"
    );
    assert_eq!(records[4]["via"], "session");
    assert_eq!(records[4]["usage"], "estimated");
    assert_eq!(records[4]["tokens_asked"], 100);
    // One stable hash per client, and never the raw identity.
    let client = |i: usize| records[i]["client"].as_str().unwrap().to_string();
    assert_eq!(client(0), client(3));
    assert_eq!(client(4), client(5));
    assert_ne!(client(0), client(4));
    assert_ne!(client(4), client(6));
    assert!(client(0).len() == 16 && client(0).chars().all(|c| c.is_ascii_hexdigit()));
    // Prompts are not recorded unless asked.
    let audit = workspace.read("audit.jsonl").unwrap();
    assert!(
        !audit.contains("answered 1") && !audit.contains("Site Reliability"),
        "{audit}"
    );
    assert!(records.iter().all(|r| r.get("request").is_none()));
    assert!(
        server.log.lock().unwrap().matches("\"outcome\":").count() >= 7,
        "the host log has the records too"
    );

    // /metrics counts what the audit says.
    let metrics_url = server.url.replace("/mcp", "/metrics");
    let http = reqwest::Client::new();
    let metrics = authorized(http.get(&metrics_url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let count = |labels: &str| sample(&metrics, labels);
    assert_eq!(
        count(
            "wasm_mcp_sampling_requests_total{outcome=\"answered\",plugin=\"probe\",route=\"provider\"}"
        ),
        Some(2.0),
        "{metrics}"
    );
    assert_eq!(
        count(
            "wasm_mcp_sampling_requests_total{outcome=\"failed\",plugin=\"probe\",route=\"provider\"}"
        ),
        Some(1.0)
    );
    assert_eq!(
        count(
            "wasm_mcp_sampling_requests_total{outcome=\"refused\",plugin=\"probe\",route=\"provider\"}"
        ),
        Some(1.0)
    );
    assert_eq!(
        count(
            "wasm_mcp_sampling_requests_total{outcome=\"declined\",plugin=\"log-archiver\",route=\"client\"}"
        ),
        Some(1.0)
    );
    assert_eq!(
        count(
            "wasm_mcp_sampling_tokens_total{direction=\"input\",plugin=\"probe\",route=\"provider\"}"
        ),
        Some(22.0)
    );
    assert_eq!(
        count("wasm_mcp_limit_hits_total{limit=\"sampling.requests_per_minute\",plugin=\"probe\"}"),
        Some(1.0)
    );
    assert_eq!(
        count("wasm_mcp_calls_total{outcome=\"ok\",plugin=\"probe\"}"),
        Some(2.0)
    );
    assert_eq!(
        count("wasm_mcp_calls_total{outcome=\"failed\",plugin=\"probe\"}"),
        Some(2.0)
    );
    assert_eq!(
        count("wasm_mcp_call_duration_seconds_count{plugin=\"log-archiver\"}"),
        Some(3.0)
    );
    assert_eq!(
        count("wasm_mcp_sampling_duration_seconds_count{plugin=\"probe\",route=\"provider\"}"),
        Some(4.0)
    );
    assert_eq!(count("wasm_mcp_parked_calls"), Some(0.0));
    assert_eq!(
        count("wasm_mcp_instances_in_use{plugin=\"probe\"}"),
        Some(0.0)
    );

    // The same gate as /mcp: token, Host, Origin.
    let status = |request: reqwest::RequestBuilder| async move {
        request.send().await.unwrap().status().as_u16()
    };
    assert_eq!(status(http.get(&metrics_url)).await, 401);
    assert_eq!(
        status(authorized(http.get(&metrics_url)).header("host", "evil.example")).await,
        403
    );
    assert_eq!(
        status(authorized(http.get(&metrics_url)).header("origin", "https://evil.example")).await,
        403
    );
    assert_eq!(
        status(authorized(http.get(&metrics_url)).header("origin", "http://localhost:3000")).await,
        200
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_are_off_unless_asked_and_prompts_are_recorded_only_when_asked() {
    let api = FakeLlm::always(anthropic_answer("the answer"), Default::default()).await;
    let workspace = Workspace::with_config(&config(&api, "prompts = true"));
    let audit_file = workspace.path("elsewhere.jsonl");
    let server = HttpServer::start_env(
        Some(&workspace.config()),
        workspace.dir.path(),
        &["--audit-file", audit_file.to_str().unwrap()],
        &[("ANTHROPIC_API_KEY", "sk-ant-test-key")],
    );
    let client = server.connect(ScriptedClient::without_sampling()).await;
    call(
        &client,
        "probe_sample",
        json!({"prompt": "the question", "system": "be brief"}),
    )
    .await;
    let record: Value =
        serde_json::from_str(&std::fs::read_to_string(&audit_file).unwrap()).unwrap();
    assert_eq!(
        record["request"]["messages"][0]["content"]["text"],
        "the question"
    );
    assert_eq!(record["request"]["systemPrompt"], "be brief");
    assert_eq!(record["answer"], "the answer");
    let status = reqwest::get(server.url.replace("/mcp", "/metrics"))
        .await
        .unwrap()
        .status();
    assert_eq!(status, 404, "no --metrics, no endpoint");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_whose_call_ends_while_it_waits_is_recorded_as_cancelled() {
    let api = FakeLlm::always(anthropic_answer("late"), std::time::Duration::from_secs(5)).await;
    let workspace = Workspace::with_config(&format!(
        "llm = {{ kind = \"anthropic\", base_url = {:?} }}\n[audit]\nfile = \"audit.jsonl\"\n[[plugin]]\nname = \"probe\"\ncomponent = {:?}\n[plugin.limits]\nwall_time_s = 1\n[plugin.sampling]\nroute = \"provider\"\n",
        api.url(),
        component("probe"),
    ));
    let session = open_env(
        Transport::Stdio,
        &workspace,
        ScriptedClient::without_sampling(),
        &[],
        &[("ANTHROPIC_API_KEY", "sk-ant-test-key")],
    )
    .await;
    let result = call(&session.client, "probe_sample", json!({"prompt": "slow"})).await;
    assert!(
        text(&result).contains("wall-clock time"),
        "{}",
        text(&result)
    );
    let records = records(&workspace, 1);
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0]["outcome"], "cancelled");
    assert_eq!(records[0]["route"], "provider");
    assert_eq!(records[0]["tokens_asked"], 50);
}
