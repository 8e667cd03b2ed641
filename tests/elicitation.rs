//! Asking the calling client (`elicitation`, `roots` and `ask` of
//! `wasm-mcp:plugin@0.2.0`): the user accepts, declines or cancels, the
//! client cannot be asked, or does not answer in time; roots; several
//! questions in one round. Both eras, both transports, routed like
//! `sample()`.

mod common;

use std::time::Duration;

use common::*;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, ElicitRequestParams, ElicitResult, ElicitationAction,
    ErrorCode,
};
use rmcp::service::ServiceError;
use serde_json::json;

fn workspace(extra: &str) -> Workspace {
    Workspace::with_config(&format!(
        "[[plugin]]\ncomponent = {:?}\n{extra}[[plugin]]\ncomponent = {:?}\n",
        component("conformance"),
        component("shapes"),
    ))
}

fn message_of(params: &ElicitRequestParams) -> String {
    serde_json::to_value(params).unwrap()["message"]
        .as_str()
        .unwrap()
        .to_string()
}

/// A user who does what the message says: accept, decline, cancel, or
/// accept with an answer that does not fit the form.
fn user() -> ScriptedClient {
    ScriptedClient::replying("Hello there!")
        .eliciting(|params| {
            let message = message_of(params);
            let mut result = ElicitResult::new(if message.contains("decline") {
                ElicitationAction::Decline
            } else if message.contains("cancel") {
                ElicitationAction::Cancel
            } else {
                ElicitationAction::Accept
            });
            result.content = if message.contains("misfit") {
                Some(json!({"username": 42}))
            } else if message.contains("name") {
                Some(json!({"name": "Alice", "color": "blue"}))
            } else {
                Some(json!({"username": "alice", "email": "alice@example.com"}))
            };
            Ok(result)
        })
        .with_roots(&["file:///work", "file:///home/alice"])
}

/// A fresh client for each era: each records only what it was asked.
fn eras(client: impl Fn() -> ScriptedClient) -> [(bool, ScriptedClient); 2] {
    [(false, client()), (true, client().modern())]
}

async fn elicit(client: &Client, message: &str) -> String {
    text(&call(client, "test_elicitation", json!({"message": message})).await)
}

#[tokio::test]
async fn the_user_accepts_declines_or_cancels_in_both_eras() {
    let workspace = workspace("");
    for transport in TRANSPORTS {
        for (modern, client) in eras(user) {
            let session = open(transport, &workspace, client.clone()).await;
            let at = format!("{transport:?} modern={modern}");
            assert_eq!(
                elicit(&session.client, "please accept").await,
                r#"User response: action=accept, content={"email":"alice@example.com","username":"alice"}"#,
                "{at}"
            );
            assert_eq!(
                elicit(&session.client, "please decline").await,
                "User response: action=decline",
                "{at}"
            );
            assert_eq!(
                elicit(&session.client, "please cancel").await,
                "User response: action=cancel",
                "{at}"
            );
            // The host checks an accepted form against the schema.
            let misfit = elicit(&session.client, "a misfit answer").await;
            assert!(
                misfit.starts_with("Elicitation failed: Error::Failed(")
                    && misfit.contains("does not fit the requested schema"),
                "{at}: {misfit}"
            );
            // What the client saw: the message and the derived form.
            let asked = client.elicited.lock().unwrap();
            let first = serde_json::to_value(&asked[0]).unwrap();
            assert_eq!(first["message"], "please accept", "{at}");
            assert_eq!(
                first["requestedSchema"]["properties"]["email"],
                json!({"type": "string", "description": "User's email address"}),
                "{at}"
            );
            assert_eq!(asked.len(), 4, "{at}");
        }
    }
}

#[tokio::test]
async fn a_client_that_cannot_be_asked_gets_unsupported_or_missing_capability() {
    let workspace = workspace("");
    for transport in TRANSPORTS {
        for (modern, client) in eras(|| ScriptedClient::replying("unused")) {
            let session = open(transport, &workspace, client.clone()).await;
            let at = format!("{transport:?} modern={modern}");
            // The plugin hears a typed `unsupported` and may go on.
            let handled = elicit(&session.client, "anyone there?").await;
            assert!(
                handled.starts_with("Elicitation failed: Error::Unsupported(")
                    && handled.contains("did not declare the MCP `elicitation` capability"),
                "{at}: {handled}"
            );
            // A plugin that fails for want of it: a 2026-07-28 client gets
            // -32021 naming the capability, a session client the tool error.
            let request = CallToolRequestParams::new("test_streaming_elicitation");
            match session.client.call_tool(request).await {
                Err(ServiceError::McpError(error)) => {
                    assert!(modern, "{at}: {error:?}");
                    assert_eq!(
                        error.code,
                        ErrorCode::MISSING_REQUIRED_CLIENT_CAPABILITY,
                        "{at}"
                    );
                    assert!(
                        error.message.contains("`elicitation`"),
                        "{at}: {}",
                        error.message
                    );
                    assert!(error.data.unwrap()["requiredCapabilities"]["elicitation"].is_object());
                }
                Ok(result) => {
                    assert!(!modern, "{at}: {}", text(&result));
                    assert_eq!(result.is_error, Some(true), "{at}");
                    assert!(text(&result).contains("cannot ask its user"), "{at}");
                }
                Err(other) => panic!("{at}: {other}"),
            }
            assert!(client.elicited.lock().unwrap().is_empty(), "{at}");
        }
    }
}

