//! What 0.2 tools hand back (`tools` export of `wasm-mcp:plugin@0.2.0`):
//! every kind of content block, structured output checked against the
//! tool's `output-schema`, error results with content, titles and
//! annotations in `tools/list`; and a 0.1 component served beside 0.2 ones.
//! Both eras, both transports.

mod common;

use base64::Engine as _;
use common::*;
use rmcp::model::ContentBlock;
use serde_json::json;

fn workspace() -> Workspace {
    Workspace::with_config(&format!(
        "[[plugin]]\ncomponent = {:?}\n[[plugin]]\ncomponent = {:?}\n[[plugin]]\ncomponent = {:?}\n[[plugin]]\ncomponent = {:?}\nappend = [\"probe.txt\"]\n",
        component("shapes"),
        component("conformance"),
        component("seed-tools"),
        component("probe"),
    ))
}

fn eras() -> [(bool, ScriptedClient); 2] {
    let client = ScriptedClient::replying("Use a prepared statement.");
    [(false, client.clone()), (true, client.modern())]
}

#[tokio::test]
async fn every_content_block_reaches_the_client_in_both_eras() {
    let workspace = workspace();
    for transport in TRANSPORTS {
        for (modern, client) in eras() {
            let session = open(transport, &workspace, client).await;
            let at = format!("{transport:?} modern={modern}");

            let image = call(&session.client, "test_image_content", json!({})).await;
            let ContentBlock::Image(image) = &image.content[0] else {
                panic!("{at}: {image:?}")
            };
            assert_eq!(image.mime_type, "image/png", "{at}");
            let png = base64::engine::general_purpose::STANDARD
                .decode(&image.data)
                .unwrap();
            assert!(
                png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() == 70,
                "{at}"
            );

            let audio = call(&session.client, "test_audio_content", json!({})).await;
            assert!(
                matches!(&audio.content[0], ContentBlock::Audio(a) if a.mime_type == "audio/wav"),
                "{at}: {audio:?}"
            );

            let mixed = call(&session.client, "test_multiple_content_types", json!({})).await;
            let value = serde_json::to_value(&mixed).unwrap();
            assert_eq!(
                value["content"],
                json!([
                    {"type": "text", "text": "Multiple content types test:"},
                    {"type": "image", "data": image.data, "mimeType": "image/png"},
                    {"type": "resource", "resource": {"uri": "test://mixed-content-resource", "mimeType": "application/json", "text": "{\"test\":\"data\",\"value\":123}"}}
                ]),
                "{at}"
            );
            assert_eq!(mixed.is_error, Some(false), "{at}");

            // An error result carries content and annotations too.
            let broken = call(&session.client, "broken_chart", json!({"city": "Oslo"})).await;
            assert_eq!(broken.is_error, Some(true), "{at}");
            let value = serde_json::to_value(&broken).unwrap();
            let blocks = value["content"].as_array().unwrap();
            let types: Vec<&str> = blocks.iter().map(|b| b["type"].as_str().unwrap()).collect();
            assert_eq!(
                types,
                ["text", "image", "resource_link", "audio", "resource"],
                "{at}"
            );
            assert_eq!(
                blocks[0]["annotations"]["audience"],
                json!(["user"]),
                "{at}"
            );
            assert_eq!(blocks[1]["annotations"]["priority"], json!(0.5), "{at}");
            assert_eq!(
                blocks[2],
                json!({"type": "resource_link", "uri": "shapes://items/charts/last", "name": "last-chart", "description": "The last chart", "mimeType": "image/png"}),
                "{at}"
            );
            assert_eq!(
                blocks[4]["resource"],
                json!({"uri": "shapes://raw", "mimeType": "application/octet-stream", "blob": "AAEC/w=="}),
                "{at}"
            );
        }
    }
}

#[tokio::test]
async fn structured_output_is_checked_against_the_output_schema() {
    let workspace = workspace();
    for transport in TRANSPORTS {
        for (modern, client) in eras() {
            let session = open(transport, &workspace, client).await;
            let at = format!("{transport:?} modern={modern}");

            // Derived from a Rust type; its JSON is the text content too.
            let weather = call(&session.client, "weather", json!({"city": "Oslo"})).await;
            let expected = json!({"city": "Oslo", "celsius": 4, "sunny": true});
            assert_eq!(weather.structured_content, Some(expected.clone()), "{at}");
            let shown: serde_json::Value = serde_json::from_str(&text(&weather)).unwrap();
            assert_eq!(shown, expected, "{at}");

            // The seed's dict result, as structured output.
            let analysis = call(
                &session.client,
                "analyze_code",
                json!({"code": "q = f\"{x}\""}),
            )
            .await;
            assert_eq!(
                analysis.structured_content,
                Some(json!({"analysis": "Use a prepared statement.", "source": "scripted-model"})),
                "{at}"
            );

            let fits = call(&session.client, "counted", json!({"how": "fits"})).await;
            assert_eq!(fits.structured_content, Some(json!({"count": 3})), "{at}");
            assert_eq!(text(&fits), "counted: fits", "{at}: content kept as given");

            let error = call(&session.client, "counted", json!({"how": "error"})).await;
            assert_eq!(
                error.is_error,
                Some(true),
                "{at}: an error result needs no structure"
            );
            assert_eq!(text(&error), "could not count", "{at}");

            for (how, why) in [
                ("wrong-type", "does not fit the tool's `output-schema`"),
                (
                    "missing",
                    "declares an `output-schema` but returned no `structured` output",
                ),
                ("not-json", "`structured` output is not JSON"),
                ("not-object", "`structured` output must be a JSON object"),
            ] {
                let refused = call(&session.client, "counted", json!({"how": how})).await;
                assert_eq!(refused.is_error, Some(true), "{at} {how}");
                assert!(refused.structured_content.is_none(), "{at} {how}");
                let message = text(&refused);
                assert!(
                    message.starts_with("plugin `shapes` failed: returned an invalid result: ")
                        && message.contains(why),
                    "{at} {how}: {message}"
                );
            }
            if modern {
                // A 0.1 component, beside the 0.2 ones, unchanged.
                let old = call(&session.client, "probe_result", json!({"bytes": 3})).await;
                assert_eq!(old.is_error, Some(false), "{at}");
                assert_eq!(text(&old).len(), 3, "{at}");
                assert!(old.structured_content.is_none(), "{at}");
            }
        }
    }
}

