//! The host's own LLM provider (`[llm]`, `serve --llm`): clients that cannot
//! sample still get `sample()` answered, through loopback stand-ins for the
//! Anthropic and Chat Completions APIs that check what they are sent. Routes
//! per plugin, both eras and transports, the Python SDKs, and the key kept
//! out of everything the host writes.

mod common;

use std::path::Path;
use std::process::Command;

use common::fake_llm::*;
use common::*;
use rmcp::model::CallToolRequestParams;
use serde_json::{Value, json};

const SEED_PROMPT: &str =
    "You are a Site Reliability Engineer. Explain this log error in one concise sentence: ";
const SUCCESS: &str = "Success: Log analyzed and appended to 'incident_report.txt'.";

/// A config serving the log archiver, with `[llm]` pointing at `api`.
fn archiver_with_provider(api: &FakeLlm, extra: &str) -> String {
    format!(
        "llm = {{ kind = \"anthropic\", base_url = {:?}, retries = 0 }}\n{extra}\n[[plugin]]\nname = \"log-archiver\"\ncomponent = {:?}\nappend = [\"incident_report.txt\"]\n",
        api.url(),
        component("log-archiver"),
    )
}

fn assert_seed_request(received: &Received, key: &str) {
    assert_eq!(received.path, "/v1/messages");
    assert_eq!(received.headers["x-api-key"], key);
    assert_eq!(received.headers["anthropic-version"], "2023-06-01");
    assert_eq!(
        received.body,
        json!({
            "model": "claude-sonnet-4-5",
            "max_tokens": 100,
            "messages": [{"role": "user", "content": [{"type": "text", "text": format!("{SEED_PROMPT}{DEADLOCK}")}]}]
        })
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn clients_that_cannot_sample_get_the_hosts_provider_in_both_eras_and_transports() {
    let api = FakeLlm::always(
        anthropic_answer("Two transactions deadlocked."),
        Default::default(),
    )
    .await;
    let key = [("ANTHROPIC_API_KEY", "sk-ant-test-key")];
    for transport in TRANSPORTS {
        for client in [
            ScriptedClient::without_sampling(),
            ScriptedClient::without_sampling().modern(),
        ] {
            let era = if client.is_modern() {
                "2026-07-28"
            } else {
                "2025-11-25"
            };
            let workspace = Workspace::with_config(&archiver_with_provider(&api, ""));
            let session = open_env(transport, &workspace, client, &[], &key).await;
            let result = call(
                &session.client,
                "process_log_entry",
                json!({"log_line": DEADLOCK}),
            )
            .await;
            assert_eq!(text(&result), SUCCESS, "{transport:?} {era}");
            assert_eq!(
                workspace.read("incident_report.txt"),
                Some(seed_report(DEADLOCK, "Two transactions deadlocked.")),
                "{transport:?} {era}"
            );
        }
    }
    let received = api.received();
    assert_eq!(received.len(), 4, "one provider request per call");
    for each in &received {
        assert_seed_request(each, "sk-ant-test-key");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_llm_alone_serves_the_embedded_archiver_to_any_client() {
    let api = FakeLlm::always(openai_answer("A lock cycle."), Default::default()).await;
    let workspace = Workspace::new();
    let base = format!("{}/v1", api.url());
    let server = HttpServer::start_env(
        None,
        workspace.dir.path(),
        &["--llm", "openai", "--base-url", &base, "--model", "llama3"],
        &[("OPENAI_API_KEY", "sk-openai-test")],
    );
    let client = server.connect(ScriptedClient::without_sampling()).await;
    let result = call(&client, "process_log_entry", json!({"log_line": DEADLOCK})).await;
    assert_eq!(text(&result), SUCCESS);
    assert_eq!(
        workspace.read("incident_report.txt"),
        Some(seed_report(DEADLOCK, "A lock cycle."))
    );
    let received = api.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].path, "/v1/chat/completions");
    assert_eq!(
        received[0].headers["authorization"],
        "Bearer sk-openai-test"
    );
    assert_eq!(received[0].body["model"], "llama3");
    assert_eq!(received[0].body["max_tokens"], 100);

    // `--llm human` has no person to ask on a server.
    let refused = Command::new(binary())
        .args(["serve", "--stdio", "--llm", "human"])
        .current_dir(workspace.dir.path())
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("only for `wasm-mcp call`"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
}

/// Run the scripted Python client without sampling; return its result line.
fn python_client(python: &Path, url: &str, cwd: &Path) -> Value {
    let output = Command::new(python)
        .current_dir(cwd)
        .arg(repo_root().join("tests/python/sampling_client.py"))
        .args(["http", url, DEADLOCK, "-"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines[0]["sampling_requests"],
        json!([]),
        "the client was never asked"
    );
    lines[1].clone()
}

#[test]
fn python_sdk_1_and_2_clients_without_sampling_complete_process_log_entry() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let api = runtime.block_on(FakeLlm::always(
        anthropic_answer("Two transactions deadlocked."),
        Default::default(),
    ));
    for version in ["1.30.0", "2.3.0"] {
        let python = python_with_mcp(version);
        let workspace = Workspace::new();
        let server = HttpServer::start_env(
            None,
            workspace.dir.path(),
            &["--llm", "anthropic", "--base-url", &api.url()],
            &[("ANTHROPIC_API_KEY", "sk-ant-test-key")],
        );
        let result = python_client(&python, &server.url, workspace.dir.path());
        assert_eq!(result["is_error"], false, "SDK {version}: {result}");
        assert_eq!(result["text"], SUCCESS, "SDK {version}");
        assert_eq!(
            workspace.read("incident_report.txt"),
            Some(seed_report(DEADLOCK, "Two transactions deadlocked.")),
            "SDK {version}"
        );
    }
    let received = api.received();
    assert_eq!(received.len(), 2);
    for each in &received {
        assert_seed_request(each, "sk-ant-test-key");
    }
}

/// The archiver three times: `c_` routed to the client, `p_` to the
/// provider, and the unprefixed one left to the default.
fn three_routes(api: &FakeLlm) -> String {
    let mut config = archiver_with_provider(api, "");
    for (prefix, route) in [("c_", "client"), ("p_", "provider")] {
        config.push_str(&format!(
            "\n[[plugin]]\nname = \"{prefix}archiver\"\ntool_prefix = \"{prefix}\"\ncomponent = {:?}\nappend = [\"incident_report.txt\"]\n[plugin.sampling]\nroute = \"{route}\"\n",
            component("log-archiver"),
        ));
    }
    config
}

#[tokio::test(flavor = "multi_thread")]
async fn each_plugins_route_picks_the_client_or_the_provider() {
    let api = FakeLlm::always(anthropic_answer("from the provider"), Default::default()).await;
    let key = [("ANTHROPIC_API_KEY", "sk-ant-test-key")];
    for client in [
        ScriptedClient::replying("from the client"),
        ScriptedClient::replying("from the client").modern(),
    ] {
        let era = if client.is_modern() {
            "2026-07-28"
        } else {
            "2025-11-25"
        };
        let workspace = Workspace::with_config(&three_routes(&api));
        let asked = client.asked.clone();
        let session = open_env(Transport::Stdio, &workspace, client, &[], &key).await;
        let before = api.received().len();
        for tool in [
            "process_log_entry",
            "c_process_log_entry",
            "p_process_log_entry",
        ] {
            let result = call(&session.client, tool, json!({"log_line": tool})).await;
            assert_eq!(text(&result), SUCCESS, "{era} {tool}");
        }
        let report = workspace.read("incident_report.txt").unwrap();
        assert!(
            report.contains("RAW: process_log_entry\nANALYSIS: from the client"),
            "client-or-provider asks a client that can sample ({era}):\n{report}"
        );
        assert!(report.contains("RAW: c_process_log_entry\nANALYSIS: from the client"));
        assert!(
            report.contains("RAW: p_process_log_entry\nANALYSIS: from the provider"),
            "{report}"
        );
        assert_eq!(asked.lock().unwrap().len(), 2, "{era}");
        assert_eq!(api.received().len(), before + 1, "{era}");
    }

    // A client that cannot sample, on a plugin routed to the client only.
    let workspace = Workspace::with_config(&three_routes(&api));
    let session = open_env(
        Transport::Stdio,
        &workspace,
        ScriptedClient::without_sampling(),
        &[],
        &key,
    )
    .await;
    let result = call(
        &session.client,
        "c_process_log_entry",
        json!({"log_line": "x"}),
    )
    .await;
    assert_eq!(result.is_error, Some(true));
    assert!(
        text(&result).contains("did not declare the MCP `sampling` capability"),
        "{}",
        text(&result)
    );
    let modern = open_env(
        Transport::Stdio,
        &workspace,
        ScriptedClient::without_sampling().modern(),
        &[],
        &key,
    )
    .await;
    let refused = modern
        .client
        .call_tool(
            CallToolRequestParams::new("c_process_log_entry")
                .with_arguments(json!({"log_line": "x"}).as_object().unwrap().clone()),
        )
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("sampling"), "{refused}");
}

#[tokio::test(flavor = "multi_thread")]
async fn provider_failures_reach_the_plugin_as_typed_errors() {
    let api = FakeLlm::start(vec![
        (503, json!({"error": {"message": "overloaded"}})),
        (200, anthropic_answer("after a retry")),
        (400, json!({"error": {"message": "max_tokens too large"}})),
    ])
    .await;
    let config = format!(
        "llm = {{ kind = \"anthropic\", base_url = {:?}, retries = 1 }}\n[[plugin]]\nname = \"probe\"\ncomponent = {:?}\n[plugin.sampling]\nroute = \"provider\"\ntimeout_s = 1\n",
        api.url(),
        component("probe"),
    );
    let workspace = Workspace::with_config(&config);
    let session = open_env(
        Transport::Stdio,
        &workspace,
        ScriptedClient::without_sampling(),
        &[],
        &[("ANTHROPIC_API_KEY", "sk-ant-test-key")],
    )
    .await;
    let retried = call(&session.client, "probe_sample", json!({"prompt": "a"})).await;
    assert_eq!(text(&retried), "after a retry");
    let failed = call(&session.client, "probe_sample", json!({"prompt": "b"})).await;
    assert_eq!(failed.is_error, Some(true));
    assert!(
        text(&failed).contains("Failed(\"the LLM provider failed: the anthropic API answered 400")
            && text(&failed).contains("max_tokens too large"),
        "{}",
        text(&failed)
    );

    // A provider slower than `sampling.timeout_s`.
    let slow = FakeLlm::always(anthropic_answer("late"), std::time::Duration::from_secs(3)).await;
    let config = config.replace(&api.url(), &slow.url());
    let workspace = Workspace::with_config(&config);
    let session = open_env(
        Transport::Stdio,
        &workspace,
        ScriptedClient::without_sampling(),
        &[],
        &[("ANTHROPIC_API_KEY", "sk-ant-test-key")],
    )
    .await;
    let timed_out = call(&session.client, "probe_sample", json!({"prompt": "c"})).await;
    assert!(
        text(&timed_out).contains("TimedOut(\"the LLM provider did not answer within 1 s"),
        "{}",
        text(&timed_out)
    );
}

#[test]
fn check_shows_the_provider_routes_and_budgets_and_needs_the_key() {
    let config = "llm = { kind = \"anthropic\", model = \"claude-haiku-4-5\" }\n[audit]\nfile = \"audit.jsonl\"\n";
    let config = format!(
        "{config}[[plugin]]\nname = \"probe\"\ncomponent = {:?}\n[plugin.sampling]\nrequests_per_minute = 30\ntokens_per_day = 50000\n",
        component("probe")
    );
    let workspace = Workspace::with_config(&config);
    let check = |env: &[(&str, &str)]| {
        Command::new(binary())
            .env("WASM_MCP_CACHE_DIR", test_cache_dir())
            .env_remove("ANTHROPIC_API_KEY")
            .envs(env.iter().copied())
            .args(["check", "--config"])
            .arg(workspace.config())
            .output()
            .unwrap()
    };
    let output = check(&[("ANTHROPIC_API_KEY", "sk-ant-check-secret")]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(
        stdout.contains(
            "LLM provider: anthropic at https://api.anthropic.com, model claude-haiku-4-5, key from $ANTHROPIC_API_KEY"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("audit: "), "{stdout}");
    assert!(
        stdout.contains("sampling: route client-or-provider (the calling client, else the host's provider); max 4096 tokens a request, 10 requests a call, 300 s timeout; budgets: 30 requests/minute, unlimited tokens/call, 50000 tokens/day"),
        "{stdout}"
    );
    assert!(!stdout.contains("sk-ant-check-secret"));

    let missing = check(&[]);
    assert!(!missing.status.success());
    assert!(
        String::from_utf8_lossy(&missing.stderr)
            .contains("needs an API key: set ANTHROPIC_API_KEY"),
        "{}",
        String::from_utf8_lossy(&missing.stderr)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_key_reaches_no_plugin_log_error_audit_or_metric() {
    const KEY: &str = "sk-ant-LEAK-CANARY-7d3f9a";
    // The provider echoes the key in an error, as some APIs do.
    let api = FakeLlm::start(vec![
        (
            401,
            json!({"error": {"message": format!("invalid x-api-key: {KEY}")}}),
        ),
        (200, anthropic_answer("fine")),
    ])
    .await;
    let key_file = "provider.key";
    let config = format!(
        "llm = {{ kind = \"anthropic\", base_url = {:?}, api_key_file = {key_file:?}, retries = 0 }}\n[audit]\nfile = \"audit.jsonl\"\nprompts = true\n[[plugin]]\nname = \"probe\"\ncomponent = {:?}\n[plugin.sampling]\nroute = \"provider\"\n",
        api.url(),
        component("probe"),
    );
    let workspace = Workspace::with_config(&config);
    std::fs::write(workspace.path(key_file), format!("{KEY}\n")).unwrap();
    let server = HttpServer::start_env(
        Some(&workspace.config()),
        workspace.dir.path(),
        &["--metrics"],
        &[("WASM_MCP_LOG", "debug")],
    );
    let client = server.connect(ScriptedClient::without_sampling()).await;
    let mut written = String::new();
    for (tool, arguments) in [
        ("probe_sample", json!({"prompt": "one"})),
        ("probe_sample", json!({"prompt": "two"})),
        ("probe_wasi", json!({"port": 1})),
    ] {
        let result = call(&client, tool, arguments).await;
        written.push_str(&serde_json::to_string(&result).unwrap());
    }
    assert!(
        written.contains("401"),
        "the failure is reported: {written}"
    );
    assert!(written.contains("[redacted]"), "{written}");
    assert!(
        written.contains("\"env\\\":0"),
        "the plugin sees no environment: {written}"
    );
    assert_eq!(
        api.received()[0].headers["x-api-key"],
        KEY,
        "the key was used"
    );

    let metrics = reqwest::get(server.url.replace("/mcp", "/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("wasm_mcp_sampling_requests_total"),
        "{metrics}"
    );
    written.push_str(&metrics);
    drop(client);
    written.push_str(&server.log.lock().unwrap());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut audit = workspace.read("audit.jsonl").unwrap_or_default();
    while audit.lines().count() < 2 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        audit = workspace.read("audit.jsonl").unwrap_or_default();
    }
    assert_eq!(audit.lines().count(), 2, "{audit}");
    written.push_str(&audit);
    for file in workspace.snapshot().keys() {
        if !file.ends_with(key_file) {
            written.push_str(&std::fs::read_to_string(file).unwrap_or_default());
        }
    }
    assert!(!written.contains(KEY), "the key leaked:\n{written}");
    assert!(
        !written.contains("LEAK-CANARY"),
        "part of the key leaked:\n{written}"
    );
}
