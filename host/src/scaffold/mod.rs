//! `wasm-mcp new NAME [--template ask|fetch]`: a plugin crate that builds for `wasm32-wasip2` as
//! generated, with the guest SDK and the WIT contract vendored beside it (so
//! it needs nothing but crates.io), and the config entry that serves it.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// The contract, and the standard WIT it refers to (`wasi:config`).
const WIT: [(&str, &str); 3] = [
    ("wit/plugin.wit", include_str!("../../../wit/plugin.wit")),
    (
        "wit/deps/config/store.wit",
        include_str!("../../../wit/deps/config/store.wit"),
    ),
    (
        "wit/deps/config/world.wit",
        include_str!("../../../wit/deps/config/world.wit"),
    ),
];
/// The guest SDK's sources, vendored file by file.
const SDK: [(&str, &str); 9] = [
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
    (
        "sdk/src/config.rs",
        include_str!("../../../plugins/sdk/src/config.rs"),
    ),
    (
        "sdk/src/http.rs",
        include_str!("../../../plugins/sdk/src/http.rs"),
    ),
    (
        "sdk/src/http/error.rs",
        include_str!("../../../plugins/sdk/src/http/error.rs"),
    ),
    (
        "sdk/src/http/transport.rs",
        include_str!("../../../plugins/sdk/src/http/transport.rs"),
    ),
    (
        "sdk/src/http/url.rs",
        include_str!("../../../plugins/sdk/src/http/url.rs"),
    ),
];

/// What the new plugin starts as.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Template {
    /// `ask`: asks the client's LLM and keeps a record (sampling, append).
    #[default]
    Ask,
    /// `summarize`: fetches a page, has the LLM summarise it, keeps a record
    /// (outbound HTTP by grant, settings, sampling, append).
    Fetch,
}

/// Write the plugin crate `name` into `parent/name`; returns its folder.
pub fn new_plugin(name: &str, parent: &Path, template: Template) -> Result<PathBuf> {
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
    let (lib_rs, config) = match template {
        Template::Ask => (ASK_RS, ask_config(name, &crate_name)),
        Template::Fetch => (FETCH_RS, fetch_config(name, &crate_name)),
    };
    let mut files: Vec<(&str, String)> = vec![
        ("Cargo.toml", cargo_toml(name)),
        ("src/lib.rs", lib_rs.to_string()),
        ("sdk/Cargo.toml", SDK_CARGO_TOML.to_string()),
        ("wasm-mcp.toml", config),
        (".gitignore", "/target/\n".to_string()),
    ];
    files.extend(WIT.map(|(path, text)| (path, text.to_string())));
    files.extend(
        SDK.map(|(path, text)| (path, text.replace("path: \"../../wit", "path: \"../wit"))),
    );
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
wasip2 = "1"
"#;

const ASK_RS: &str = r#"//! A wasm-mcp plugin. Each tool is a function from its arguments (a struct
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

const FETCH_RS: &str = r#"//! A wasm-mcp plugin that reads the web: it fetches a page its config grants,
//! asks the calling client's LLM to summarise it, and keeps a record.

use wasm_mcp_sdk::{JsonSchema, ToolError, append, config, fetch, sample_text, tools};

#[derive(serde::Deserialize, JsonSchema)]
struct Page {
    /// The page to summarise (its site must be granted in `[plugin.http]`).
    url: String,
}

/// Fetch the page, summarise it, keep the summary in `summaries.txt`.
fn summarize(Page { url }: Page) -> Result<String, ToolError> {
    let page = fetch(&url)?.error_for_status()?.text()?;
    // Settings come from `[plugin.config]`; this one has a default.
    let limit: usize = config::get("max_page_chars")
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let page: String = page.chars().take(limit).collect();
    let summary = sample_text(
        format!("Summarize this web page in at most three sentences.
URL: {url}

{page}"),
        300,
    )?;
    append("summaries.txt", format!("URL: {url}
SUMMARY: {summary}

"))?;
    Ok(summary)
}

tools! {
    summarize(Page) [additive, open_world] => "Summarizes a web page with the client's LLM and keeps a record of it.",
}
"#;

fn fetch_config(name: &str, crate_name: &str) -> String {
    format!(
        r#"# Serve this plugin:  wasm-mcp serve --config wasm-mcp.toml
[[plugin]]
name = "{name}"
component = "target/wasm32-wasip2/release/{crate_name}.wasm"
append = ["summaries.txt"]

# The sites it may fetch (GET and HEAD unless `methods` says more). Nothing
# else is reachable, and names that resolve to internal addresses are refused.
[plugin.http]
allow = ["https://en.wikipedia.org/wiki/"]

[plugin.config]
max_page_chars = 20000
"#
    )
}

fn ask_config(name: &str, crate_name: &str) -> String {
    format!(
        r#"# Serve this plugin:  wasm-mcp serve --config wasm-mcp.toml
[[plugin]]
name = "{name}"
component = "target/wasm32-wasip2/release/{crate_name}.wasm"
append = ["answers.txt"]
"#
    )
}