#[tokio::test]
async fn titles_annotations_and_output_schemas_are_listed() {
    let workspace = workspace();
    let session = open(Transport::Http, &workspace, ScriptedClient::replying("x")).await;
    let tools = session.client.list_all_tools().await.unwrap();
    let weather = tools.iter().find(|t| t.name == "weather").unwrap();
    assert_eq!(weather.title.as_deref(), Some("Weather"));
    let listed = serde_json::to_value(weather).unwrap();
    assert_eq!(
        listed["annotations"],
        json!({"readOnlyHint": true, "idempotentHint": true, "openWorldHint": false})
    );
    assert_eq!(listed["outputSchema"]["type"], "object");
    assert_eq!(
        listed["outputSchema"]["required"],
        json!(["city", "celsius", "sunny"])
    );
    let broken =
        serde_json::to_value(tools.iter().find(|t| t.name == "broken_chart").unwrap()).unwrap();
    assert_eq!(
        broken["annotations"],
        json!({"destructiveHint": true, "openWorldHint": true})
    );
    // A hand-written 2020-12 schema is listed as written.
    let contact = tools
        .iter()
        .find(|t| t.name == "json_schema_2020_12_tool")
        .unwrap();
    assert_eq!(
        contact.input_schema["$defs"]["address"]["$anchor"],
        "addressDef"
    );
    assert_eq!(contact.input_schema["else"], json!({"required": ["email"]}));
    // 0.1 tools have none of these.
    let old =
        serde_json::to_value(tools.iter().find(|t| t.name == "probe_result").unwrap()).unwrap();
    assert!(old.get("annotations").is_none() && old.get("outputSchema").is_none());
}

/// Every content block counts toward `limits.result_bytes`, however empty:
/// 150,000 empty text blocks (megabytes on the wire, far more in host
/// memory) are refused before they are converted, and a few thousand
/// count their fixed cost each.
#[tokio::test]
async fn empty_blocks_count_toward_the_result_limit() {
    let workspace = Workspace::with_config(&format!(
        "[[plugin]]\ncomponent = {:?}\n[plugin.limits]\nresult_bytes = 200000\nmemory_mib = 128\n",
        component("shapes"),
    ));
    for transport in TRANSPORTS {
        let session = open(transport, &workspace, ScriptedClient::replying("x")).await;
        let at = format!("{transport:?}");

        let many = call(&session.client, "empty_blocks", json!({"count": 150_000})).await;
        assert_eq!(
            many.is_error,
            Some(true),
            "{at}: {} blocks",
            many.content.len()
        );
        let message = text(&many);
        assert!(
            message.starts_with("plugin `shapes` hit a limit: result size: the answer has 150000 content blocks, more than 10000")
                && message.contains("`limits.result_bytes`"),
            "{at}: {message}"
        );
        assert_eq!(many.content.len(), 1, "{at}");

        // 5,000 blocks of 64 bytes each: 320,000 bytes, over the limit.
        let some = call(&session.client, "empty_blocks", json!({"count": 5_000})).await;
        assert_eq!(some.is_error, Some(true), "{at}");
        let message = text(&some);
        assert!(
            message.starts_with(
                "plugin `shapes` hit a limit: result size: the result has 320000 bytes, more than 200000 (`limits.result_bytes`; each content block"
            ),
            "{at}: {message}"
        );

        // 3,000 of them fit: 192,000 bytes.
        let fits = call(&session.client, "empty_blocks", json!({"count": 3_000})).await;
        assert_ne!(fits.is_error, Some(true), "{at}: {}", text(&fits));
        assert_eq!(fits.content.len(), 3_000, "{at}");

        // The host still serves.
        let weather = call(&session.client, "weather", json!({"city": "Oslo"})).await;
        assert_ne!(weather.is_error, Some(true), "{at}: {}", text(&weather));
    }
}
