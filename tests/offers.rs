//! Prompts, resources and completions (`prompts`, `resources` and
//! `completions` exports of `wasm-mcp:plugin@0.2.0`), merged across two
//! plugins: lists, reads through templates, completion by reference, clashes
//! refused at load, capabilities declared only when offered, pagination.
//! Both eras, both transports.

mod common;

use common::*;
use rmcp::model::{
    ArgumentInfo, CompleteRequestParams, ErrorCode, GetPromptRequestParams, PaginatedRequestParams,
    ReadResourceRequestParams, Reference, ResourceContents,
};
use rmcp::service::ServiceError;
use serde_json::json;

fn two_plugins() -> Workspace {
    Workspace::with_config(&format!(
        "[[plugin]]\ncomponent = {:?}\n[[plugin]]\ncomponent = {:?}\n[[plugin]]\ncomponent = {:?}\nappend = [\"probe.txt\"]\n",
        component("conformance"),
        component("shapes"),
        component("probe"),
    ))
}

fn eras() -> [(bool, ScriptedClient); 2] {
    let client = ScriptedClient::replying("x");
    [(false, client.clone()), (true, client.modern())]
}

fn prompt(name: &str, arguments: serde_json::Value) -> GetPromptRequestParams {
    let mut request = GetPromptRequestParams::new(name);
    request.arguments = arguments.as_object().cloned();
    request
}

