//! `wasm-mcp new`: the generated plugin builds for wasm32-wasip2 as
//! generated, `check` accepts its config entry, and its tool samples.
#![allow(deprecated)]

mod common;

use std::process::Command;

use common::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn a_new_plugin_builds_checks_and_answers() {
    let parent = tempfile::tempdir().unwrap();
    let created = Command::new(binary())
        .args(["new", "hello-tool", "--dir"])
        .arg(parent.path())
        .output()
        .unwrap();
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    assert!(
        String::from_utf8_lossy(&created.stdout)
            .contains("cargo build --release --target wasm32-wasip2")
    );
    let crate_dir = parent.path().join("hello-tool");

    // Build as a user would; share the plugins' target folder to save time,
    // then put the component where the generated config expects it.
    let shared = repo_root().join("plugins/target");
    let build = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(&crate_dir)
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--target-dir",
        ])
        .arg(&shared)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .output()
        .unwrap();
    assert!(
        build.status.success(),
        "{}",
        String::from_utf8_lossy(&build.stderr)
    );
    let expected = crate_dir.join("target/wasm32-wasip2/release");
    std::fs::create_dir_all(&expected).unwrap();
    std::fs::copy(
        shared.join("wasm32-wasip2/release/hello_tool.wasm"),
        expected.join("hello_tool.wasm"),
    )
    .unwrap();

    let config = crate_dir.join("wasm-mcp.toml");
    let check = Command::new(binary())
        .env("WASM_MCP_CACHE_DIR", test_cache_dir())
        .args(["check", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&check.stdout);
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(stdout.contains("tool  ask: Answers a question"), "{stdout}");

    for modern in [false, true] {
        let client = ScriptedClient::replying("Rayleigh scattering.");
        let client = if modern { client.modern() } else { client };
        let session = connect_stdio(client.clone(), Some(&config), &crate_dir).await;
        let result = call(&session, "ask", json!({"question": "Why is the sky blue?"})).await;
        assert_eq!(text(&result), "Rayleigh scattering.");
        assert_eq!(
            client.asked.lock().unwrap()[0].system_prompt.as_deref(),
            Some("Answer in one short paragraph.")
        );
    }
    assert_eq!(
        std::fs::read_to_string(crate_dir.join("answers.txt")).unwrap(),
        "Q: Why is the sky blue?\nA: Rayleigh scattering.\n\n".repeat(2)
    );

    let again = Command::new(binary())
        .args(["new", "hello-tool", "--dir"])
        .arg(parent.path())
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
}

