//! What tools, prompts and resources hand back: content blocks, tool
//! results (with structured output), and prompt messages.

use crate::bindings::exports::wasm_mcp::plugin::tools::ToolResult as WitToolResult;
use crate::bindings::wasm_mcp::plugin::content as wit;

pub use wit::Role;

/// One piece of a tool result or prompt message: text, an image, audio, a
/// link to a resource, or a resource's contents.
#[derive(Clone, Debug)]
pub struct Content(pub(crate) wit::ContentBlock);

impl Content {
    pub fn text(text: impl Into<String>) -> Self {
        Content::from(wit::Block::Text(text.into()))
    }

    /// An image: its bytes (sent as base64) and MIME type (`image/png`).
    pub fn image(data: impl Into<Vec<u8>>, mime_type: impl Into<String>) -> Self {
        Content::from(wit::Block::Image(wit::Media {
            data: data.into(),
            mime_type: mime_type.into(),
        }))
    }

    /// Audio: its bytes (sent as base64) and MIME type (`audio/wav`).
    pub fn audio(data: impl Into<Vec<u8>>, mime_type: impl Into<String>) -> Self {
        Content::from(wit::Block::Audio(wit::Media {
            data: data.into(),
            mime_type: mime_type.into(),
        }))
    }

    /// A link to a resource the client may read itself.
    pub fn resource_link(uri: impl Into<String>, name: impl Into<String>) -> Self {
        Content::from(wit::Block::ResourceLink(wit::ResourceLink {
            uri: uri.into(),
            name: name.into(),
            title: None,
            description: None,
            mime_type: None,
            size: None,
        }))
    }

    /// A text resource's contents, embedded.
    pub fn embedded_text(
        uri: impl Into<String>,
        mime_type: impl Into<String>,
        text: impl Into<String>,
    ) -> Self {
        Content::from(wit::Block::Resource(wit::ResourceContents {
            uri: uri.into(),
            mime_type: Some(mime_type.into()),
            body: wit::Body::Text(text.into()),
        }))
    }

    /// A binary resource's contents, embedded (sent as base64).
    pub fn embedded_blob(
        uri: impl Into<String>,
        mime_type: impl Into<String>,
        data: impl Into<Vec<u8>>,
    ) -> Self {
        Content::from(wit::Block::Resource(wit::ResourceContents {
            uri: uri.into(),
            mime_type: Some(mime_type.into()),
            body: wit::Body::Blob(data.into()),
        }))
    }

    /// Say who the content is for (`Role::User`, `Role::Assistant`).
    pub fn for_audience(mut self, audience: &[Role]) -> Self {
        self.annotations().audience = audience.to_vec();
        self
    }

    /// How important it is, from 0.0 to 1.0.
    pub fn with_priority(mut self, priority: f32) -> Self {
        self.annotations().priority = Some(priority);
        self
    }

    /// For a resource link: its description and MIME type.
    pub fn describe(
        mut self,
        description: impl Into<String>,
        mime_type: impl Into<String>,
    ) -> Self {
        if let wit::Block::ResourceLink(link) = &mut self.0.block {
            link.description = Some(description.into());
            link.mime_type = Some(mime_type.into());
        }
        self
    }

    fn annotations(&mut self) -> &mut wit::Annotations {
        self.0.annotations.get_or_insert(wit::Annotations {
            audience: Vec::new(),
            priority: None,
            last_modified: None,
        })
    }
}

impl From<wit::Block> for Content {
    fn from(block: wit::Block) -> Self {
        Content(wit::ContentBlock {
            block,
            annotations: None,
        })
    }
}

impl From<String> for Content {
    fn from(text: String) -> Self {
        Content::text(text)
    }
}

impl From<&str> for Content {
    fn from(text: &str) -> Self {
        Content::text(text)
    }
}

/// A whole tool result: content, optional structured output, and whether it
/// reports an error the model should see.
#[derive(Clone, Debug, Default)]
pub struct ToolResult {
    pub content: Vec<Content>,
    /// A JSON object, as text.
    pub structured: Option<String>,
    pub is_error: bool,
}

impl ToolResult {
    pub fn new(content: impl IntoIterator<Item = Content>) -> Self {
        ToolResult {
            content: content.into_iter().collect(),
            ..Default::default()
        }
    }

    /// A failure the model reads (and may correct), carried as content.
    pub fn error(content: impl IntoIterator<Item = Content>) -> Self {
        ToolResult {
            is_error: true,
            ..ToolResult::new(content)
        }
    }

    /// Structured output, with its JSON as the text content.
    pub fn structured<T: serde::Serialize>(value: &T) -> Self {
        let json = serde_json::to_string(value).unwrap_or_else(|_| "null".into());
        ToolResult {
            content: vec![Content::text(json.clone())],
            structured: Some(json),
            is_error: false,
        }
    }
}

/// What a tool function may return on success.
pub trait IntoToolResult {
    fn into_tool_result(self) -> ToolResult;
}

impl IntoToolResult for ToolResult {
    fn into_tool_result(self) -> ToolResult {
        self
    }
}

impl IntoToolResult for String {
    fn into_tool_result(self) -> ToolResult {
        ToolResult::new([Content::text(self)])
    }
}

impl IntoToolResult for &str {
    fn into_tool_result(self) -> ToolResult {
        ToolResult::new([Content::text(self)])
    }
}

impl IntoToolResult for Content {
    fn into_tool_result(self) -> ToolResult {
        ToolResult::new([self])
    }
}

impl IntoToolResult for Vec<Content> {
    fn into_tool_result(self) -> ToolResult {
        ToolResult::new(self)
    }
}

#[doc(hidden)]
impl From<ToolResult> for WitToolResult {
    fn from(result: ToolResult) -> Self {
        WitToolResult {
            content: result.content.into_iter().map(|c| c.0).collect(),
            structured: result.structured,
            is_error: result.is_error,
        }
    }
}

/// One message of a filled-in prompt.
#[derive(Clone, Debug)]
pub struct Message {
    pub role: Role,
    pub content: Content,
}

impl Message {
    pub fn user(content: impl Into<Content>) -> Self {
        Message {
            role: Role::User,
            content: content.into(),
        }
    }

    pub fn assistant(content: impl Into<Content>) -> Self {
        Message {
            role: Role::Assistant,
            content: content.into(),
        }
    }
}
