//! The sampling tools of the other seed lessons, on the guest SDK:
//! `summarize` (one request with a system prompt), `review_code` (two
//! requests, security then performance, returned together) and
//! `analyze_code` (the seed's dict result, as structured output).

use wasm_mcp_sdk::{JsonSchema, Sample, ToolError, tools};

#[derive(serde::Deserialize, JsonSchema)]
struct Text {
    /// The text to summarise.
    text: String,
}

fn summarize(Text { text }: Text) -> Result<String, ToolError> {
    Ok(
        Sample::new(format!("Please summarize the following text:\n{text}"))
            .system("You are a helpful research assistant.")
            .max_tokens(4000)
            .send()?
            .text(),
    )
}

#[derive(serde::Deserialize, JsonSchema)]
struct Code {
    /// The source code to review.
    code: String,
}

fn review_code(Code { code }: Code) -> Result<String, ToolError> {
    let ask = |focus: &str| {
        Sample::new(format!(
            "Review this code for {focus} issues and suggest fixes:\n{code}"
        ))
        .system("You are an expert code reviewer. Be specific and brief.")
        .max_tokens(1000)
        .send()
        .map(|answer| answer.text())
    };
    let security = ask("security")?;
    let performance = ask("performance")?;
    Ok(format!(
        "## Security\n{security}\n\n## Performance\n{performance}"
    ))
}

/// What `analyze_code` returns: the seed's `{"analysis", "source"}`, with
/// the model that really answered as the source.
#[derive(serde::Serialize, JsonSchema)]
struct Analysis {
    /// The model's analysis: bugs found, and fixes.
    analysis: String,
    /// The model that wrote it, as the client named it.
    source: String,
}

fn analyze_code(Code { code }: Code) -> Result<Analysis, ToolError> {
    let answer = Sample::new(format!("Identify bugs and suggest fixes:\n{code}"))
        .system("You are an expert code reviewer. Focus on bugs, security issues, and performance.")
        .max_tokens(2000)
        .send()?;
    Ok(Analysis {
        analysis: answer.text(),
        source: answer.model().to_string(),
    })
}

tools! {
    summarize(Text) [read_only] => "Summarises a text with the client's LLM.",
    analyze_code(Code) -> Analysis [read_only] => "Finds bugs in code with the client's LLM; returns the analysis and the model that wrote it as structured output.",
    review_code(Code) [read_only] => "Reviews code for security and for performance, with two questions to the client's LLM.",
}
