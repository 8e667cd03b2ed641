//! `wasm-mcp new NAME --lang rust`: a plugin crate that builds for
//! `wasm32-wasip2` as generated, with the guest SDK and the WIT contract
//! vendored beside it (so it needs nothing but crates.io).

use super::{Template, WIT};
/// The guest SDK's sources, vendored file by file.
const SDK: [(&str, &str); 10] = [
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
        "sdk/src/offers/template.rs",
        include_str!("../../../plugins/sdk/src/offers/template.rs"),
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

/// The crate's files, and the steps that build and try it.
pub fn files(name: &str, template: Template) -> (Vec<(String, String)>, String) {
    let crate_name = name.replace('-', "_");
    let (lib_rs, config) = match template {
        Template::Ask => (
            ASK_RS,
            super::ask_config(
                name,
                &format!("target/wasm32-wasip2/release/{crate_name}.wasm"),
            ),
        ),
        Template::Fetch => (FETCH_RS, fetch_config(name, &crate_name)),
    };
    let mut files: Vec<(String, String)> = vec![
        ("Cargo.toml".into(), cargo_toml(name)),
        ("src/lib.rs".into(), lib_rs.to_string()),
        ("sdk/Cargo.toml".into(), SDK_CARGO_TOML.to_string()),
        ("wasm-mcp.toml".into(), config),
        (".gitignore".into(), "/target/\n".to_string()),
    ];
    files.extend(WIT.map(|(path, text)| (path.to_string(), text.to_string())));
    files.extend(SDK.map(|(path, text)| {
        (
            path.to_string(),
            text.replace("path: \"../../wit", "path: \"../wit"),
        )
    }));
    let try_it = match template {
        Template::Ask => "ask --arg question=\"Why is the sky blue?\"",
        Template::Fetch => "summarize --arg url=https://en.wikipedia.org/wiki/WebAssembly",
    };
    let steps = format!(
        "cargo build --release --target wasm32-wasip2\n  wasm-mcp check --config wasm-mcp.toml\n  wasm-mcp call {try_it} --config wasm-mcp.toml --llm human"
    );
    (files, steps)
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

#[cfg(test)]
mod tests {
    #[test]
    fn vendors_every_file_of_the_sdk() {
        super::super::assert_vendors_whole(&super::SDK, "sdk/src", "sdk/src/", &[".rs"]);
    }
}
