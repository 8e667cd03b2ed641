//! The MCP face of the host: `tools/list` and `tools/call` dispatched to the
//! runtime. It builds each call's [`CallContext`] (which plugin, which route
//! for sampling, which cancellation token) and turns every failure into a
//! tool result with `isError: true`; there is no tool logic here.

// Sampling capability checks use SEP-2577-deprecated items on purpose: MCP
// sampling is still supported, and it is how `sample()` reaches legacy clients.
#![allow(deprecated)]

use std::sync::Arc;
use std::time::Instant;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    ListToolsResult, PaginatedRequestParams, ProtocolVersion, ServerCapabilities, ServerConfig,
    Tool,
};
use rmcp::service::{RequestContext, RoleServer};
use rmcp::{ErrorData as McpError, ServerHandler};

use crate::capabilities::sampling::{ClientSession, SampleRoute, Unavailable};
use crate::runtime::{CallContext, CallFailure, Runtime};

/// One handler per MCP session; all share the runtime.
#[derive(Clone)]
pub struct McpServer {
    runtime: Arc<Runtime>,
}

impl McpServer {
    pub fn new(runtime: Arc<Runtime>) -> Self {
        McpServer { runtime }
    }

    /// How `sample()` reaches the client of this request.
    fn sampling_route(&self, context: &RequestContext<RoleServer>) -> Arc<dyn SampleRoute> {
        let era_2026 = context
            .protocol_version()
            .is_some_and(|v| v.as_str() >= ProtocolVersion::V_2026_07_28.as_str());
        if era_2026 {
            return Arc::new(Unavailable(
                "this client speaks MCP 2026-07-28, whose sampling route (input_required) this host does not serve yet; connect with protocol 2025-11-25".into(),
            ));
        }
        let declared = context
            .client_capabilities()
            .is_some_and(|caps| caps.sampling.is_some());
        if declared {
            Arc::new(ClientSession {
                peer: context.peer.clone(),
            })
        } else {
            Arc::new(Unavailable(
                "the calling client did not declare the MCP `sampling` capability, so the tool cannot ask its LLM; use a client that supports sampling".into(),
            ))
        }
    }
}

impl ServerHandler for McpServer {
    fn get_info(&self) -> ServerConfig {
        let mut info = ServerConfig::new(ServerCapabilities::builder().enable_tools().build());
        info.server_info = Implementation::new("wasm-mcp", env!("CARGO_PKG_VERSION"));
        info.instructions = Some(
            "Tools run as sandboxed WebAssembly plugins; some ask your LLM for help through MCP sampling."
                .into(),
        );
        info
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        Ok(ListToolsResult::with_all_items(
            self.runtime.tools().cloned().collect(),
        ))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.runtime.find(name).map(|(_, tool)| tool.clone())
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let Some((plugin, _)) = self.runtime.find(&request.name) else {
            return Err(McpError::invalid_params(
                format!(
                    "unknown tool `{}`; `tools/list` names the tools this server has",
                    request.name
                ),
                None,
            ));
        };
        let arguments =
            serde_json::Value::Object(request.arguments.unwrap_or_default()).to_string();
        let call = CallContext {
            plugin: plugin.name.as_str().into(),
            grants: plugin.grants.clone(),
            sampling: self.sampling_route(&context),
            cancel: context.ct.clone(),
        };
        let started = Instant::now();
        // Awaited on this task, never spawned: legacy sampling relies on the
        // request's task-local id to ride the call's own response stream.
        let outcome = plugin.call(&request.name, &arguments, call).await;
        let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
        let result = match outcome {
            Ok(text) => {
                tracing::info!(tool = %request.name, plugin = %plugin.name, elapsed_ms, "call succeeded");
                CallToolResult::success(vec![ContentBlock::text(text)])
            }
            Err(failure) => {
                tracing::warn!(tool = %request.name, plugin = %plugin.name, elapsed_ms, "call failed: {failure}");
                if matches!(failure, CallFailure::Cancelled) {
                    return Err(McpError::internal_error("the call was cancelled", None));
                }
                CallToolResult::error(vec![ContentBlock::text(format!(
                    "plugin `{}` {}: {failure}",
                    plugin.name,
                    match failure {
                        CallFailure::InvalidArguments(_) => "refused the arguments",
                        CallFailure::Trapped(_) => "crashed",
                        _ => "failed",
                    }
                ))])
            }
        };
        Ok(result.into())
    }
}
