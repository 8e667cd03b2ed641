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
    /// A client that answers sampling with "ok", connected to the jail's host.
    async fn open(&self, transport: Transport) -> Session {
        open(transport, &self.workspace, ScriptedClient::replying("ok")).await
    }

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
    let session = jail.open(Transport::Stdio).await;
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
            "plugin `probe` hit a limit: result size: the result has 5064 bytes, more than 4096 (`limits.result_bytes`; each content block",
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

/// The host serves every call on one thread, so a guest that computes must
/// give the thread back at every epoch tick: other calls go on meanwhile.
#[tokio::test(flavor = "multi_thread")]
async fn a_computing_call_does_not_hold_up_other_calls() {
    let jail = jail_with_cpu_ms(4000);
    let session = jail.open(Transport::Stdio).await;
    let spinning = failure(&session.client, "probe_spin", json!({}));
    let others = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let started = Instant::now();
        for _ in 0..5 {
            let ok = call(&session.client, "probe_result", json!({"bytes": 3})).await;
            assert_eq!(text(&ok), "rrr");
        }
        started.elapsed()
    };
    let (message, took) = tokio::join!(spinning, others);
    assert!(message.contains("hit a limit"), "{message}");
    assert!(
        took < Duration::from_secs(1),
        "5 calls took {took:?} beside a computing one"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn appends_cannot_leave_their_grants() {
    let jail = jail();
    let session = jail.open(Transport::Stdio).await;
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
    let session = jail.open(Transport::Stdio).await;
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
    let session = jail.open(Transport::Stdio).await;
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
    let session = jail.open(Transport::Stdio).await;
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

    // Four calls at once append 49-byte records until the 1 MiB quota
    // refuses one: the check and the write must be one step, or together
    // they pass the quota or tear a record.
    let calls = ["a", "b", "c", "d"].map(|tag| {
        failure(
            &session.client,
            "probe_append_many",
            json!({"path": "logs/q.log", "tag": tag, "count": 30000}),
        )
    });
    for message in futures::future::join_all(calls).await {
        assert!(
            message.contains("QuotaExceeded") && message.contains("`limits.quota_mib`"),
            "{message}"
        );
    }
    let written = jail.workspace.read("logs/q.log").unwrap();
    assert!(written.len() <= 1024 * 1024);
    assert_eq!(written.len() % 49, 0, "only whole records");
    assert_eq!(
        written.len() / 49,
        1024 * 1024 / 49,
        "up to the quota exactly"
    );
    let filler = "x".repeat(40);
    for line in written.lines() {
        let parts: Vec<&str> = line.split(' ').collect();
        assert!(
            parts.len() == 3 && parts[0].len() == 1 && parts[1].len() == 5 && parts[2] == filler,
            "torn record: {line:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_calls_and_wall_clock_are_limited() {
    let jail = jail();
    let session = jail.open(Transport::Stdio).await;
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
    let session = jail.open(Transport::Stdio).await;
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

/// Make a FIFO at `path`.
fn mkfifo(path: &std::path::Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .unwrap();
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn planted_hard_links_fifos_and_sockets_are_refused_without_stalling() {
    let jail = jail();
    // Whoever can write into a granted folder plants things there.
    std::fs::hard_link(
        jail.outside.join("secret.txt"),
        jail.workspace.path("logs/hard"),
    )
    .unwrap();
    mkfifo(&jail.workspace.path("logs/fifo"));
    mkfifo(&jail.workspace.path("probe.txt"));
    let _socket =
        std::os::unix::net::UnixListener::bind(jail.workspace.path("logs/socket")).unwrap();
    let session = jail.open(Transport::Stdio).await;
    let planted = ["logs/hard", "logs/fifo", "probe.txt", "logs/socket"];
    for path in planted {
        let started = Instant::now();
        let append = failure(
            &session.client,
            "probe_append",
            json!({"path": path, "text": "pwned"}),
        );
        let message = tokio::time::timeout(Duration::from_secs(20), append)
            .await
            .unwrap_or_else(|_| panic!("the append to {path} stalled"));
        assert!(message.contains("Denied"), "{path}: {message}");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{path} stalled the append for {:?}",
            started.elapsed()
        );
    }
    // A FIFO with a reader opens, and is refused on its handle.
    let _reader = {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(0o4000) // O_NONBLOCK
            .open(jail.workspace.path("logs/fifo"))
            .unwrap()
    };
    let message = failure(
        &session.client,
        "probe_append",
        json!({"path": "logs/fifo", "text": "pwned"}),
    )
    .await;
    assert!(message.contains("not a regular file"), "{message}");
    // Nothing was left locked: the same grant still takes appends.
    let fine = call(
        &session.client,
        "probe_append",
        json!({"path": "logs/fine.log", "text": "fine"}),
    )
    .await;
    assert_eq!(fine.is_error, Some(false), "{}", text(&fine));
    jail.assert_secret_intact();
}

#[tokio::test(flavor = "multi_thread")]
async fn handle_floods_and_huge_random_requests_are_capped() {
    let jail = jail();
    let session = jail.open(Transport::Stdio).await;
    let message = failure(&session.client, "probe_handles", json!({"count": 100_000})).await;
    assert!(
        message.contains("crashed") && message.contains("resource table has no free keys"),
        "{message}"
    );
    let held = call(&session.client, "probe_handles", json!({"count": 1000})).await;
    assert_eq!(text(&held), "held 1000 handles");

    let message = failure(&session.client, "probe_random", json!({"bytes": 1 << 20})).await;
    assert!(message.contains("exceeds limit"), "{message}");
    let random = call(&session.client, "probe_random", json!({"bytes": 4096})).await;
    assert_eq!(text(&random), "got 4096 random bytes");
}

#[tokio::test(flavor = "multi_thread")]
async fn error_texts_are_capped_like_results() {
    let jail = jail();
    let session = jail.open(Transport::Stdio).await;
    let message = failure(&session.client, "probe_fail", json!({"bytes": 1_000_000})).await;
    assert!(
        message.len() < 4096 + 300,
        "{} bytes came back",
        message.len()
    );
    assert!(
        message.contains("more bytes cut") && message.contains("`limits.result_bytes`"),
        "{}",
        &message[message.len() - 200..]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn log_floods_are_budgeted_and_forged_lines_escaped() {
    let jail = jail();
    let session = jail.open(Transport::Http).await;
    let server = session.server.as_ref().unwrap();
    let line = "x".repeat(1000);
    let result = call(
        &session.client,
        "probe_log",
        json!({"message": line, "count": 20_000}),
    )
    .await;
    assert_eq!(text(&result), "logged");
    let forged = "innocent\n2026-11-22T00:00:00.000000Z ERROR wasm_mcp: forged by a plugin";
    call(&session.client, "probe_log", json!({"message": forged})).await;
    // The log reaches stderr through a writer thread: wait for the last line.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !server.log.lock().unwrap().contains("innocent") {
        assert!(Instant::now() < deadline, "the log never arrived");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let log = server.log.lock().unwrap().clone();
    let flood = log.lines().filter(|l| l.contains(&line)).count();
    assert!(
        (1..=66).contains(&flood),
        "64 KiB of 1000-byte lines at most, got {flood}"
    );
    assert_eq!(log.matches("used its log budget").count(), 1, "said once");
    assert!(
        !log.lines()
            .any(|l| l.starts_with("2026-11-22T00:00:00.000000Z")),
        "a plugin forged a log line:\n{log}"
    );
    assert!(log.contains(r"innocent\n2026-11-22"), "{log}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_parent_that_never_reads_stderr_does_not_stall_the_server() {
    let jail = jail();
    let mut command = tokio::process::Command::new(binary());
    command
        .env("WASM_MCP_CACHE_DIR", test_cache_dir())
        .current_dir(jail.workspace.dir.path())
        .args(["serve", "--stdio", "--config"])
        .arg(jail.workspace.config());
    // stderr is a pipe that nobody reads: it fills after 64 KiB.
    let (transport, _unread_stderr) = rmcp::transport::TokioChildProcess::builder(command)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let client = ScriptedClient::replying("ok").connect(transport).await;
    let started = Instant::now();
    // Long lines fill the pipe; many short ones would fill any queue that
    // waits for it.
    for round in 0..30 {
        let (line_bytes, count) = if round < 5 { (2000, 100) } else { (10, 1000) };
        let result = tokio::time::timeout(
            Duration::from_secs(10),
            call(
                &client,
                "probe_log",
                json!({"message": format!("{round} {}", "y".repeat(line_bytes)), "count": count}),
            ),
        )
        .await
        .unwrap_or_else(|_| panic!("call {round} stalled after {:?}", started.elapsed()));
        assert_eq!(text(&result), "logged");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn progress_reports_are_finite_growing_and_paced() {
    let jail = jail();
    let client = ScriptedClient::replying("ok");
    let session = open(Transport::Stdio, &jail.workspace, client.clone()).await;
    let request = rmcp::model::CallToolRequestParams::new("probe_progress_flood")
        .with_arguments(json!({"count": 5000}).as_object().unwrap().clone());
    let result = session.client.call_tool(request).await.unwrap();
    assert_eq!(text(&result), "flooded");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let progress = client.progress.lock().unwrap().clone();
    assert!(
        (2..=40).contains(&progress.len()),
        "5000 reports at once must be paced: {} arrived",
        progress.len()
    );
    assert!(
        progress
            .iter()
            .all(|(p, total, _)| p.is_finite() && total.is_none_or(f64::is_finite))
    );
    // The client may handle notifications out of order; what was sent grows.
    let mut sent: Vec<f64> = progress.iter().map(|(p, _, _)| *p).collect();
    sent.sort_by(f64::total_cmp);
    assert!(
        sent.windows(2).all(|w| w[1] > w[0]),
        "progress grows: {sent:?}"
    );
    assert_eq!(sent.last(), Some(&5000.0), "the last step arrives");
}

#[tokio::test(flavor = "multi_thread")]
async fn captured_output_is_logged_when_a_limit_ends_the_call() {
    let jail = jail();
    let session = jail.open(Transport::Http).await;
    let message = failure(&session.client, "probe_print_then_spin", json!({})).await;
    assert!(message.contains("CPU time"), "{message}");
    let server = session.server.as_ref().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !server
        .log
        .lock()
        .unwrap()
        .contains("last words before the spin")
    {
        assert!(
            Instant::now() < deadline,
            "the plugin's stderr was lost:\n{}",
            server.log.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A config with one plugin of crate `name` (built from `plugins/testing`).
fn lone_plugin(name: &str) -> Workspace {
    Workspace::with_config(&format!("[[plugin]]\ncomponent = {:?}\n", component(name)))
}

/// `wasm-mcp check` on `workspace`: (succeeded, stderr, how long it took).
fn check(workspace: &Workspace) -> (bool, String, Duration) {
    check_with(workspace, &[])
}

fn check_with(workspace: &Workspace, extra_args: &[&str]) -> (bool, String, Duration) {
    let started = Instant::now();
    let mut child = std::process::Command::new(binary())
        .env("WASM_MCP_CACHE_DIR", test_cache_dir())
        .args(["check", "--config"])
        .arg(workspace.config())
        .args(extra_args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // A check that hangs fails the test instead of hanging it.
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("`wasm-mcp check` hung");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
        started.elapsed(),
    )
}

#[test]
fn a_plugin_that_hangs_or_repeats_itself_in_list_tools_is_refused_at_load() {
    let (ok, stderr, took) = check(&lone_plugin("sleepy-list"));
    assert!(!ok);
    assert!(
        stderr.contains("`list-tools` did not return within 10 s"),
        "{stderr}"
    );
    assert!(took < Duration::from_secs(30), "{took:?}");

    let (ok, stderr, _) = check(&lone_plugin("twin-tools"));
    assert!(!ok);
    assert!(
        stderr.contains("names tool `twin` twice"),
        "a clear error, not a panic: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// A tool plugin written by hand in the component text format: besides its
/// own memory it instantiates `hogs` core modules with a memory each. Its
/// one tool, `many_memories`, grows every hog's memory by `grow_pages`,
/// traps if a grow is refused, spins `spin` loop turns, and returns "ok".
fn many_memories_component(hogs: usize, grow_pages: u32, spin: u32) -> Vec<u8> {
    // Static data: the list-tools answer at 100 (list of one `tool` record
    // at 200, its strings at 400..), the call's `ok` result at 300.
    let strings = [
        (400, "many_memories"),
        (500, "Grows several memories."),
        (600, r#"{"type":"object"}"#),
        (700, "ok"),
    ];
    let len = |at: u32| strings.iter().find(|(a, _)| *a == at).unwrap().1.len() as u32;
    let hex = |bytes: &[u8]| -> String { bytes.iter().map(|b| format!("\\{b:02x}")).collect() };
    let words = |values: &[u32]| {
        hex(&values
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect::<Vec<_>>())
    };
    let mut data = vec![
        (100, words(&[200, 1])),
        (
            200,
            words(&[400, len(400), 0, 0, 0, 500, len(500), 600, len(600)]),
        ),
        (300, words(&[0, 700, len(700)])),
    ];
    data.extend(strings.iter().map(|(at, s)| (*at, hex(s.as_bytes()))));
    let data: String = data
        .iter()
        .map(|(at, bytes)| format!("(data (i32.const {at}) \"{bytes}\")\n"))
        .collect();
    let hog_instances: String = (0..hogs)
        .map(|i| format!("(core instance $hog{i} (instantiate $hog))\n"))
        .collect();
    let hog_exports: String = (0..hogs)
        .map(|i| format!("(export \"grow{i}\" (func $hog{i} \"grow\"))"))
        .collect();
    let hog_imports: String = (0..hogs)
        .map(|i| {
            format!("(import \"hogs\" \"grow{i}\" (func $grow{i} (param i32) (result i32)))\n")
        })
        .collect();
    let grows: String = (0..hogs)
        .map(|i| {
            format!("(if (i32.lt_s (call $grow{i} (i32.const {grow_pages})) (i32.const 0)) (then unreachable))\n")
        })
        .collect();
    let text = format!(
        r#"(component
  (core module $hog
    (memory (export "memory") 1)
    (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))
  {hog_instances}
  (core instance $hogs {hog_exports})
  (core module $main
    {hog_imports}
    (memory (export "memory") 1)
    (global $next (mut i32) (i32.const 4096))
    (func (export "realloc") (param i32 i32 i32 i32) (result i32)
      (local $at i32)
      (local.set $at (i32.and
        (i32.add (global.get $next) (i32.sub (local.get 2) (i32.const 1)))
        (i32.sub (i32.const 0) (local.get 2))))
      (global.set $next (i32.add (local.get $at) (local.get 3)))
      (if (i32.gt_u (global.get $next) (i32.mul (memory.size) (i32.const 65536)))
        (then (drop (memory.grow (i32.add (i32.div_u (global.get $next) (i32.const 65536)) (i32.const 1))))))
      (local.get $at))
    (func (export "list-tools") (result i32) (i32.const 100))
    (func (export "call") (param i32 i32 i32 i32) (result i32)
      (local $turns i32)
      {grows}
      (local.set $turns (i32.const {spin}))
      (block $done (loop $spin
        (br_if $done (i32.eqz (local.get $turns)))
        (local.set $turns (i32.sub (local.get $turns) (i32.const 1)))
        (br $spin)))
      (i32.const 300))
    {data})
  (core instance $main (instantiate $main (with "hogs" (instance $hogs))))
  (type $tool-type (record (field "name" string) (field "title" (option string))
                      (field "description" string) (field "input-schema" string)))
  (export $tool "tool" (type $tool-type))
  (type $call-error-type (variant (case "invalid-arguments" string) (case "failed" string)))
  (export $call-error "call-error" (type $call-error-type))
  (func $list-tools (result (list $tool))
    (canon lift (core func $main "list-tools") (memory (core memory $main "memory")) (realloc (core func $main "realloc"))))
  (func $call (param "name" string) (param "arguments" string) (result (result string (error $call-error)))
    (canon lift (core func $main "call") (memory (core memory $main "memory")) (realloc (core func $main "realloc"))))
  (instance $tools (export "list-tools" (func $list-tools)) (export "call" (func $call)))
  (export "wasm-mcp:plugin/tools@0.1.0" (instance $tools)))"#
    );
    wat::parse_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// A workspace serving the hand-written component beside the probe.
fn many_memories_workspace(component_bytes: &[u8], limits: &str) -> Workspace {
    let workspace = Workspace::new();
    std::fs::write(workspace.path("many.wasm"), component_bytes).unwrap();
    std::fs::write(
        workspace.config(),
        format!(
            "[[plugin]]\nname = \"many\"\ncomponent = \"many.wasm\"\n[plugin.limits]\n{limits}\n\n[[plugin]]\ncomponent = {:?}\n",
            component("probe")
        ),
    )
    .unwrap();
    workspace
}

#[tokio::test(flavor = "multi_thread")]
async fn the_memory_limit_counts_every_memory_of_a_call() {
    // Four memories of 10 MiB each fit a per-memory limit of 16 MiB, not a
    // per-call one.
    let workspace = many_memories_workspace(&many_memories_component(3, 160, 0), "memory_mib = 16");
    let session = open(Transport::Stdio, &workspace, ScriptedClient::replying("ok")).await;
    let message = failure(&session.client, "many_memories", json!({})).await;
    assert!(
        message
            .starts_with("plugin `many` hit a limit: memory: the plugin tried to grow past 16 MiB"),
        "{message}"
    );
    let ok = call(&session.client, "probe_result", json!({"bytes": 2})).await;
    assert_eq!(text(&ok), "rr");
}

#[test]
fn a_component_with_more_memories_than_a_call_may_have_is_refused() {
    let workspace = many_memories_workspace(&many_memories_component(6, 0, 0), "");
    // The pooling allocator refuses it when compiling it; the store's
    // limiter when instantiating it.
    for (allocator, expected) in [
        (
            "pooling",
            "contains 7 Wasm linear memories, which exceeds the configured maximum of 4",
        ),
        ("on-demand", "at most 64 core instances, 4 memories"),
    ] {
        let (ok, stderr, _) = check_with(&workspace, &["--allocator", allocator, "--no-cache"]);
        assert!(!ok, "{stderr}");
        assert!(
            stderr.contains("plugin `many`") && stderr.contains(expected),
            "{allocator}: {stderr}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_instance_pool_is_a_named_limit_and_other_plugins_go_on() {
    // 16 calls of a four-memory component at once need 64 memory slots; the
    // pool has two per call slot (16 + 1 + 8 slots).
    let workspace = many_memories_workspace(
        &many_memories_component(3, 0, 1_500_000_000),
        "concurrent_calls = 16\ncpu_time_ms = 60000",
    );
    // The probe's own slot: one call at a time.
    let config = std::fs::read_to_string(workspace.config()).unwrap();
    std::fs::write(
        workspace.config(),
        config + "[plugin.limits]\nconcurrent_calls = 1\n",
    )
    .unwrap();
    let session = open_with(
        Transport::Stdio,
        &workspace,
        ScriptedClient::replying("ok"),
        &["--allocator", "pooling"],
    )
    .await;
    let calls = (0..16).map(|_| call(&session.client, "many_memories", json!({})));
    let results = futures::future::join_all(calls).await;
    let refused: Vec<String> = results
        .iter()
        .filter(|r| r.is_error == Some(true))
        .map(text)
        .collect();
    assert!(!refused.is_empty(), "the pool should have run out");
    for message in &refused {
        assert!(
            message.contains("hit a limit: instance pool: every slot is in use"),
            "{message}"
        );
    }
    assert!(results.iter().any(|r| text(r) == "ok"));
    let ok = call(&session.client, "probe_result", json!({"bytes": 2})).await;
    assert_eq!(text(&ok), "rr");
}

#[tokio::test(flavor = "multi_thread")]
async fn two_host_processes_appending_to_one_file_never_tear_records() {
    let workspace = Workspace::with_config(&format!(
        "[[plugin]]\ncomponent = {:?}\nappend = [\"logs/\"]\n[plugin.limits]\nconcurrent_calls = 64\ncpu_time_ms = 120000\n",
        component("probe")
    ));
    std::fs::create_dir(workspace.path("logs")).unwrap();
    let hosts = [
        open(Transport::Stdio, &workspace, ScriptedClient::replying("x")).await,
        open(Transport::Stdio, &workspace, ScriptedClient::replying("x")).await,
    ];
    let calls = hosts.iter().enumerate().flat_map(|(host, session)| {
        (0..20).map(move |i| {
            call(
                &session.client,
                "probe_append_many",
                json!({"path": "logs/shared.log", "tag": format!("{host}{i:03}"), "count": 200}),
            )
        })
    });
    for result in futures::future::join_all(calls).await {
        assert_eq!(result.is_error, Some(false), "{}", text(&result));
    }
    let written = workspace.read("logs/shared.log").unwrap();
    let filler = "x".repeat(40);
    let mut seen = std::collections::HashSet::new();
    for line in written.lines() {
        let parts: Vec<&str> = line.split(' ').collect();
        assert!(
            parts.len() == 3 && parts[0].len() == 4 && parts[1].len() == 5 && parts[2] == filler,
            "torn record: {line:?}"
        );
        assert!(seen.insert((parts[0], parts[1])), "duplicate {line:?}");
    }
    assert_eq!(seen.len(), 2 * 20 * 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_write_cut_short_leaves_no_partial_record() {
    let workspace = Workspace::with_config(&format!(
        "[[plugin]]\ncomponent = {:?}\nappend = [\"probe.txt\"]\n",
        component("probe")
    ));
    // The host may write files of at most 4 MiB (`ulimit -f 4096`, in KiB
    // for bash): the fifth 1,000,000-byte record is cut short by the kernel.
    let mut command = tokio::process::Command::new("bash");
    command
        .env("WASM_MCP_CACHE_DIR", test_cache_dir())
        .current_dir(workspace.dir.path())
        .args(["-c", "ulimit -f 4096 && exec \"$0\" \"$@\""])
        .arg(binary())
        .args(["serve", "--stdio", "--config"])
        .arg(workspace.config());
    let (transport, _) = rmcp::transport::TokioChildProcess::builder(command)
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .unwrap();
    let client = ScriptedClient::replying("ok").connect(transport).await;
    let record = "r".repeat(999_999) + "\n";
    for _ in 0..4 {
        let ok = call(
            &client,
            "probe_append",
            json!({"path": "probe.txt", "text": record}),
        )
        .await;
        assert_eq!(ok.is_error, Some(false), "{}", text(&ok));
    }
    let message = failure(
        &client,
        "probe_append",
        json!({"path": "probe.txt", "text": record}),
    )
    .await;
    assert!(
        message.contains("Io") && message.contains("nothing of this record was kept"),
        "{message}"
    );
    assert_eq!(
        std::fs::read(workspace.path("probe.txt")).unwrap().len(),
        4_000_000,
        "whole records only"
    );
    // The host survived the kernel's SIGXFSZ and goes on.
    let after = call(&client, "probe_result", json!({"bytes": 1})).await;
    assert_eq!(text(&after), "r");
}

/// A JSON-RPC batch over stdio gets one JSON-RPC error (MCP removed batches
/// in 2025-06-18), as does JSON that is no object; never silence, and the
/// server goes on serving.
#[test]
fn a_json_rpc_batch_over_stdio_is_answered_not_ignored() {
    use std::io::{BufRead, Write};
    let workspace = Workspace::standard();
    let mut child = std::process::Command::new(binary())
        .env("WASM_MCP_CACHE_DIR", test_cache_dir())
        .current_dir(workspace.dir.path())
        .args(["serve", "--stdio", "--config"])
        .arg(workspace.config())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    // Read on a thread, so a line left unanswered fails the test instead of
    // hanging it.
    let (lines, received) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in stdout.lines() {
            let Ok(line) = line else { break };
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    // The next answer, past anything the server sends of its own accord.
    let next = || -> Value {
        loop {
            let line = received
                .recv_timeout(Duration::from_secs(30))
                .expect("a line sent to the server went unanswered for 30 s");
            let message: Value = serde_json::from_str(&line).unwrap();
            if message.get("method").is_none() {
                return message;
            }
        }
    };
    let mut send = |line: &str| {
        stdin.write_all(line.as_bytes()).unwrap();
        stdin.write_all(b"\n").unwrap();
        stdin.flush().unwrap();
    };

    send(r#"[{"jsonrpc": "2.0", "id": 1, "method": "ping"}]"#);
    let batch = next();
    assert_eq!(batch["id"], Value::Null, "{batch}");
    assert_eq!(batch["error"]["code"], -32600, "{batch}");
    let message = batch["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("batches") && message.contains("2025-06-18"),
        "{message}"
    );
    send("42");
    let number = next();
    assert_eq!(number["id"], Value::Null, "{number}");
    assert_eq!(number["error"]["code"], -32600, "{number}");

    send(
        &json!({"jsonrpc": "2.0", "id": 2, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "raw", "version": "1"}
        }})
        .to_string(),
    );
    let initialized = next();
    assert_eq!(initialized["id"], 2, "{initialized}");
    assert!(initialized.get("result").is_some(), "{initialized}");
    send(r#"{"jsonrpc": "2.0", "method": "notifications/initialized"}"#);
    send(r#"[{"jsonrpc": "2.0", "method": "notifications/initialized"}]"#);
    let notifications = next();
    assert_eq!(notifications["error"]["code"], -32600, "{notifications}");
    send(r#"{"jsonrpc": "2.0", "id": 3, "method": "ping"}"#);
    let pong = next();
    assert_eq!(pong["id"], 3, "{pong}");
    assert!(pong.get("result").is_some(), "{pong}");

    drop(stdin);
    let _ = child.kill();
    let _ = child.wait();
}

/// A TCP connection to the server at `url`, from `local` (any address in
/// 127/8: Linux routes all of it to loopback, and the server tells clients
/// apart by address), with nothing sent yet.
async fn connect_from(url: &str, local: [u8; 4]) -> tokio::net::TcpStream {
    let server: std::net::SocketAddr = authority_of(url).parse().unwrap();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket
        .bind((std::net::Ipv4Addr::from(local), 0u16).into())
        .unwrap();
    socket.connect(server).await.unwrap()
}

/// `127.0.0.1:PORT` of a server URL `http://127.0.0.1:PORT/mcp`.
fn authority_of(url: &str) -> &str {
    url.trim_start_matches("http://").trim_end_matches("/mcp")
}

/// Read `stream` until the server closes it: what it sent, or `None` when
/// it is still open after `limit`.
async fn until_closed(stream: &mut tokio::net::TcpStream, limit: Duration) -> Option<String> {
    use tokio::io::AsyncReadExt;
    let mut received = Vec::new();
    let read_all = async {
        let mut buffer = [0u8; 4096];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(n) => received.extend_from_slice(&buffer[..n]),
            }
        }
    };
    tokio::time::timeout(limit, read_all).await.ok()?;
    Some(String::from_utf8_lossy(&received).into_owned())
}

/// The head of a POST to /mcp that promises a 1000-byte body; one byte of
/// it follows.
fn stalled_post(url: &str) -> Vec<u8> {
    format!(
        "POST /mcp HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
         Accept: application/json, text/event-stream\r\nContent-Length: 1000\r\n\r\n{{",
        authority_of(url)
    )
    .into_bytes()
}

/// Slow clients cannot hold connections (a head must arrive within
/// --header-timeout-s, a body within --body-timeout-s), and one address at
/// --max-connections-per-client is refused at once while another address
/// is served as usual.
#[tokio::test(flavor = "multi_thread")]
async fn slow_and_greedy_connections_are_closed_and_other_clients_still_served() {
    use tokio::io::AsyncWriteExt;
    let workspace = Workspace::standard();
    let server = HttpServer::start_with(
        Some(&workspace.config()),
        workspace.dir.path(),
        &[
            "--header-timeout-s",
            "4",
            "--body-timeout-s",
            "4",
            "--max-connections",
            "32",
            "--max-connections-per-client",
            "4",
        ],
    );
    let url = server.url.clone();
    let local = [127, 0, 0, 1];
    let opened = Instant::now();
    // 127.0.0.1 takes its four connections: half a head, nothing, a body
    // promised and stalled after one byte, nothing.
    let mut half_head = connect_from(&url, local).await;
    half_head
        .write_all(format!("POST /mcp HTTP/1.1\r\nHost: {}\r\n", authority_of(&url)).as_bytes())
        .await
        .unwrap();
    let mut silent = connect_from(&url, local).await;
    let mut stalled_body = connect_from(&url, local).await;
    stalled_body.write_all(&stalled_post(&url)).await.unwrap();
    let mut also_silent = connect_from(&url, local).await;

    // A fifth from that address is over its share: answered and closed at
    // once (the server accepts in order, so the four above hold their places).
    let mut fifth = connect_from(&url, local).await;
    let refused = until_closed(&mut fifth, Duration::from_secs(2))
        .await
        .expect("a connection over the per-client cap is closed at once, not held");
    assert!(refused.starts_with("HTTP/1.1 503"), "{refused}");
    assert!(
        refused.contains("--max-connections-per-client"),
        "{refused}"
    );

    // Another client, 127.0.0.2, is served meanwhile: a real initialize.
    let other = reqwest::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, 2]))
        .build()
        .unwrap();
    let initialized = other
        .post(&url)
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .body(
            json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                "protocolVersion": "2025-11-25", "capabilities": {},
                "clientInfo": {"name": "other", "version": "1"}
            }})
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(initialized.status(), 200);
    assert!(initialized.headers().contains_key("mcp-session-id"));

    // Each slow connection is closed once its timeout (4 s) passes.
    let limit = Duration::from_secs(20);
    for (what, stream) in [
        ("half a head", &mut half_head),
        ("nothing", &mut silent),
        ("nothing", &mut also_silent),
    ] {
        assert!(
            until_closed(stream, limit).await.is_some(),
            "a connection that sent {what} is still open after {} s",
            opened.elapsed().as_secs()
        );
    }
    let timed_out = until_closed(&mut stalled_body, limit)
        .await
        .expect("a connection whose body stalled is still open");
    assert!(timed_out.starts_with("HTTP/1.1 408"), "{timed_out}");
    assert!(timed_out.contains("--body-timeout-s"), "{timed_out}");
    assert!(
        opened.elapsed() < limit,
        "slow connections took {:?} to close",
        opened.elapsed()
    );
}

/// With a token configured, a request without it is refused on its head,
/// before the body it promises is read: a client without the token cannot
/// hold a connection by stalling a body.
#[tokio::test(flavor = "multi_thread")]
async fn the_token_is_checked_before_any_body_is_read() {
    use tokio::io::AsyncWriteExt;
    let workspace = Workspace::standard();
    let server = HttpServer::start_env(
        Some(&workspace.config()),
        workspace.dir.path(),
        &["--body-timeout-s", "60"],
        &[("WASM_MCP_AUTH_TOKEN", "a-secret-token")],
    );
    let mut stream = connect_from(&server.url, [127, 0, 0, 1]).await;
    stream.write_all(&stalled_post(&server.url)).await.unwrap();
    let answer = until_closed(&mut stream, Duration::from_secs(20))
        .await
        .expect("the connection is held while its body stalls, token or not");
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
}

/// `--max-sessions` holds for concurrent `initialize` requests: counting
/// the live sessions and taking a place is one step, so ten at once open
/// two sessions and the rest get the JSON-RPC 503.
#[tokio::test(flavor = "multi_thread")]
async fn concurrent_initializes_open_no_more_sessions_than_the_cap() {
    let workspace = Workspace::standard();
    let server = HttpServer::start_with(
        Some(&workspace.config()),
        workspace.dir.path(),
        &["--max-sessions", "2"],
    );
    let http = reqwest::Client::new();
    let initializes = (0..10).map(|id| {
        let request = http
            .post(&server.url)
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json")
            .body(
                json!({"jsonrpc": "2.0", "id": id, "method": "initialize", "params": {
                    "protocolVersion": "2025-11-25", "capabilities": {},
                    "clientInfo": {"name": format!("racer{id}"), "version": "1"}
                }})
                .to_string(),
            );
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let opened = response.headers().contains_key("mcp-session-id");
            (status, opened, response.text().await.unwrap())
        }
    });
    let answers = futures::future::join_all(initializes).await;
    let opened = answers.iter().filter(|(_, opened, _)| *opened).count();
    assert_eq!(opened, 2, "sessions opened: {answers:?}");
    for (status, opened, body) in &answers {
        if !opened {
            assert_eq!(*status, 503, "{body}");
            let answer: Value = serde_json::from_str(body).unwrap();
            let message = answer["error"]["message"].as_str().unwrap_or_default();
            assert!(message.contains("--max-sessions"), "{answer}");
        }
    }
}