#[tokio::test]
async fn an_unanswered_question_times_out() {
    let workspace = workspace("[plugin.elicitation]\ntimeout_s = 1\n");
    for transport in TRANSPORTS {
        for (modern, client) in eras(|| user().slow(Duration::from_secs(3))) {
            let session = open(transport, &workspace, client).await;
            let at = format!("{transport:?} modern={modern}");
            let request = CallToolRequestParams::new("test_elicitation").with_arguments(
                json!({"message": "please accept"})
                    .as_object()
                    .unwrap()
                    .clone(),
            );
            match session.client.call_tool(request).await {
                // A session's request times out and the plugin hears it.
                Ok(result) => {
                    assert!(!modern, "{at}");
                    let message = text(&result);
                    assert!(
                        message.starts_with("Elicitation failed: Error::TimedOut(")
                            && message.contains("`elicitation.timeout_s`"),
                        "{at}: {message}"
                    );
                }
                // A parked call expires with its question, and the late
                // retry is told so.
                Err(ServiceError::McpError(error)) => {
                    assert!(modern, "{at}: {error:?}");
                    assert!(error.message.contains("expired"), "{at}: {}", error.message);
                }
                Err(other) => panic!("{at}: {other}"),
            }
        }
    }
}

#[tokio::test]
async fn roots_come_from_the_client_or_are_unsupported() {
    let workspace = workspace("");
    for transport in TRANSPORTS {
        for (modern, client) in eras(user) {
            let session = open(transport, &workspace, client.clone()).await;
            let at = format!("{transport:?} modern={modern}");
            let found = call(
                &session.client,
                "test_input_required_result_list_roots",
                json!({}),
            )
            .await;
            assert_eq!(text(&found), "Found 2 root(s)", "{at}");
            assert_eq!(*client.roots_asked.lock().unwrap(), 1, "{at}");
        }
        for (modern, client) in eras(|| ScriptedClient::replying("x")) {
            let session = open(transport, &workspace, client).await;
            let at = format!("{transport:?} modern={modern}");
            let request = CallToolRequestParams::new("test_input_required_result_list_roots");
            match session.client.call_tool(request).await {
                Err(ServiceError::McpError(error)) => {
                    assert!(modern, "{at}");
                    assert!(error.data.unwrap()["requiredCapabilities"]["roots"].is_object());
                }
                Ok(result) => {
                    assert!(!modern, "{at}");
                    assert!(
                        text(&result).contains("offers no roots"),
                        "{at}: {}",
                        text(&result)
                    );
                }
                Err(other) => panic!("{at}: {other}"),
            }
        }
    }
}

#[tokio::test]
async fn several_questions_travel_in_one_round_under_the_plugins_keys() {
    let workspace = workspace("");
    for transport in TRANSPORTS {
        // Both eras get the same answers: one by one on a session, at once
        // in a round.
        for (modern, client) in eras(user) {
            let session = open(transport, &workspace, client).await;
            let done = call(
                &session.client,
                "test_input_required_result_multiple_inputs",
                json!({}),
            )
            .await;
            assert_eq!(
                text(&done),
                "Name: Alice; Greeting: Hello there!; Roots: 2",
                "{transport:?} modern={modern}"
            );
        }
        // The round itself: three requests, under the plugin's keys.
        let session = open(transport, &workspace, user().modern()).await;
        let request = CallToolRequestParams::new("test_input_required_result_multiple_inputs");
        let Ok(CallToolResponse::InputRequired(round)) =
            session.client.call_tool_once(request).await
        else {
            panic!("{transport:?}: expected input_required");
        };
        let requests = serde_json::to_value(round.input_requests.unwrap()).unwrap();
        let methods: Vec<(&str, &str)> = requests
            .as_object()
            .unwrap()
            .iter()
            .map(|(key, request)| (key.as_str(), request["method"].as_str().unwrap()))
            .collect();
        assert_eq!(
            methods,
            [
                ("client_roots", "roots/list"),
                ("greeting", "sampling/createMessage"),
                ("user_name", "elicitation/create")
            ],
            "{transport:?}"
        );
        assert_eq!(requests["greeting"]["params"]["maxTokens"], 50);
    }
}

#[tokio::test]
async fn question_keys_must_be_unique() {
    let workspace = workspace("");
    let session = open(Transport::Http, &workspace, user()).await;
    let refused = call(&session.client, "ask_with_key", json!({"key": "k"})).await;
    assert!(
        text(&refused).starts_with("refused: Error::Refused(\"question key `k` is used twice"),
        "{}",
        text(&refused)
    );
    let bad = call(&session.client, "ask_with_key", json!({"key": "no spaces"})).await;
    assert!(text(&bad).contains("is not valid"), "{}", text(&bad));
}
