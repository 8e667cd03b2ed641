//! Hostile plugins: every way out a plugin might try, tried. Each case
//! asserts the error the call gets and that nothing outside the grants
//! changed, and that the host keeps serving.
#![allow(deprecated)]

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};

/// A workspace whose probe runs under tight limits, beside a folder
/// `outside/` holding a secret the probe must not touch.
struct Jail {
    workspace: Workspace,
    outside: PathBuf,
    _root: tempfile::TempDir,
}

fn jail() -> Jail {
    jail_with_cpu_ms(300)
}

fn jail_with_cpu_ms(cpu_time_ms: u64) -> Jail {
    let root = tempfile::tempdir().unwrap();
    let outside = root.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    std::fs::write(outside.join("secret.txt"), "secret").unwrap();
    let workspace = Workspace {
        dir: tempfile::tempdir_in(root.path()).unwrap(),
    };
    std::fs::create_dir(workspace.path("logs")).unwrap();
    std::os::unix::fs::symlink(&outside, workspace.path("logs/escape")).unwrap();
    std::os::unix::fs::symlink(
        outside.join("secret.txt"),
        workspace.path("logs/secret-link"),
    )
    .unwrap();
    std::fs::write(
        workspace.config(),
        format!(
            r#"
[[plugin]]
name = "probe"
component = {:?}
append = ["probe.txt", "logs/"]

[plugin.limits]
memory_mib = 16
cpu_time_ms = {}
wall_time_s = 5
result_bytes = 4096
append_bytes = 1024
quota_mib = 1
concurrent_calls = 4
arguments_bytes = 65536

[plugin.sampling]
max_tokens = 50
max_requests = 2
timeout_s = 2
"#,
            component("probe"),
            cpu_time_ms
        ),
    )
    .unwrap();
    Jail {
        workspace,
        outside,
        _root: root,
    }
}

impl Jail {
    fn outside_snapshot(&self) -> Vec<(PathBuf, u64)> {
        std::fs::read_dir(&self.outside)
            .unwrap()
            .flatten()
            .map(|e| (e.path(), e.metadata().unwrap().len()))
            .collect()
    }

    fn assert_secret_intact(&self) {
        assert_eq!(
            std::fs::read_to_string(self.outside.join("secret.txt")).unwrap(),
            "secret"
        );
        assert_eq!(
            self.outside_snapshot().len(),
            1,
            "nothing new outside the grants"
        );
    }
}

/// Call `tool` and return its error text, asserting it failed.
async fn failure(client: &Client, tool: &str, arguments: Value) -> String {
    let result = call(client, tool, arguments).await;
    assert_eq!(
        result.is_error,
        Some(true),
        "{tool} should fail, got {}",
        text(&result)
    );
    text(&result)
}

#[tokio::test(flavor = "multi_thread")]
async fn traps_and_resource_limits_end_only_the_call() {
    let jail = jail();
    let session = open(
        Transport::Stdio,
        &jail.workspace,
        ScriptedClient::replying("ok"),
    )
    .await;
    let before = jail.workspace.snapshot();
    let cases: [(&str, Value, &str); 6] = [
        (
            "probe_spin",
            json!({}),
            "plugin `probe` hit a limit: CPU time: the call computed for more than 300 ms (`limits.cpu_time_ms`)",
        ),
        (
            "probe_alloc",
            json!({}),
            "plugin `probe` hit a limit: memory: the plugin tried to grow past 16 MiB (`limits.memory_mib`)",
        ),
        (
            "probe_recurse",
            json!({}),
            "plugin `probe` crashed: trapped: stack overflow",
        ),
        (
            "probe_unreachable",
            json!({}),
            "plugin `probe` crashed: trapped:",
        ),
        ("probe_oob", json!({}), "plugin `probe` crashed: trapped:"),
        (
            "probe_result",
            json!({"bytes": 5000}),
            "plugin `probe` hit a limit: result size: the result has 5000 bytes, more than 4096 (`limits.result_bytes`)",
        ),
    ];
    for (tool, arguments, expected) in cases {
        let started = Instant::now();
        let message = failure(&session.client, tool, arguments).await;
        assert!(message.starts_with(expected), "{tool}: {message}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{tool} took {:?}",
            started.elapsed()
        );
        // The host goes on serving, and the next call of the same plugin works.
        let ok = call(&session.client, "probe_result", json!({"bytes": 3})).await;
        assert_eq!(text(&ok), "rrr", "after {tool}");
    }
    assert!(
        failure(&session.client, "probe_oob", json!({}))
            .await
            .contains("out of bounds")
    );
    assert!(
        failure(&session.client, "probe_unreachable", json!({}))
            .await
            .contains("unreachable")
    );
    assert_eq!(jail.workspace.snapshot(), before);
    jail.assert_secret_intact();
}

