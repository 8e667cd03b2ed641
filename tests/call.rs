//! `wasm-mcp call` and `wasm-mcp tools` against loopback stand-ins for the
//! Anthropic Messages and OpenAI Chat Completions APIs. Each stand-in speaks
//! the documented request and response shapes, records what it was sent,
//! and can fail on purpose to exercise retries.

mod common;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use common::fake_llm::*;
use common::*;
use serde_json::{Value, json};

/// Run `wasm-mcp ARGS` in `cwd` with `env` and `stdin`, off the async runtime.
async fn wasm_mcp(
    cwd: &std::path::Path,
    args: &[&str],
    env: &[(&str, &str)],
    stdin: &str,
) -> Output {
    let cwd = cwd.to_path_buf();
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let stdin = stdin.to_string();
    tokio::task::spawn_blocking(move || {
        let mut child = Command::new(binary())
            .env("WASM_MCP_CACHE_DIR", test_cache_dir())
            .current_dir(cwd)
            .args(args)
            .env_remove("ANTHROPIC_API_KEY")
            .env_remove("OPENAI_API_KEY")
            .envs(env)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap()
}

const SEED_PROMPT: &str =
    "You are a Site Reliability Engineer. Explain this log error in one concise sentence: ";

#[tokio::test(flavor = "multi_thread")]
async fn anthropic_provider_does_what_the_seed_client_does() {
    let api = FakeLlm::start(vec![(
        200,
        anthropic_answer("Two transactions deadlocked."),
    )])
    .await;
    let workspace = Workspace::new();
    let base = api.url();
    let output = wasm_mcp(
        workspace.dir.path(),
        &[
            "call",
            "process_log_entry",
            "--arg",
            &format!("log_line={DEADLOCK}"),
            "--llm",
            "anthropic",
            "--base-url",
            &base,
        ],
        &[("ANTHROPIC_API_KEY", "sk-ant-test-key")],
        "",
    )
    .await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert_eq!(
        stdout.trim(),
        "Success: Log analyzed and appended to 'incident_report.txt'."
    );
    assert_eq!(
        workspace.read("incident_report.txt"),
        Some(seed_report(DEADLOCK, "Two transactions deadlocked."))
    );
    assert!(
        !stdout.contains("sk-ant") && !stderr.contains("sk-ant"),
        "the key leaked"
    );

    let sent = api.received();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].path, "/v1/messages");
    assert_eq!(sent[0].headers["x-api-key"], "sk-ant-test-key");
    assert_eq!(sent[0].headers["anthropic-version"], "2023-06-01");
    assert_eq!(
        sent[0].body,
        json!({
            "model": "claude-sonnet-4-5",
            "max_tokens": 100,
            "messages": [{"role": "user", "content": [{"type": "text", "text": format!("{SEED_PROMPT}{DEADLOCK}")}]}]
        })
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn openai_provider_retries_429_and_5xx_and_sends_the_system_prompt() {
    let api = FakeLlm::start(vec![
        (429, json!({"error": {"message": "slow down"}})),
        (503, json!({"error": {"message": "overloaded"}})),
        (200, openai_answer("A short summary.")),
        (200, openai_answer("8")),
    ])
    .await;
    let workspace = Workspace::standard();
    let base = format!("{}/v1", api.url());
    let output = wasm_mcp(
        workspace.dir.path(),
        &[
            "call",
            "summarize_and_grade",
            "--arg",
            "text=a long text",
            "--config",
            workspace.config().to_str().unwrap(),
            "--llm",
            "openai",
            "--base-url",
            &base,
            "--model",
            "llama3",
        ],
        &[("OPENAI_API_KEY", "sk-openai-test")],
        "",
    )
    .await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(stdout.trim(), "summary: A short summary.; grade: 8");

    let sent = api.received();
    assert_eq!(
        sent.len(),
        4,
        "two failures retried, then two sampling rounds"
    );
    assert_eq!(
        sent[0].body, sent[2].body,
        "a retry resends the same request"
    );
    assert_eq!(sent[2].headers["authorization"], "Bearer sk-openai-test");
    assert_eq!(
        sent[2].body,
        json!({
            "model": "llama3",
            "max_tokens": 200,
            "messages": [
                {"role": "system", "content": "You summarise texts in one sentence."},
                {"role": "user", "content": [{"type": "text", "text": "Summarize: a long text"}]}
            ]
        })
    );
    assert_eq!(
        workspace.read("two-step.txt").as_deref(),
        Some("summary: A short summary.\ngrade: 8\n")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn provider_errors_are_clear_and_fail_the_call() {
    let _api = FakeLlm::start(vec![(
        401,
        json!({"error": {"message": "invalid x-api-key"}}),
    )])
    .await;
    let workspace = Workspace::new();
    let output = wasm_mcp(
        workspace.dir.path(),
        &[
            "call",
            "process_log_entry",
            "--arg",
            "log_line=x",
            "--llm",
            "anthropic",
            "--base-url",
            &_api.url(),
            "--protocol",
            "legacy",
        ],
        &[("ANTHROPIC_API_KEY", "sk-ant-secret")],
        "",
    )
    .await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stdout.contains("401") && stdout.contains("invalid x-api-key"),
        "{stdout}\n{stderr}"
    );
    assert!(!stdout.contains("sk-ant-secret") && !stderr.contains("sk-ant-secret"));
    assert!(!workspace.path("incident_report.txt").exists());

    let missing_key = wasm_mcp(
        workspace.dir.path(),
        &[
            "call",
            "process_log_entry",
            "--arg",
            "log_line=x",
            "--llm",
            "anthropic",
        ],
        &[],
        "",
    )
    .await;
    assert!(!missing_key.status.success());
    assert!(String::from_utf8_lossy(&missing_key.stderr).contains("set ANTHROPIC_API_KEY"));
}

#[tokio::test(flavor = "multi_thread")]
async fn approval_is_asked_on_stdin_and_a_refusal_declines() {
    let workspace = Workspace::new();
    for protocol in ["legacy", "modern"] {
        let refused = wasm_mcp(
            workspace.dir.path(),
            &[
                "call",
                "process_log_entry",
                "--arg",
                "log_line=x",
                "--llm",
                "human",
                "--approve",
                "--protocol",
                protocol,
            ],
            &[],
            "n\n",
        )
        .await;
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(!refused.status.success(), "{protocol}");
        assert!(
            stderr.contains("Tool `process_log_entry` asks your LLM"),
            "{stderr}"
        );
        assert!(
            stderr.contains(&format!("user: {SEED_PROMPT}x")) && stderr.contains("max tokens: 100"),
            "{stderr}"
        );
        assert!(
            !workspace.path("incident_report.txt").exists(),
            "{protocol}"
        );
    }

    let approved = wasm_mcp(
        workspace.dir.path(),
        &[
            "call",
            "process_log_entry",
            "--arg",
            "log_line=x",
            "--llm",
            "human",
            "--approve",
        ],
        &[],
        "y\nA human answer.\n\n",
    )
    .await;
    assert!(
        approved.status.success(),
        "{}",
        String::from_utf8_lossy(&approved.stderr)
    );
    assert_eq!(
        workspace.read("incident_report.txt"),
        Some(seed_report("x", "A human answer."))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn call_reaches_http_servers_and_prints_json_and_tools() {
    let _api = FakeLlm::start(vec![(200, openai_answer("Over HTTP."))]).await;
    let workspace = Workspace::new();
    let server = HttpServer::start(None, workspace.dir.path());
    let output = wasm_mcp(
        workspace.dir.path(),
        &[
            "call",
            "process_log_entry",
            "--args-json",
            r#"{"log_line": "http"}"#,
            "--server",
            &server.url,
            "--llm",
            "openai",
            "--base-url",
            &format!("{}/v1", _api.url()),
            "--json",
        ],
        &[],
        "",
    )
    .await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let result: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        result["content"][0]["text"],
        "Success: Log analyzed and appended to 'incident_report.txt'."
    );
    assert_eq!(
        workspace.read("incident_report.txt"),
        Some(seed_report("http", "Over HTTP."))
    );

    let listed = wasm_mcp(
        workspace.dir.path(),
        &["tools", "--server", &server.url],
        &[],
        "",
    )
    .await;
    let stdout = String::from_utf8_lossy(&listed.stdout);
    assert!(
        stdout.contains("process_log_entry: Analyzes a log entry")
            && stdout.contains("--arg log_line=<string>"),
        "{stdout}"
    );

    let unknown = wasm_mcp(
        workspace.dir.path(),
        &["call", "nope", "--server", &server.url],
        &[],
        "",
    )
    .await;
    assert!(!unknown.status.success());
    assert!(
        String::from_utf8_lossy(&unknown.stderr)
            .contains("no tool `nope`; it has: process_log_entry")
    );
}
