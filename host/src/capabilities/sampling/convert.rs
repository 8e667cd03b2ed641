//! Conversion between the WIT's sampling types and MCP's
//! `sampling/createMessage`: every field both ways, and requests MCP cannot
//! carry refused rather than bent.

// MCP sampling is deprecated by SEP-2577 but supported; see the parent module.
#![allow(deprecated)]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use rmcp::model::{
    AudioContent, CreateMessageRequestParams, CreateMessageResult, ImageContent, ModelHint,
    ModelPreferences, Role as McpRole, SamplingMessage, SamplingMessageContentBlock,
};

use crate::bindings::sampling::{Content, Error, Media, Request, Response, Role, StopReason};

/// The plugin's request in MCP's shape; refuses requests MCP cannot carry.
pub fn to_mcp(request: Request) -> Result<CreateMessageRequestParams, String> {
    if request.messages.is_empty() {
        return Err("a sampling request needs at least one message".into());
    }
    if request.max_tokens == 0 {
        return Err("`max-tokens` must be at least 1".into());
    }
    let messages = request
        .messages
        .into_iter()
        .map(|message| {
            let role = match message.role {
                Role::User => McpRole::User,
                Role::Assistant => McpRole::Assistant,
            };
            let mut blocks: Vec<_> = message.content.into_iter().map(content_to_mcp).collect();
            // One block goes as a bare object, as most clients expect (the
            // seed's reads `messages[0].content.text`); several as an array.
            if blocks.len() == 1 {
                SamplingMessage::new(role, blocks.remove(0))
            } else {
                SamplingMessage::new_multiple(role, blocks)
            }
        })
        .collect();
    let mut params = CreateMessageRequestParams::new(messages, request.max_tokens);
    params.system_prompt = request.system_prompt;
    params.temperature = request.temperature;
    if !request.stop_sequences.is_empty() {
        params.stop_sequences = Some(request.stop_sequences);
    }
    params.model_preferences = request.model_preferences.map(|prefs| {
        let mut out = ModelPreferences::new();
        if !prefs.hints.is_empty() {
            out = out.with_hints(prefs.hints.into_iter().map(ModelHint::new).collect());
        }
        out.cost_priority = prefs.cost_priority;
        out.speed_priority = prefs.speed_priority;
        out.intelligence_priority = prefs.intelligence_priority;
        out
    });
    Ok(params)
}

fn content_to_mcp(content: Content) -> SamplingMessageContentBlock {
    match content {
        Content::Text(text) => SamplingMessageContentBlock::text(text),
        Content::Image(media) => SamplingMessageContentBlock::Image(ImageContent::new(
            BASE64.encode(&media.data),
            media.mime_type,
        )),
        Content::Audio(media) => SamplingMessageContentBlock::Audio(AudioContent::new(
            BASE64.encode(&media.data),
            media.mime_type,
        )),
    }
}

/// The client's answer in the plugin's shape; media that is not valid
/// base64 makes the answer `failed`, never silently empty.
pub fn from_mcp(result: CreateMessageResult) -> Result<Response, Error> {
    let mut content = Vec::new();
    for block in result.message.content.into_vec() {
        content.push(match block {
            SamplingMessageContentBlock::Text(text) => Content::Text(text.text),
            SamplingMessageContentBlock::Image(image) => {
                Content::Image(media_from_base64(&image.data, image.mime_type)?)
            }
            SamplingMessageContentBlock::Audio(audio) => {
                Content::Audio(media_from_base64(&audio.data, audio.mime_type)?)
            }
            // Tool use is not part of our contract: the plugin offered no tools.
            _ => continue,
        });
    }
    let stop_reason = result.stop_reason.map(|reason| match reason.as_str() {
        CreateMessageResult::STOP_REASON_END_TURN => StopReason::EndTurn,
        CreateMessageResult::STOP_REASON_END_SEQUENCE => StopReason::StopSequence,
        CreateMessageResult::STOP_REASON_END_MAX_TOKEN => StopReason::MaxTokens,
        _ => StopReason::Other(reason),
    });
    Ok(Response {
        model: result.model,
        content,
        stop_reason,
    })
}

fn media_from_base64(data: &str, mime_type: String) -> Result<Media, Error> {
    let data = BASE64.decode(data).map_err(|e| {
        Error::Failed(format!(
            "the client's answer has {mime_type} content that is not valid base64: {e}"
        ))
    })?;
    Ok(Media { data, mime_type })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::sampling::{Message, ModelPreferences as Prefs};

    #[test]
    fn request_converts_every_field() {
        let params = to_mcp(Request {
            messages: vec![
                Message {
                    role: Role::User,
                    content: vec![
                        Content::Text("hi".into()),
                        Content::Image(Media {
                            data: vec![1, 2, 3],
                            mime_type: "image/png".into(),
                        }),
                    ],
                },
                Message {
                    role: Role::Assistant,
                    content: vec![Content::Text("one block".into())],
                },
            ],
            system_prompt: Some("be brief".into()),
            max_tokens: 100,
            temperature: Some(0.5),
            stop_sequences: vec!["END".into()],
            model_preferences: Some(Prefs {
                hints: vec!["claude".into()],
                cost_priority: Some(0.25),
                speed_priority: None,
                intelligence_priority: Some(0.75),
            }),
        })
        .unwrap();
        let json = serde_json::to_value(&params).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "messages": [
                    {"role": "user", "content": [
                        {"type": "text", "text": "hi"},
                        {"type": "image", "data": "AQID", "mimeType": "image/png"}
                    ]},
                    {"role": "assistant", "content": {"type": "text", "text": "one block"}}
                ],
                "systemPrompt": "be brief",
                "maxTokens": 100,
                "temperature": 0.5,
                "stopSequences": ["END"],
                "modelPreferences": {"hints": [{"name": "claude"}], "costPriority": 0.25, "intelligencePriority": 0.75}
            })
        );
    }

    #[test]
    fn empty_requests_are_refused() {
        let empty = Request {
            messages: vec![],
            system_prompt: None,
            max_tokens: 10,
            temperature: None,
            stop_sequences: vec![],
            model_preferences: None,
        };
        assert!(to_mcp(empty).is_err());
    }

    #[test]
    fn stop_reasons_map_and_unknown_ones_are_kept() {
        let result = CreateMessageResult::new(SamplingMessage::assistant_text("ok"), "m".into())
            .with_stop_reason("maxTokens");
        let response = from_mcp(result).unwrap();
        assert!(matches!(response.stop_reason, Some(StopReason::MaxTokens)));
        assert!(matches!(&response.content[..], [Content::Text(t)] if t == "ok"));
        let result = CreateMessageResult::new(SamplingMessage::assistant_text("ok"), "m".into())
            .with_stop_reason("refusal");
        assert!(
            matches!(from_mcp(result).unwrap().stop_reason, Some(StopReason::Other(r)) if r == "refusal")
        );
    }

    #[test]
    fn media_that_is_not_base64_fails_the_answer() {
        let answer = |data: &str| {
            CreateMessageResult::new(
                SamplingMessage::new(
                    McpRole::Assistant,
                    SamplingMessageContentBlock::Image(ImageContent::new(data, "image/png")),
                ),
                "m".into(),
            )
        };
        let Ok(good) = from_mcp(answer("AQID")) else {
            panic!("valid base64 is decoded")
        };
        assert!(matches!(&good.content[..], [Content::Image(m)] if m.data == [1, 2, 3]));
        let bad = from_mcp(answer("not base64!"));
        assert!(
            matches!(&bad, Err(Error::Failed(why)) if why.contains("not valid base64")),
            "{bad:?}"
        );
    }
}
