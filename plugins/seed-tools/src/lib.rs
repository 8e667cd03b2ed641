//! The sampling tools of the other seed lessons, on the guest SDK:
//! `summarize` (one request with a system prompt) and `review_code` (two
//! requests, security then performance, returned together).

use wasm_mcp_sdk::{JsonSchema, Sample, ToolError, tools};

#[derive(serde::Deserialize, JsonSchema)]
struct Text {
    /// The text to summarise.
    text: String,
}

fn summarize(Text { text }: Text) -> Result<String, ToolError> {
    Ok(Sample::new(format!("Please summarize the following text:\n{text}"))
        .system("You are a helpful research assistant.")
        .max_tokens(4000)
        .send()?
        .text())
}

#[derive(serde::Deserialize, JsonSchema)]
struct Code {
    /// The source code to review.
    code: String,
}

fn review_code(Code { code }: Code) -> Result<String, ToolError> {
    let ask = |focus: &str| {
        Sample::new(format!("Review this code for {focus} issues and suggest fixes:\n{code}"))
            .system("You are an expert code reviewer. Be specific and brief.")
            .max_tokens(1000)
            .send()
            .map(|answer| answer.text())
    };
    let security = ask("security")?;
    let performance = ask("performance")?;
    Ok(format!("## Security\n{security}\n\n## Performance\n{performance}"))
}

tools! {
    summarize(Text) => "Summarises a text with the client's LLM.",
    review_code(Code) => "Reviews code for security and for performance, with two questions to the client's LLM.",
}
