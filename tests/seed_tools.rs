//! The seeds' other sampling tools, written on the guest SDK, in both
//! protocol eras over both transports.
#![allow(deprecated)]

mod common;

use common::*;
use serde_json::json;

fn workspace() -> Workspace {
    Workspace::with_config(&format!(
        "[[plugin]]\ncomponent = {:?}\n",
        component("seed-tools")
    ))
}

/// Answers by topic, so the order of the two review questions shows.
fn reviewer() -> ScriptedClient {
    ScriptedClient::by_prompt(
        &[
            ("security", "No injection risks."),
            ("performance", "The loop is quadratic."),
        ],
        "A summary.",
    )
}

#[tokio::test]
async fn summarize_and_review_code_work_in_both_eras() {
    for transport in TRANSPORTS {
        for modern in [false, true] {
            let workspace = workspace();
            let client = if modern {
                reviewer().modern()
            } else {
                reviewer()
            };
            let session = open(transport, &workspace, client.clone()).await;

            let summary = call(
                &session.client,
                "summarize",
                json!({"text": "A long article."}),
            )
            .await;
            assert_eq!(
                text(&summary),
                "A summary.",
                "{transport:?} modern={modern}"
            );
            let review = call(
                &session.client,
                "review_code",
                json!({"code": "fn main() {}"}),
            )
            .await;
            assert_eq!(
                text(&review),
                "## Security\nNo injection risks.\n\n## Performance\nThe loop is quadratic.",
                "{transport:?} modern={modern}"
            );

            let asked = client.asked.lock().unwrap().clone();
            assert_eq!(asked.len(), 3);
            assert_eq!(
                asked[0].system_prompt.as_deref(),
                Some("You are a helpful research assistant.")
            );
            assert_eq!(asked[0].max_tokens, 4000);
            assert_eq!(
                client.prompts()[0],
                "Please summarize the following text:\nA long article."
            );
            assert!(client.prompts()[1].starts_with("Review this code for security issues"));
            assert!(client.prompts()[2].starts_with("Review this code for performance issues"));
            assert!(client.prompts()[2].ends_with("fn main() {}"));
        }
    }
}

#[tokio::test]
async fn the_sdk_derives_schemas_and_checks_arguments() {
    let workspace = workspace();
    let session = open(Transport::Stdio, &workspace, reviewer()).await;
    let tools = session.client.list_all_tools().await.unwrap();
    let summarize = tools.iter().find(|t| t.name == "summarize").unwrap();
    assert_eq!(summarize.input_schema["type"], "object");
    assert_eq!(summarize.input_schema["required"], json!(["text"]));
    assert_eq!(
        summarize.input_schema["properties"]["text"]["type"],
        "string"
    );
    assert_eq!(
        summarize.input_schema["properties"]["text"]["description"],
        "The text to summarise."
    );
    assert!(summarize.input_schema.get("$schema").is_none());

    let wrong = call(&session.client, "summarize", json!({"txt": "typo"})).await;
    assert_eq!(wrong.is_error, Some(true));
    assert!(
        text(&wrong).contains("refused the arguments: invalid arguments: missing field `text`"),
        "{}",
        text(&wrong)
    );
}
