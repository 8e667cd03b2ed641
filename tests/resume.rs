//! Resuming a 2026-07-28 call on any replica: `requestState` carries the
//! answers so far, so a replica that did not park the call (or the same
//! one after a restart) replays the plugin from its start, answers its
//! earlier questions from the state (each checked against what was asked
//! before), and goes on. Real servers, sharing one key file.
#![allow(deprecated)]

mod common;

use common::*;
use rmcp::model::{CallToolRequestParams, CallToolResponse};
use serde_json::{Value, json};

const KEYS: &str = "k1 0101010101010101010101010101010101010101010101010101010101010101\n";

fn params(tool: &str, arguments: Value) -> CallToolRequestParams {
    let Value::Object(arguments) = arguments else {
        panic!()
    };
    CallToolRequestParams::new(tool.to_string()).with_arguments(arguments)
}

/// A workspace serving the replayable test plugin, granted `replay.txt`,
/// with a shared state key file.
fn replica_workspace() -> Workspace {
    let workspace = Workspace::with_config(&format!(
        "[[plugin]]\ncomponent = {:?}\nappend = [\"replay.txt\"]\n",
        component("replayable")
    ));
    std::fs::write(workspace.path("state.keys"), KEYS).unwrap();
    workspace
}

fn replica(workspace: &Workspace) -> HttpServer {
    let keys = workspace.path("state.keys");
    HttpServer::start_with(
        Some(&workspace.config()),
        workspace.dir.path(),
        &["--state-key-file", keys.to_str().unwrap()],
    )
}

async fn complete(client: &Client, request: CallToolRequestParams) -> String {
    match client.call_tool_once(request).await.expect("tools/call") {
        CallToolResponse::Complete(result) => {
            assert_ne!(result.is_error, Some(true), "{}", text(&result));
            text(&result)
        }
        _ => panic!("expected the final result"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn any_replica_resumes_any_round() {
    let workspace = replica_workspace();
    let (a, b) = (replica(&workspace), replica(&workspace));
    let on_a = a.connect(ScriptedClient::replying("unused").modern()).await;
    let on_b = b.connect(ScriptedClient::replying("unused").modern()).await;
    let request = params("ask_with_random", json!({}));

    let first = round(&on_a, request.clone()).await;
    // Round 2 on B, which never saw the call: it replays it.
    let second = round(&on_b, retry(&request, &first, answer("one"))).await;
    let asked = serde_json::to_value(second.input_requests.as_ref().unwrap()).unwrap();
    let asked = asked.to_string();
    assert!(asked.contains("Again "), "{asked}");
    // The end on A, from B's state: A replays both rounds.
    let result = complete(&on_a, retry(&request, &second, answer("two"))).await;
    let number = result.split(':').next().unwrap();
    assert!(
        asked.contains(&format!("Again {number}")),
        "the replay drew the same random number as the first run: {result} / {asked}"
    );
    assert!(result.ends_with(":one:two"), "{result}");
    assert!(b.log.lock().unwrap().contains("replaying it"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restarted_server_resumes_what_it_parked_before() {
    let workspace = replica_workspace();
    let request = params("ask_with_random", json!({}));
    let first = {
        let before = replica(&workspace);
        let client = before
            .connect(ScriptedClient::replying("unused").modern())
            .await;
        round(&client, request.clone()).await
        // `before` is killed here.
    };
    let after = replica(&workspace);
    let client = after
        .connect(ScriptedClient::replying("unused").modern())
        .await;
    let second = round(&client, retry(&request, &first, answer("one"))).await;
    let result = complete(&client, retry(&request, &second, answer("two"))).await;
    assert!(result.ends_with(":one:two"), "{result}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plugin_that_does_not_repeat_itself_gets_the_round_it_diverged_at() {
    let workspace = replica_workspace();
    let (a, b) = (replica(&workspace), replica(&workspace));
    let on_a = a.connect(ScriptedClient::replying("unused").modern()).await;
    let on_b = b.connect(ScriptedClient::replying("unused").modern()).await;
    let request = params("ask_with_time", json!({}));
    let first = round(&on_a, request.clone()).await;
    let error = match on_b
        .call_tool_once(retry(&request, &first, answer("noon")))
        .await
    {
        Err(rmcp::service::ServiceError::McpError(error)) => error,
        other => panic!("expected an error, got {other:?}"),
    };
    assert!(
        error.message.contains("did not repeat itself"),
        "{}",
        error.message
    );
    assert!(error.message.contains("at round 1"), "{}", error.message);
    assert!(error.message.contains("`replayable`"), "{}", error.message);
    // The replica that parked it still resumes it.
    let done = complete(&on_a, retry(&request, &first, answer("noon"))).await;
    assert_eq!(done, "noon");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_state_replays_once_per_replica() {
    let workspace = replica_workspace();
    let (a, b) = (replica(&workspace), replica(&workspace));
    let on_a = a.connect(ScriptedClient::replying("unused").modern()).await;
    let on_b = b.connect(ScriptedClient::replying("unused").modern()).await;
    let request = params("ask_with_random", json!({}));
    let first = round(&on_a, request.clone()).await;
    let _second = round(&on_b, retry(&request, &first, answer("one"))).await;
    let again = on_b
        .call_tool_once(retry(&request, &first, answer("one")))
        .await;
    assert!(
        matches!(&again, Err(rmcp::service::ServiceError::McpError(e)) if e.message.contains("already used")),
        "{again:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn appends_happen_once_however_often_a_call_is_replayed() {
    let workspace = replica_workspace();
    let (a, b) = (replica(&workspace), replica(&workspace));
    let on_a = a.connect(ScriptedClient::replying("unused").modern()).await;
    let on_b = b.connect(ScriptedClient::replying("unused").modern()).await;
    let request = params("ask_twice", json!({ "topic": "t" }));
    let first = round(&on_a, request.clone()).await;
    // B replays round 1 (appending "first" as it goes), then parks round 2.
    let second = round(&on_b, retry(&request, &first, answer("one"))).await;
    assert!(
        workspace.read("replay.txt").is_none(),
        "nothing is written before the call returns"
    );
    // A replays both rounds and returns: every append is written, once.
    let result = complete(&on_a, retry(&request, &second, answer("two"))).await;
    assert_eq!(result, "one|two");
    assert_eq!(
        workspace.read("replay.txt").as_deref(),
        Some("first: one\nsecond: two\n")
    );
    // B's parked round 2 never returns: it writes nothing, even once it expires.
    drop(b);
    assert_eq!(
        workspace.read("replay.txt").as_deref(),
        Some("first: one\nsecond: two\n")
    );
}
