//! A plugin written in Python, built from source with componentize-py (from
//! PyPI) against `wit/plugin.wit`, served by the same host: the WIT is the
//! only contract.
#![allow(deprecated)]

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::*;
use serde_json::json;

const COMPONENTIZE_PY: &str = "0.25.1";

/// Build `plugins/py-haiku` into a component (componentize-py is installed
/// into `target/python/` on first use).
fn build_python_plugin() -> PathBuf {
    let venv = repo_root()
        .join("target/python")
        .join(format!("componentize-py-{COMPONENTIZE_PY}"));
    let tool = venv.join("bin/componentize-py");
    if !tool.exists() {
        let made = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .unwrap();
        assert!(made.success(), "python3 -m venv failed");
        let installed = Command::new(venv.join("bin/python"))
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .arg(format!("componentize-py=={COMPONENTIZE_PY}"))
            .status()
            .unwrap();
        assert!(
            installed.success(),
            "pip install componentize-py failed (needs PyPI)"
        );
    }
    let output = venv.parent().unwrap().join("py_haiku.wasm");
    let built = Command::new(&tool)
        .current_dir(repo_root().join("plugins/py-haiku"))
        .args([
            "-d",
            "../../wit/v0.1",
            "-w",
            "tool-plugin",
            "componentize",
            "app",
            "-o",
        ])
        .arg(&output)
        .output()
        .unwrap();
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    output
}

#[tokio::test(flavor = "multi_thread")]
async fn a_python_plugin_is_served_like_any_other_in_both_eras() {
    let component = build_python_plugin();
    let workspace = Workspace::with_config(&format!(
        "[[plugin]]\ncomponent = {component:?}\nappend = [\"haiku.txt\"]\n"
    ));
    for modern in [false, true] {
        let client = ScriptedClient::replying("Old pond / a frog jumps in / the sound of water");
        let client = if modern { client.modern() } else { client };
        let session = connect_stdio(
            client.clone(),
            Some(&workspace.config()),
            workspace.dir.path(),
        )
        .await;
        let tools = session.list_all_tools().await.unwrap();
        assert_eq!(tools[0].name, "haiku");
        let result = call(&session, "haiku", json!({"topic": "frogs"})).await;
        assert_eq!(
            text(&result),
            "Old pond / a frog jumps in / the sound of water",
            "modern={modern}"
        );
        let asked = client.asked.lock().unwrap().clone();
        assert_eq!(
            asked[0].system_prompt.as_deref(),
            Some("You are a poet. Answer with the haiku only.")
        );
        assert_eq!(asked[0].max_tokens, 60);
        assert_eq!(client.prompts(), ["Write a haiku about frogs."]);

        let wrong = call(&session, "haiku", json!({"topic": 7})).await;
        assert_eq!(wrong.is_error, Some(true));
        assert!(
            text(&wrong).contains("`topic` must be a string"),
            "{}",
            text(&wrong)
        );
    }
    assert_eq!(
        workspace.read("haiku.txt").as_deref(),
        Some(
            "Old pond / a frog jumps in / the sound of water\n\n"
                .repeat(2)
                .as_str()
        )
    );
}
