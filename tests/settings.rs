//! `wasi:config/store` (`[plugin.config]`): a real component reads its
//! settings through the standard interface, values may come from the
//! environment or a file at load, and a setting that cannot be resolved
//! stops the start with its name.

mod common;

use common::*;
use serde_json::json;

fn config_with(settings: &str) -> String {
    format!(
        "[[plugin]]\ncomponent = {:?}\n\n[plugin.config]\n{settings}\n\n\
         [[plugin]]\nname = \"bare\"\ncomponent = {:?}\ntool_prefix = \"bare_\"\n",
        component("fetcher"),
        component("fetcher"),
    )
}

#[tokio::test]
async fn a_plugin_reads_its_settings_and_only_its_own() {
    let workspace = Workspace::with_config(&config_with(
        "greeting = \"hello\"\nretries = 3\nverbose = true\nratio = 0.5\n\
         region = \"${env:WASM_MCP_TEST_REGION}\"\nmotto = \"${file:motto.txt}\"\nprice = \"$$5 and $${env:NOT_READ}\"",
    ));
    std::fs::write(workspace.path("motto.txt"), "small and sandboxed\n").unwrap();
    for transport in TRANSPORTS {
        let session = open_env(
            transport,
            &workspace,
            ScriptedClient::without_sampling(),
            &[],
            &[("WASM_MCP_TEST_REGION", "eu-west")],
        )
        .await;
        let client = &session.client;
        for (key, expected) in [
            ("greeting", "hello"),
            ("retries", "3"),
            ("verbose", "true"),
            ("ratio", "0.5"),
            ("region", "eu-west"),
            ("motto", "small and sandboxed"),
            ("price", "$$5 and ${env:NOT_READ}"),
            ("absent", "(unset)"),
        ] {
            let result = call(client, "config_get", json!({ "key": key })).await;
            assert_eq!(text(&result), expected, "{transport:?}: `{key}`");
        }
        let all: serde_json::Value =
            serde_json::from_str(&text(&call(client, "config_all", json!({})).await)).unwrap();
        assert_eq!(all.as_object().unwrap().len(), 7, "{all}");
        assert_eq!(all["region"], "eu-west");
        // Another plugin (the same component, loaded again) sees none of them.
        let bare = call(client, "bare_config_all", json!({})).await;
        assert_eq!(text(&bare), "{}");
    }
}

#[test]
fn an_unresolvable_setting_stops_the_start_with_its_name() {
    for (settings, expected) in [
        (
            "token = \"${env:WASM_MCP_SURELY_UNSET_VAR}\"",
            "WASM_MCP_SURELY_UNSET_VAR",
        ),
        ("token = \"${file:missing.key}\"", "missing.key"),
        ("token = \"${shell:rm}\"", "env:NAME"),
        ("nested = { a = 1 }", "strings, numbers or booleans"),
    ] {
        let workspace = Workspace::with_config(&config_with(settings));
        let output = std::process::Command::new(binary())
            .env("WASM_MCP_CACHE_DIR", test_cache_dir())
            .args(["check", "--config"])
            .arg(workspace.config())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{settings} was accepted");
        assert!(stderr.contains(expected), "{settings}: {stderr}");
        assert!(stderr.contains("[plugin.config]"), "{settings}: {stderr}");
    }
}
