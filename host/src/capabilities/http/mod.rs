//! `wasi:http/outgoing-handler`, by grant. A plugin uses the standard WASI
//! HTTP interface (so any language's WASI HTTP client works), served by
//! `wasmtime-wasi-http`; every request it sends passes through
//! [`HttpGate`], which counts it, finds the grant that covers it (or
//! refuses it), adds the grant's secret headers, and sends it to a checked
//! address within the grant's limits (see [`send`]).
//!
//! Nothing here follows redirects: a redirect the plugin follows is a new
//! request, checked like the first.

mod address;
pub mod policy;
mod segments;
mod send;

use std::sync::Arc;

use http::Request;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

pub use policy::{HttpLimits, HttpPolicy, RawHttp};
use send::Reach;

/// A call's side of outbound HTTP: its plugin's policy, and how many
/// requests it has sent.
pub struct HttpGate {
    plugin: Arc<str>,
    policy: Arc<HttpPolicy>,
    sent: u32,
}

impl HttpGate {
    pub fn new(plugin: Arc<str>, policy: Arc<HttpPolicy>) -> Self {
        HttpGate {
            plugin,
            policy,
            sent: 0,
        }
    }

    /// Count the request, find its grant, and add the grant's headers.
    fn admit(&mut self, request: &mut Request<WasiBody>) -> Result<Reach, Error> {
        let limits = self.policy.limits;
        if self.sent >= limits.max_requests {
            tracing::warn!(target: "plugin", plugin = %self.plugin, "{} {} refused: the call already sent {} requests (`http.max_requests`)", request.method(), request.uri(), limits.max_requests);
            return Err(Error::ConnectionLimitReached);
        }
        self.sent += 1;
        let grant = match self.policy.check(request.method(), request.uri()) {
            Ok(grant) => grant,
            Err(policy::Denial(why)) => {
                tracing::warn!(target: "plugin", plugin = %self.plugin, "{why}");
                return Err(Error::HttpRequestDenied);
            }
        };
        // The grant's headers replace any of the same name the plugin set:
        // a plugin cannot choose the credentials sent with a secret.
        for (name, value) in &grant.headers {
            request.headers_mut().insert(name.clone(), value.clone());
        }
        Ok(Reach {
            internal: grant.private,
            named: grant.host.parse().ok(),
        })
    }
}

impl WasiHttpHooks for HttpGate {
    fn send_request(
        &mut self,
        mut request: Request<WasiBody>,
        options: Option<RequestOptions>,
        _body_sent: Box<dyn Future<Output = Result<(), Error>> + Send>,
    ) -> Box<dyn Future<Output = Result<send::Sent, Error>> + Send> {
        match self.admit(&mut request) {
            Err(error) => Box::new(std::future::ready(Err(error))),
            Ok(reach) => Box::new(send::send(
                self.plugin.clone(),
                request,
                reach,
                self.policy.limits,
                options.and_then(|o| o.connect_timeout),
            )),
        }
    }

    fn p2_error_from_hyper(
        &mut self,
        error: &hyper::Error,
    ) -> wasmtime_wasi_http::p2::bindings::http::types::ErrorCode {
        tracing::debug!(target: "plugin", plugin = %self.plugin, "http: {error}");
        wasmtime_wasi_http::p2::bindings::http::types::ErrorCode::HttpProtocolError
    }

    fn p2_error_from_connect(
        &mut self,
        error: &std::io::Error,
    ) -> wasmtime_wasi_http::p2::bindings::http::types::ErrorCode {
        tracing::debug!(target: "plugin", plugin = %self.plugin, "http connect: {error}");
        wasmtime_wasi_http::p2::bindings::http::types::ErrorCode::ConnectionRefused
    }

    fn p2_error_from_tls(
        &mut self,
        error: &std::io::Error,
    ) -> wasmtime_wasi_http::p2::bindings::http::types::ErrorCode {
        tracing::debug!(target: "plugin", plugin = %self.plugin, "http TLS: {error}");
        wasmtime_wasi_http::p2::bindings::http::types::ErrorCode::TlsProtocolError
    }
}
