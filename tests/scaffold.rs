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