/// `wasm-mcp new NAME ARGS...` in a fresh folder, built as a user would
/// (sharing the plugins' target folder to save time), with the component
/// where the generated config expects it. Returns (parent, crate folder).
fn create_and_build(name: &str, args: &[&str]) -> (tempfile::TempDir, std::path::PathBuf) {
    let parent = tempfile::tempdir().unwrap();
    let created = Command::new(binary())
        .args(["new", name, "--dir"])
        .arg(parent.path())
        .args(args)
        .output()
        .unwrap();
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let crate_dir = parent.path().join(name);
    let shared = repo_root().join("plugins/target");
    let build = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(&crate_dir)
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--target-dir",
        ])
        .arg(&shared)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .output()
        .unwrap();
    assert!(
        build.status.success(),
        "{}",
        String::from_utf8_lossy(&build.stderr)
    );
    let expected = crate_dir.join("target/wasm32-wasip2/release");
    std::fs::create_dir_all(&expected).unwrap();
    let file = format!("{}.wasm", name.replace('-', "_"));
    std::fs::copy(
        shared.join("wasm32-wasip2/release").join(&file),
        expected.join(&file),
    )
    .unwrap();
    (parent, crate_dir)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_fetch_plugin_builds_checks_fetches_and_summarises() {
    let (_parent, crate_dir) = create_and_build("page-reader", &["--template", "fetch"]);
    let config = crate_dir.join("wasm-mcp.toml");
    let check = Command::new(binary())
        .env("WASM_MCP_CACHE_DIR", test_cache_dir())
        .args(["check", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&check.stdout);
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(
        stdout.contains("tool  summarize: Summarizes a web page"),
        "{stdout}"
    );
    assert!(
        stdout.contains("may fetch GET,HEAD https://en.wikipedia.org/wiki/"),
        "{stdout}"
    );

    // Point its grant at a page served here.
    let app = axum::Router::new().route(
        "/wiki/Wasm",
        axum::routing::get(|| async { "WebAssembly is a portable binary format." }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let generated = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        generated.replace(
            "https://en.wikipedia.org/wiki/",
            &format!("http://{address}/wiki/"),
        ),
    )
    .unwrap();

    let client = ScriptedClient::replying("A portable format.");
    let session = connect_stdio(client.clone(), Some(&config), &crate_dir).await;
    let url = format!("http://{address}/wiki/Wasm");
    let result = call(&session, "summarize", json!({ "url": url })).await;
    assert_eq!(text(&result), "A portable format.");
    assert!(client.prompts()[0].contains("portable binary format"));
    assert_eq!(
        std::fs::read_to_string(crate_dir.join("summaries.txt")).unwrap(),
        format!("URL: {url}\nSUMMARY: A portable format.\n\n")
    );
}

/// `wasm-mcp new NAME --lang LANG`, then every step it prints, run as
/// printed in the new folder (with `wasm-mcp` on the PATH), but the last,
/// which waits for a person to answer. Returns (parent, project folder).
fn create_and_follow(name: &str, lang: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let parent = tempfile::tempdir().unwrap();
    let created = Command::new(binary())
        .args(["new", name, "--lang", lang, "--dir"])
        .arg(parent.path())
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&created.stdout).into_owned();
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let project = parent.path().join(name);
    let steps: Vec<&str> = printed
        .lines()
        .skip_while(|line| !line.trim_start().starts_with("cd "))
        .skip(1)
        .take_while(|line| !line.trim().is_empty())
        .map(str::trim)
        .collect();
    assert!(steps.last().unwrap().contains("--llm human"), "{printed}");
    let path = format!(
        "{}:{}",
        std::path::Path::new(binary()).parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    for step in &steps[..steps.len() - 1] {
        let ran = Command::new("sh")
            .args(["-c", step])
            .current_dir(&project)
            .env("PATH", &path)
            .env("WASM_MCP_CACHE_DIR", test_cache_dir())
            .output()
            .unwrap();
        assert!(
            ran.status.success(),
            "`{step}` failed:\n{}\n{}",
            String::from_utf8_lossy(&ran.stdout),
            String::from_utf8_lossy(&ran.stderr)
        );
        if step.starts_with("wasm-mcp check") {
            let stdout = String::from_utf8_lossy(&ran.stdout);
            assert!(stdout.contains("tool  ask: Answers a question"), "{stdout}");
        }
    }
    (parent, project)
}

/// The generated `ask` tool samples and keeps its record, in both eras.
async fn ask_in_both_eras(project: &std::path::Path) {
    let config = project.join("wasm-mcp.toml");
    for modern in [false, true] {
        let client = ScriptedClient::replying("Rayleigh scattering.");
        let client = if modern { client.modern() } else { client };
        let session = connect_stdio(client.clone(), Some(&config), project).await;
        let tools = session.list_all_tools().await.unwrap();
        let schema = serde_json::to_value(&tools[0].input_schema).unwrap();
        assert_eq!(
            schema["properties"]["question"],
            json!({"type": "string", "description": "What to ask."})
        );
        let result = call(&session, "ask", json!({"question": "Why is the sky blue?"})).await;
        assert_eq!(text(&result), "Rayleigh scattering.");
        let asked = client.asked.lock().unwrap()[0].clone();
        assert_eq!(
            asked.system_prompt.as_deref(),
            Some("Answer in one short paragraph.")
        );
        assert_eq!(asked.max_tokens, 300);
        let wrong = call(&session, "ask", json!({"question": 42})).await;
        assert_eq!(wrong.is_error, Some(true));
        assert!(text(&wrong).contains("question"), "{}", text(&wrong));
    }
    assert_eq!(
        std::fs::read_to_string(project.join("answers.txt")).unwrap(),
        "Q: Why is the sky blue?\nA: Rayleigh scattering.\n\n".repeat(2)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_python_plugin_builds_checks_and_answers_as_printed() {
    let (_parent, project) = create_and_follow("hello-py", "python");
    assert!(
        project.join(".venv/bin/python").exists(),
        "the toolchain is in the project"
    );
    ask_in_both_eras(&project).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_typescript_plugin_builds_checks_and_answers_as_printed() {
    let (_parent, project) = create_and_follow("hello-ts", "ts");
    assert!(
        project
            .join("node_modules/@bytecodealliance/componentize-js")
            .exists(),
        "the toolchain is in the project"
    );
    // The generated project type-checks against the types made from the WIT.
    let checked = Command::new("npm")
        .args(["run", "check"])
        .current_dir(&project)
        .output()
        .unwrap();
    assert!(
        checked.status.success(),
        "{}",
        String::from_utf8_lossy(&checked.stdout)
    );
    ask_in_both_eras(&project).await;
}

#[test]
fn the_fetch_template_is_refused_outside_rust_with_a_way_forward() {
    let parent = tempfile::tempdir().unwrap();
    let refused = Command::new(binary())
        .args([
            "new",
            "x",
            "--lang",
            "python",
            "--template",
            "fetch",
            "--dir",
        ])
        .arg(parent.path())
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("use `--lang rust`"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    assert!(!parent.path().join("x").exists());
}