#[tokio::test]
async fn prompts_resources_and_completions_merge_across_plugins() {
    let workspace = two_plugins();
    for transport in TRANSPORTS {
        for (modern, client) in eras() {
            let session = open(transport, &workspace, client).await;
            let at = format!("{transport:?} modern={modern}");
            let client = &session.client;

            let info = client
                .peer_info()
                .map(|i| serde_json::to_value(&i.capabilities).unwrap());
            if let Some(capabilities) = info {
                assert!(capabilities["prompts"].is_object(), "{at}: {capabilities}");
                assert!(capabilities["completions"].is_object(), "{at}");
                assert!(capabilities["resources"].is_object(), "{at}");
            }

            let prompts = client.list_all_prompts().await.unwrap();
            let names: Vec<&str> = prompts.iter().map(|p| p.name.as_str()).collect();
            assert_eq!(
                names.first(),
                Some(&"test_simple_prompt"),
                "{at}: config order"
            );
            assert_eq!(names.last(), Some(&"haiku"), "{at}");
            let haiku = prompts.iter().find(|p| p.name == "haiku").unwrap();
            let arguments = haiku.arguments.as_ref().unwrap();
            assert_eq!(arguments[0].name, "topic", "{at}");
            assert_eq!(arguments[0].required, Some(true), "{at}");
            assert_eq!(
                arguments[0].description.as_deref(),
                Some("What to write about."),
                "{at}"
            );
            assert_eq!(arguments[1].required, Some(false), "{at}");

            let filled = client
                .get_prompt(prompt("haiku", json!({"topic": "autumn"})))
                .await
                .unwrap();
            let value = serde_json::to_value(&filled).unwrap();
            assert_eq!(
                value["messages"],
                json!([
                    {"role": "user", "content": {"type": "text", "text": "Write a haiku about autumn in 17 words."}},
                    {"role": "assistant", "content": {"type": "resource", "resource": {"uri": "shapes://style", "mimeType": "text/plain", "text": "5-7-5"}}}
                ]),
                "{at}"
            );
            // Arguments are checked: missing, empty, not a string.
            for (arguments, why) in [
                (json!({}), "needs argument `topic`"),
                (json!({"topic": ""}), "`topic` is empty"),
                (json!({"topic": 3}), "must be a string"),
            ] {
                let error = client
                    .get_prompt(prompt("haiku", arguments))
                    .await
                    .unwrap_err();
                let ServiceError::McpError(error) = error else {
                    panic!("{at}")
                };
                assert_eq!(error.code, ErrorCode::INVALID_PARAMS, "{at}");
                assert!(error.message.contains(why), "{at}: {}", error.message);
            }
            let unknown = client
                .get_prompt(prompt("nope", json!({})))
                .await
                .unwrap_err();
            assert!(
                unknown.to_string().contains("unknown prompt `nope`"),
                "{at}: {unknown}"
            );

            let resources = client.list_all_resources().await.unwrap();
            let uris: Vec<&str> = resources.iter().map(|r| r.uri.as_str()).collect();
            assert_eq!(
                uris,
                [
                    "test://static-text",
                    "test://static-binary",
                    "test://watched-resource",
                    "shapes://style"
                ],
                "{at}"
            );
            let templates = client.list_all_resource_templates().await.unwrap();
            let templates: Vec<&str> = templates.iter().map(|t| t.uri_template.as_str()).collect();
            assert_eq!(
                templates,
                ["test://template/{id}/data", "shapes://items/{+path}"],
                "{at}"
            );

            // A read goes to the plugin that lists the URI or whose template matches it.
            let read = |uri: &str| client.read_resource(ReadResourceRequestParams::new(uri));
            let style = read("shapes://style").await.unwrap();
            assert!(
                matches!(&style.contents[0], ResourceContents::TextResourceContents { text, .. } if text == "5-7-5"),
                "{at}"
            );
            let item = read("shapes://items/a/b.bin").await.unwrap();
            let ResourceContents::BlobResourceContents { blob, uri, .. } = &item.contents[0] else {
                panic!("{at}")
            };
            assert_eq!(
                (uri.as_str(), blob.as_str()),
                ("shapes://items/a/b.bin", "YS9iLmJpbg=="),
                "{at}"
            );
            let data = read("test://template/42/data").await.unwrap();
            assert!(
                serde_json::to_string(&data)
                    .unwrap()
                    .contains("Data for ID: 42"),
                "{at}"
            );
            // Not found: by no plugin, or by the plugin itself; the code is
            // the revision's own (-32002, or -32602 from 2026-07-28).
            let code = if modern {
                ErrorCode::INVALID_PARAMS
            } else {
                ErrorCode::RESOURCE_NOT_FOUND
            };
            for uri in [
                "nowhere://x",
                "shapes://items/missing/x",
                "test://template/1/2/data",
            ] {
                let ServiceError::McpError(error) = read(uri).await.unwrap_err() else {
                    panic!("{at}")
                };
                assert_eq!(error.code, code, "{at} {uri}");
                assert_eq!(error.data.unwrap()["uri"], uri, "{at}");
            }

            // Completion by reference, from the plugin that owns it.
            let complete = |reference: Reference, name: &str, value: &str| {
                client.complete(CompleteRequestParams::new(
                    reference,
                    ArgumentInfo::new(name, value),
                ))
            };
            let topics = complete(Reference::for_prompt("haiku"), "topic", "au")
                .await
                .unwrap();
            assert_eq!(topics.completion.values, ["autumn", "august"], "{at}");
            let paths = complete(
                Reference::for_resource("shapes://items/{+path}"),
                "path",
                "x",
            )
            .await
            .unwrap();
            assert_eq!(paths.completion.values, ["x/a", "x/b"], "{at}");
            let args = complete(
                Reference::for_prompt("test_prompt_with_arguments"),
                "arg1",
                "teste",
            )
            .await
            .unwrap();
            assert_eq!(args.completion.values, ["tested"], "{at}");
            let unknown = complete(Reference::for_prompt("nope"), "a", "")
                .await
                .unwrap_err();
            assert!(
                unknown.to_string().contains("unknown reference"),
                "{at}: {unknown}"
            );
        }
    }
}

#[tokio::test]
async fn a_prompt_may_ask_the_client_in_both_eras() {
    let workspace = two_plugins();
    for transport in TRANSPORTS {
        for (modern, client) in eras() {
            let client = client.eliciting(|_| {
                let mut result =
                    rmcp::model::ElicitResult::new(rmcp::model::ElicitationAction::Accept);
                result.content = Some(json!({"context": "tests"}));
                Ok(result)
            });
            let session = open(transport, &workspace, client).await;
            let filled = session
                .client
                .get_prompt(prompt("test_input_required_result_prompt", json!({})))
                .await
                .unwrap();
            assert_eq!(
                serde_json::to_value(&filled.messages).unwrap()[0]["content"]["text"],
                "Prompt with context: tests",
                "{transport:?} modern={modern}"
            );
        }
    }
}

