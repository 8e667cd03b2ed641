//! Calls for the tests of resuming a 2026-07-28 call on another replica by
//! replaying it: one that asks twice with an append between the questions
//! (the append must happen once, however often the call is replayed), one
//! whose question holds the time (it cannot repeat itself), and one whose
//! question holds a random number (it can: the seed travels with the call),
//! and one that asks twice and writes one record at its end (the cluster
//! test counts them).

use wasm_mcp_sdk::{JsonSchema, ToolError, append, sample_text, tools};

#[derive(serde::Deserialize, JsonSchema)]
struct Topic {
    topic: String,
}

#[derive(serde::Deserialize, JsonSchema)]
struct NoArgs {}

/// Two questions, each followed by an append to `replay.txt`.
fn ask_twice(Topic { topic }: Topic) -> Result<String, ToolError> {
    let first = sample_text(format!("First question about {topic}"), 20)?;
    append("replay.txt", format!("first: {first}\n"))?;
    let second = sample_text(format!("Second question, after {first}"), 20)?;
    append("replay.txt", format!("second: {second}\n"))?;
    Ok(format!("{first}|{second}"))
}

#[derive(serde::Deserialize, JsonSchema)]
struct Line {
    line: String,
}

/// Two questions about a log line, then one record of both answers in
/// `report.txt`, in one append.
fn report(Line { line }: Line) -> Result<String, ToolError> {
    let explained = sample_text(format!("Explain: {line}"), 20)?;
    let rated = sample_text(format!("Rate, given {explained}: {line}"), 20)?;
    append(
        "report.txt",
        format!("<<< {line}\nexplained: {explained}\nrated: {rated}\n>>> {line}\n"),
    )?;
    Ok(format!("reported {line}"))
}

/// A question that holds the time: a replay asks something else.
fn ask_with_time(_: NoArgs) -> Result<String, ToolError> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    sample_text(format!("The time is {nanos}"), 20).map_err(Into::into)
}

/// A question that holds a random number, then a second question.
fn ask_with_random(_: NoArgs) -> Result<String, ToolError> {
    let number = wasip2::random::random::get_random_u64();
    let first = sample_text(format!("Remember {number}"), 20)?;
    let second = sample_text(format!("Again {number}"), 20)?;
    Ok(format!("{number}:{first}:{second}"))
}

tools! {
    ask_twice(Topic) [additive] => "Asks twice, appending after each answer.",
    ask_with_time(NoArgs) => "Asks a question holding the time.",
    ask_with_random(NoArgs) => "Asks two questions holding one random number.",
    report(Line) [additive] => "Asks twice about a log line, then appends one record of both answers.",
}