#[tokio::test(flavor = "multi_thread")]
async fn appends_cannot_leave_their_grants() {
    let jail = jail();
    let session = open(
        Transport::Stdio,
        &jail.workspace,
        ScriptedClient::replying("ok"),
    )
    .await;
    let before = jail.workspace.snapshot();
    let long_segment = format!("logs/{}", "a".repeat(300));
    let long_path = format!("logs/{}", ["b"; 2100].join("/"));
    let escapes = [
        "../outside/secret.txt",
        "/tmp/escaped.txt",
        "/etc/passwd",
        "logs/sub/../../escaped.txt",
        "logs/../../outside/secret.txt",
        "logs/escape/secret.txt",
        "logs/escape/new.txt",
        "logs/secret-link",
        "probe.txt\0.evil",
        long_segment.as_str(),
        long_path.as_str(),
        "logs2/x.txt",
        "logs",
        "logs/",
        "probe.txt/../outside.txt",
        "./probe.txt",
        "",
        "C:\\windows\\x",
    ];
    for path in escapes {
        let message = failure(
            &session.client,
            "probe_append",
            json!({"path": path, "text": "pwned"}),
        )
        .await;
        assert!(message.contains("Denied"), "{path:?}: {message}");
    }
    assert_eq!(
        jail.workspace.snapshot(),
        before,
        "no file inside the workspace changed"
    );
    jail.assert_secret_intact();

    // What is granted still works, and a folder grant covers its subfolders.
    std::fs::create_dir(jail.workspace.path("logs/sub")).unwrap();
    for path in ["probe.txt", "logs/a.log", "logs/sub/b.log"] {
        let result = call(
            &session.client,
            "probe_append",
            json!({"path": path, "text": "fine"}),
        )
        .await;
        assert_eq!(result.is_error, Some(false), "{path}: {}", text(&result));
        assert_eq!(jail.workspace.read(path).as_deref(), Some("fine"));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn wasi_offers_no_files_environment_arguments_or_sockets() {
    let jail = jail();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let session = open(
        Transport::Stdio,
        &jail.workspace,
        ScriptedClient::replying("ok"),
    )
    .await;
    let before = jail.workspace.snapshot();

    let report: Value = serde_json::from_str(&text(
        &call(&session.client, "probe_wasi", json!({"port": port})).await,
    ))
    .unwrap();
    for probe in [
        "read_root",
        "read_dot",
        "open_passwd",
        "create_file",
        "tcp",
        "udp",
        "dns",
    ] {
        assert!(
            report[probe].get("denied").is_some(),
            "{probe} was allowed: {report}"
        );
    }
    assert_eq!(report["env"], 0, "{report}");
    assert_eq!(report["args"], 0, "{report}");
    assert!(
        matches!(listener.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "the plugin reached a socket"
    );
    assert_eq!(jail.workspace.snapshot(), before);
    jail.assert_secret_intact();
}

#[tokio::test(flavor = "multi_thread")]
async fn plugin_output_never_reaches_the_stdio_transport() {
    let jail = jail();
    let session = open(
        Transport::Stdio,
        &jail.workspace,
        ScriptedClient::replying("ok"),
    )
    .await;
    // 512 KiB to stdout and to stderr, far past the capture cap.
    let result = call(&session.client, "probe_print", json!({"bytes": 512 * 1024})).await;
    assert_eq!(text(&result), "printed");
    let after = call(&session.client, "probe_result", json!({"bytes": 2})).await;
    assert_eq!(text(&after), "rr", "the transport still speaks MCP");
}

#[tokio::test(flavor = "multi_thread")]
async fn sampling_policy_caps_tokens_and_requests() {
    let jail = jail();
    let client = ScriptedClient::replying("answer");
    let session = open(Transport::Stdio, &jail.workspace, client.clone()).await;

    let ok = call(
        &session.client,
        "probe_sample_many",
        json!({"count": 1, "max_tokens": 100000}),
    )
    .await;
    assert_eq!(ok.is_error, Some(false), "{}", text(&ok));
    assert_eq!(
        client.asked.lock().unwrap()[0].max_tokens,
        50,
        "clamped to `sampling.max_tokens`"
    );

    let message = failure(&session.client, "probe_sample_many", json!({"count": 3})).await;
    assert!(message.contains("sample 2: Error::Refused"), "{message}");
    assert!(message.contains("at most 2 sampling requests"), "{message}");
    assert_eq!(
        client.asked.lock().unwrap().len(),
        3,
        "1 + 2: the third request never reached the client"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_never_answers_times_out_and_is_told_to_stop() {
    let jail = jail();
    let client = ScriptedClient::replying("too late").slow(Duration::from_secs(4));
    let session = open(Transport::Stdio, &jail.workspace, client.clone()).await;
    let started = Instant::now();
    let message = failure(&session.client, "probe_sample", json!({"prompt": "hello?"})).await;
    assert!(message.contains("TimedOut"), "{message}");
    assert!(message.contains("`sampling.timeout_s`"), "{message}");
    assert!(started.elapsed() < Duration::from_secs(4));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        client.cancelled.lock().unwrap().len(),
        1,
        "the client was sent notifications/cancelled"
    );
    let after = call(&session.client, "probe_result", json!({"bytes": 1})).await;
    assert_eq!(text(&after), "r");
}

#[tokio::test(flavor = "multi_thread")]
async fn append_size_and_quota_are_enforced_without_torn_records() {
    // Twenty thousand appends are real work; give them the CPU.
    let jail = jail_with_cpu_ms(60_000);
    let session = open(
        Transport::Stdio,
        &jail.workspace,
        ScriptedClient::replying("ok"),
    )
    .await;
    let message = failure(
        &session.client,
        "probe_append",
        json!({"path": "probe.txt", "text": "x".repeat(2000)}),
    )
    .await;
    assert!(
        message.contains("QuotaExceeded") && message.contains("`limits.append_bytes`"),
        "{message}"
    );
    assert!(!jail.workspace.path("probe.txt").exists());

    // 49-byte records until the 1 MiB quota refuses one.
    let message = failure(
        &session.client,
        "probe_append_many",
        json!({"path": "logs/q.log", "tag": "q", "count": 30000}),
    )
    .await;
    assert!(
        message.contains("QuotaExceeded") && message.contains("`limits.quota_mib`"),
        "{message}"
    );
    let written = jail.workspace.read("logs/q.log").unwrap();
    assert!(written.len() <= 1024 * 1024);
    assert_eq!(written.len() % 49, 0, "only whole records");
    assert_eq!(written.len() / 49, 1024 * 1024 / 49);
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_calls_and_wall_clock_are_limited() {
    let jail = jail();
    let session = open(
        Transport::Stdio,
        &jail.workspace,
        ScriptedClient::replying("ok"),
    )
    .await;
    let calls = (0..6).map(|_| {
        call(
            &session.client,
            "probe_sleep",
            json!({"ms": 1500, "path": "probe.txt", "text": "z"}),
        )
    });
    let results = futures::future::join_all(calls).await;
    let refused: Vec<String> = results
        .iter()
        .filter(|r| r.is_error == Some(true))
        .map(text)
        .collect();
    assert_eq!(refused.len(), 2, "{refused:?}");
    for message in &refused {
        assert!(
            message.contains("concurrent calls: 4 are already running"),
            "{message}"
        );
    }
    assert_eq!(jail.workspace.read("probe.txt").as_deref(), Some("zzzz"));

    let started = Instant::now();
    let message = failure(
        &session.client,
        "probe_sleep",
        json!({"ms": 8000, "path": "probe.txt", "text": "late"}),
    )
    .await;
    assert!(
        message.contains("wall-clock time: the call ran longer than 5 s"),
        "{message}"
    );
    assert!(started.elapsed() < Duration::from_secs(7));
    assert_eq!(
        jail.workspace.read("probe.txt").as_deref(),
        Some("zzzz"),
        "no append after the limit"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_arguments_are_refused() {
    let jail = jail();
    let session = open(
        Transport::Stdio,
        &jail.workspace,
        ScriptedClient::replying("ok"),
    )
    .await;
    let error = session
        .client
        .call_tool(
            rmcp::model::CallToolRequestParams::new("probe_append").with_arguments(
                json!({"path": "probe.txt", "text": "x".repeat(100_000)})
                    .as_object()
                    .unwrap()
                    .clone(),
            ),
        )
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("accepts at most 65536"),
        "{error}"
    );
    assert!(!jail.workspace.path("probe.txt").exists());
}
