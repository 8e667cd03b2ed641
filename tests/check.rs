//! `wasm-mcp check` and start-up: a good config is described; every bad
//! config or component is refused with an error that names what is wrong.

mod common;

use std::process::{Command, Output};

use common::*;

fn check(workspace: &Workspace) -> Output {
    Command::new(binary())
        .env("WASM_MCP_CACHE_DIR", test_cache_dir())
        .current_dir(workspace.dir.path())
        .args(["check", "--config"])
        .arg(workspace.config())
        .output()
        .unwrap()
}

/// Run `check` on `config` and return its error output, asserting it failed.
fn refused(config: &str) -> String {
    let workspace = Workspace::with_config(config);
    refused_in(&workspace)
}

fn refused_in(workspace: &Workspace) -> String {
    let output = check(workspace);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        !output.status.success(),
        "check accepted a bad config; stderr:\n{stderr}"
    );
    assert!(stderr.contains("error:"), "{stderr}");
    stderr
}

fn plugin(component: &std::path::Path, extra: &str) -> String {
    format!("[[plugin]]\ncomponent = {component:?}\n{extra}\n")
}

#[test]
fn a_good_config_is_described_with_tools_and_grants() {
    let workspace = Workspace::standard();
    let output = check(&workspace);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("plugin `log-archiver`"), "{stdout}");
    assert!(
        stdout.contains("tool  process_log_entry: Analyzes a log entry"),
        "{stdout}"
    );
    assert!(
        stdout.contains("may append to file incident_report.txt"),
        "{stdout}"
    );
    assert!(
        stdout.contains("may append to files inside logs/"),
        "{stdout}"
    );
}

#[test]
fn unknown_keys_are_named() {
    let stderr = refused(&plugin(&component("probe"), "apend = [\"x.txt\"]"));
    assert!(stderr.contains("unknown field `apend`"), "{stderr}");
}

#[test]
fn a_missing_config_file_is_named() {
    let workspace = Workspace::new();
    let stderr = refused_in(&workspace);
    assert!(stderr.contains("cannot read config file"), "{stderr}");
    assert!(stderr.contains("wasm-mcp.toml"), "{stderr}");
}

#[test]
fn a_missing_component_is_named() {
    let stderr = refused("[[plugin]]\ncomponent = \"nowhere/tool.wasm\"\n");
    assert!(stderr.contains("cannot read component"), "{stderr}");
    assert!(stderr.contains("nowhere/tool.wasm"), "{stderr}");
}

#[test]
fn a_file_that_is_not_wasm_is_refused() {
    let workspace = Workspace::with_config("[[plugin]]\ncomponent = \"tool.wasm\"\n");
    std::fs::write(workspace.path("tool.wasm"), "#!/bin/sh\necho hi\n").unwrap();
    let stderr = refused_in(&workspace);
    assert!(
        stderr.contains("tool.wasm is not a WebAssembly file"),
        "{stderr}"
    );
}

#[test]
fn a_core_module_is_refused_as_not_a_component() {
    let workspace = Workspace::with_config("[[plugin]]\ncomponent = \"core.wasm\"\n");
    std::fs::write(workspace.path("core.wasm"), b"\0asm\x01\0\0\0").unwrap();
    let stderr = refused_in(&workspace);
    assert!(
        stderr.contains("core.wasm is a core WebAssembly module, not a component"),
        "{stderr}"
    );
}

#[test]
fn a_truncated_component_is_refused() {
    let workspace = Workspace::with_config("[[plugin]]\ncomponent = \"cut.wasm\"\n");
    let bytes = std::fs::read(component("probe")).unwrap();
    std::fs::write(workspace.path("cut.wasm"), &bytes[..bytes.len() / 2]).unwrap();
    let stderr = refused_in(&workspace);
    assert!(stderr.contains("cannot compile component"), "{stderr}");
    assert!(stderr.contains("cut.wasm"), "{stderr}");
}