#[tokio::test]
async fn without_offers_the_methods_are_not_found_and_not_declared() {
    let workspace = Workspace::standard();
    for transport in TRANSPORTS {
        for (modern, client) in eras() {
            let session = open(transport, &workspace, client).await;
            let at = format!("{transport:?} modern={modern}");
            if let Some(info) = session.client.peer_info() {
                assert!(info.capabilities.prompts.is_none(), "{at}");
                assert!(info.capabilities.resources.is_none(), "{at}");
                assert!(info.capabilities.completions.is_none(), "{at}");
            }
            let error = session.client.list_prompts(None).await.unwrap_err();
            assert!(
                error.to_string().contains("-32601") || error.to_string().contains("prompts/list"),
                "{at}: {error}"
            );
        }
    }
}

#[test]
fn two_plugins_offering_one_prompt_or_uri_are_refused_at_load() {
    let fixture = component("conformance");
    let workspace = Workspace::with_config(&format!(
        "[[plugin]]\nname = \"a\"\ncomponent = {fixture:?}\n[[plugin]]\nname = \"b\"\ntool_prefix = \"b_\"\ncomponent = {fixture:?}\n"
    ));
    let output = std::process::Command::new(binary())
        .args(["check", "--config"])
        .arg(workspace.config())
        .env("WASM_MCP_CACHE_DIR", test_cache_dir())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("prompt `test_simple_prompt` is offered by both plugin `a` and plugin `b`"),
        "{stderr}"
    );
}

#[tokio::test]
async fn long_lists_come_in_pages_with_opaque_cursors() {
    // 24 + 4 tools, a page of 100: one page. Many plugins make more.
    let mut config = String::new();
    for i in 0..5 {
        config.push_str(&format!(
            "[[plugin]]\nname = \"c{i}\"\ntool_prefix = \"c{i}_\"\ncomponent = {:?}\n",
            component("seed-tools")
        ));
    }
    for i in 0..40 {
        config.push_str(&format!(
            "[[plugin]]\nname = \"s{i}\"\ntool_prefix = \"s{i}_\"\ncomponent = {:?}\n",
            component("seed-tools")
        ));
    }
    let workspace = Workspace::with_config(&config);
    let session = open(Transport::Http, &workspace, ScriptedClient::replying("x")).await;
    let first = session.client.list_tools(None).await.unwrap();
    assert_eq!(first.tools.len(), 100);
    let cursor = first.next_cursor.clone().expect("a second page");
    let second = session
        .client
        .list_tools(Some(
            PaginatedRequestParams::default().with_cursor(Some(cursor)),
        ))
        .await
        .unwrap();
    assert_eq!(second.tools.len(), 45 * 3 - 100);
    assert!(second.next_cursor.is_none());
    let all = session.client.list_all_tools().await.unwrap();
    assert_eq!(all.len(), 135);
    let mut names: Vec<_> = all.iter().map(|t| t.name.to_string()).collect();
    names.dedup();
    assert_eq!(names.len(), 135, "no tool twice");
}

#[test]
fn check_names_each_plugins_contract_and_offers() {
    let workspace = two_plugins();
    let output = std::process::Command::new(binary())
        .args(["check", "--config"])
        .arg(workspace.config())
        .env("WASM_MCP_CACHE_DIR", test_cache_dir())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for expected in [
        "plugin `shapes` (",
        "contract 0.2.0)",
        "  prompt  haiku",
        "  resource  shapes://style",
        "  resource template  shapes://items/{+path}",
    ] {
        assert!(stdout.contains(expected), "{expected}: {stdout}");
    }
    let probe = stdout
        .lines()
        .find(|l| l.starts_with("plugin `probe`"))
        .unwrap();
    assert!(probe.ends_with("contract 0.1.0)"), "{probe}");
}
