//! `wasm-mcp new NAME`: a plugin crate that builds for `wasm32-wasip2` as
//! generated, with the guest SDK and the WIT contract vendored beside it (so
//! it needs nothing but crates.io), and the config entry that serves it.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

const WIT: &str = include_str!("../../../wit/plugin.wit");
/// The guest SDK's sources, vendored file by file.
const SDK: [(&str, &str); 4] = [
    (
        "sdk/src/lib.rs",
        include_str!("../../../plugins/sdk/src/lib.rs"),
    ),
    (
        "sdk/src/ask.rs",
        include_str!("../../../plugins/sdk/src/ask.rs"),
    ),
    (
        "sdk/src/content.rs",
        include_str!("../../../plugins/sdk/src/content.rs"),
    ),
    (
        "sdk/src/offers.rs",
        include_str!("../../../plugins/sdk/src/offers.rs"),
    ),
];

/// Write the plugin crate `name` into `parent/name`; returns its folder.
pub fn new_plugin(name: &str, parent: &Path) -> Result<PathBuf> {
    let valid = !name.is_empty()
        && name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !valid {
        bail!(
            "plugin name {name:?} is not valid: use lowercase letters, digits, `-` and `_`, starting with a letter"
        );
    }
    let dir = parent.join(name);
    if dir.exists() {
        bail!(
            "{} already exists: pick another name or remove it",
            dir.display()
        );
    }
    let crate_name = name.replace('-', "_");
    let mut files: Vec<(&str, String)> = vec![
        ("Cargo.toml", cargo_toml(name)),
        ("src/lib.rs", LIB_RS.to_string()),
        ("sdk/Cargo.toml", SDK_CARGO_TOML.to_string()),
        ("wit/plugin.wit", WIT.to_string()),
        ("wasm-mcp.toml", config_toml(name, &crate_name)),
        (".gitignore", "/target/\n".to_string()),
    ];
    files.extend(SDK.map(|(path, text)| {
        (
            path,
            text.replace("path: \"../../wit\"", "path: \"../wit\""),
        )
    }));
    for (path, text) in files {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap())
            .with_context(|| format!("cannot create {}", path.display()))?;
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(dir)
}

fn cargo_toml(name: &str) -> String {
    format!(
        r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"

[lib]
crate-type = ["cdylib"]

[dependencies]
wasm-mcp-sdk = {{ path = "sdk" }}
serde = {{ version = "1", features = ["derive"] }}
schemars = {{ version = "1", default-features = false, features = ["derive", "std"] }}

# A standalone workspace: the vendored SDK is a path dependency.
[workspace]

[profile.release]
opt-level = "s"
lto = true
strip = true
codegen-units = 1
"#
    )
}

const SDK_CARGO_TOML: &str = r#"[package]
name = "wasm-mcp-sdk"
version = "0.1.0"
edition = "2024"

[dependencies]
wit-bindgen = "0.61"
serde = { version = "1", features = ["derive"] }
serde_json = "1"
schemars = { version = "1", default-features = false, features = ["derive", "std"] }
"#;

const LIB_RS: &str = r#"//! A wasm-mcp plugin. Each tool is a function from its arguments (a struct
//! deriving `Deserialize` and `JsonSchema`; doc comments become the schema's
//! descriptions) to the text the client receives.

use wasm_mcp_sdk::{JsonSchema, Sample, ToolError, append, tools};

#[derive(serde::Deserialize, JsonSchema)]
struct Question {
    /// What to ask.
    question: String,
}

/// Ask the calling client's LLM, keep the answer in `answers.txt`, return it.
fn ask(Question { question }: Question) -> Result<String, ToolError> {
    let answer = Sample::new(&question)
        .system("Answer in one short paragraph.")
        .max_tokens(300)
        .send()?
        .text();
    append("answers.txt", format!("Q: {question}\nA: {answer}\n\n"))?;
    Ok(answer)
}

tools! {
    // Hints in [...] tell clients what the tool does: it only adds to its file.
    ask(Question) [additive] => "Answers a question with the client's LLM and keeps a record of it.",
}
"#;

fn config_toml(name: &str, crate_name: &str) -> String {
    format!(
        r#"# Serve this plugin:  wasm-mcp serve --config wasm-mcp.toml
[[plugin]]
name = "{name}"
component = "target/wasm32-wasip2/release/{crate_name}.wasm"
append = ["answers.txt"]
"#
    )
}