#[test]
fn a_component_of_another_world_is_refused() {
    let stderr = refused(&plugin(&component("not-a-plugin"), ""));
    assert!(
        stderr.contains("does not export the `wasm-mcp:plugin/tools` interface"),
        "{stderr}"
    );
    assert!(stderr.contains("plugin `not-a-plugin`"), "{stderr}");
}

#[test]
fn two_plugins_exporting_one_tool_name_are_refused() {
    let archiver = component("log-archiver");
    let stderr = refused(&format!(
        "[[plugin]]\nname = \"first\"\ncomponent = {archiver:?}\n[[plugin]]\nname = \"second\"\ncomponent = {archiver:?}\n"
    ));
    assert!(
        stderr.contains(
            "tool `process_log_entry` is exported by both plugin `first` and plugin `second`"
        ),
        "{stderr}"
    );
}

#[test]
fn a_grant_of_a_missing_folder_is_refused() {
    let stderr = refused(&plugin(&component("probe"), "append = [\"missing/\"]"));
    assert!(stderr.contains("append grant `missing/`"), "{stderr}");
    assert!(stderr.contains("create it"), "{stderr}");
}

#[test]
fn an_escaping_grant_is_refused() {
    let stderr = refused(&plugin(
        &component("probe"),
        "append = [\"../outside.txt\"]",
    ));
    assert!(
        stderr.contains("append grant \"../outside.txt\""),
        "{stderr}"
    );
}

#[test]
fn serve_refuses_a_bad_config_at_start_instead_of_serving() {
    let workspace = Workspace::with_config("[[plugin]]\ncomponent = \"nowhere.wasm\"\n");
    let output = Command::new(binary())
        .env("WASM_MCP_CACHE_DIR", test_cache_dir())
        .current_dir(workspace.dir.path())
        .args(["serve", "--stdio", "--config"])
        .arg(workspace.config())
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot read component"));
    assert!(
        output.stdout.is_empty(),
        "nothing may reach the stdio transport"
    );
}

#[test]
fn check_warms_the_compile_cache_and_corrupt_entries_are_rebuilt() {
    let workspace = Workspace::standard();
    let cache = tempfile::tempdir().unwrap();
    let run = |extra: &[&str]| {
        let output = Command::new(binary())
            .current_dir(workspace.dir.path())
            .env("WASM_MCP_LOG", "wasm_mcp_host=debug")
            .args(["check", "--config"])
            .arg(workspace.config())
            .args(extra)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(output.status.success(), "{stderr}");
        stderr
    };
    let cache_arg = ["--cache-dir", cache.path().to_str().unwrap()];
    let cold = run(&cache_arg);
    assert_eq!(cold.matches("origin=Compiled").count(), 3, "{cold}");
    let entries: Vec<_> = std::fs::read_dir(cache.path())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(entries.len(), 3, "one entry per plugin");

    let warm = run(&cache_arg);
    assert_eq!(warm.matches("origin=Cached").count(), 3, "{warm}");

    let mut bytes = std::fs::read(&entries[0]).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x55;
    std::fs::write(&entries[0], &bytes).unwrap();
    let repaired = run(&cache_arg);
    assert!(
        repaired.contains("discarding a corrupt cache entry"),
        "{repaired}"
    );
    assert_eq!(repaired.matches("origin=Compiled").count(), 1, "{repaired}");
    assert_eq!(run(&cache_arg).matches("origin=Cached").count(), 3);

    let uncached = run(&["--no-cache"]);
    assert_eq!(uncached.matches("origin=Compiled").count(), 3, "{uncached}");
}

#[test]
fn limits_too_large_to_count_with_are_refused_not_overflowed() {
    let probe = component("probe");
    for (limits, key) in [
        ("wall_time_s = 18446744073709551615", "`limits.wall_time_s`"),
        ("concurrent_calls = 4294967297", "`limits.concurrent_calls`"),
        ("cpu_time_ms = 18446744073709551615", "`limits.cpu_time_ms`"),
    ] {
        let stderr = refused(&plugin(&probe, &format!("[plugin.limits]\n{limits}")));
        assert!(
            stderr.contains(key) && stderr.contains("at most"),
            "{stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    let stderr = refused(&plugin(
        &probe,
        "[plugin.sampling]\ntimeout_s = 18446744073709551615",
    ));
    assert!(stderr.contains("`sampling.timeout_s`"), "{stderr}");

    let workspace = Workspace::with_config(&plugin(&probe, ""));
    let output = Command::new(binary())
        .env("WASM_MCP_CACHE_DIR", test_cache_dir())
        .args([
            "serve",
            "--stdio",
            "--parked-call-ttl",
            "18446744073709551615",
            "--config",
        ])
        .arg(workspace.config())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--parked-call-ttl") && !stderr.contains("panicked"),
        "{stderr}"
    );
}

/// SHA-256 of a file, lowercase hex, computed here (not by the host).
fn sha256_of(path: &std::path::Path) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(std::fs::read(path).unwrap())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn check_prints_each_components_digest_ready_to_pin() {
    let probe = component("probe");
    let workspace = Workspace::with_config(&plugin(&probe, ""));
    let output = check(&workspace);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let line = format!("sha256 = \"{}\"", sha256_of(&probe));
    assert!(stdout.contains(&line), "no `{line}` in:\n{stdout}");
}

#[test]
fn a_pinned_component_loads_and_a_wrong_digest_is_refused_with_both() {
    let probe = component("probe");
    let digest = sha256_of(&probe);
    let pinned = Workspace::with_config(&plugin(&probe, &format!("sha256 = \"{digest}\"")));
    let output = check(&pinned);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("# pinned"));

    // Another build (here: another component) under the same pin.
    let wrong = Workspace::with_config(&plugin(
        &component("log-archiver"),
        &format!("sha256 = \"{digest}\""),
    ));
    let error = refused_in(&wrong);
    assert!(error.contains("not the pinned component"), "{error}");
    assert!(error.contains(&digest), "the pin is named: {error}");
    let actual = sha256_of(&component("log-archiver"));
    assert!(
        error.contains(&actual),
        "the actual digest is named: {error}"
    );

    let malformed = refused(&plugin(&probe, "sha256 = \"abc\""));
    assert!(malformed.contains("64 hexadecimal digits"), "{malformed}");
}

/// What a plugin says reaches the operator's terminal escaped: a tool
/// description holding NUL and an escape sequence is listed with them shown
/// as `\u{..}`; a resource URI holding control characters refuses the
/// load, and the error shows it escaped too.
#[test]
fn plugin_text_is_printed_escaped_and_uris_with_controls_are_refused() {
    let described = Workspace::with_config(&plugin(
        &component("odd-names"),
        "[plugin.config]\ndescription = \"desc\\u0000\\u001b[31mred\\u0007\"",
    ));
    let output = check(&described);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains(r"tool  odd: desc\u{0}\u{1b}[31mred\u{7}"),
        "{stdout}"
    );
    let raw = |bytes: &[u8]| bytes.iter().any(|b| matches!(b, 0 | 0x07 | 0x1b));
    assert!(!raw(&output.stdout), "raw control bytes: {stdout:?}");

    let stderr = refused(&plugin(
        &component("odd-names"),
        "[plugin.config]\nuri = \"h2://ctrl\\u001b[2J\\u0007\\u0000x\"",
    ));
    assert!(
        stderr.contains(r#"resource URI "h2://ctrl\u{1b}[2J\u{7}\u{0}x" is not valid"#),
        "{stderr}"
    );
    assert!(
        stderr.contains("may not hold spaces or control"),
        "{stderr}"
    );
    assert!(!raw(stderr.as_bytes()), "raw control bytes: {stderr:?}");
}
