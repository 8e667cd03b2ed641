//! Sending one request that a grant covers: resolve the name, refuse
//! internal addresses the grant does not allow, connect to the very address
//! that was checked (so DNS cannot change the answer in between), TLS
//! against the system's roots, HTTP/1.1 by hyper, and bodies held to the
//! grant's size limits and the request's deadline.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response, Uri};
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::{Error, WasiBody};

use super::address::is_internal;
use super::policy::HttpLimits;

/// What the covering grant allows beyond public addresses.
#[derive(Clone, Copy, Debug)]
pub struct Reach {
    /// `private = true`: any address.
    pub internal: bool,
    /// The grant's host is this IP literal, which it may reach even when internal.
    pub named: Option<IpAddr>,
}

/// The response, and the connection's remaining I/O (which wasi-http drives).
pub type Sent = (
    Response<WasiBody>,
    Box<dyn Future<Output = Result<(), Error>> + Send>,
);

/// Send `request` (its URI absolute, already granted) within `limits`.
pub async fn send(
    plugin: Arc<str>,
    mut request: Request<WasiBody>,
    reach: Reach,
    limits: HttpLimits,
    guest_connect_timeout: Option<std::time::Duration>,
) -> Result<Sent, Error> {
    let started = Instant::now();
    let deadline = started + limits.timeout;
    let connect_timeout =
        guest_connect_timeout.map_or(limits.connect_timeout, |t| t.min(limits.connect_timeout));
    let connect_deadline = (started + connect_timeout).min(deadline);
    let uri = request.uri().clone();
    let https = uri.scheme_str() == Some("https");
    let authority = uri.authority().ok_or(Error::HttpRequestUriInvalid)?;
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });

    if let Some(length) = declared_length(request.headers())
        && length > limits.request_bytes
    {
        return Err(Error::HttpRequestBodySize(Some(limits.request_bytes)));
    }
    let addresses = resolve(&host, port, connect_deadline).await?;
    let allowed: Vec<SocketAddr> = addresses
        .iter()
        .copied()
        .filter(|a| reach.internal || reach.named == Some(a.ip()) || !is_internal(a.ip()))
        .collect();
    if allowed.is_empty() {
        tracing::warn!(target: "plugin", %plugin, "{} {uri} refused: {host} resolves to {}, an internal address (loopback, private, link-local or reserved); a grant reaches one only with `private = true` or by naming the address itself", request.method(), addresses[0].ip());
        return Err(Error::DestinationIpProhibited);
    }
    let tcp = connect(&allowed, connect_deadline).await?;

    // The request line carries the path only; the authority went to `Host`.
    *request.uri_mut() = Uri::builder()
        .path_and_query(uri.path_and_query().map_or("/", |p| p.as_str()))
        .build()
        .map_err(|_| Error::HttpRequestUriInvalid)?;
    let request = request.map(|body| {
        Limited::new(body, limits.request_bytes, deadline, Direction::Request).boxed_unsync()
    });
    let method = request.method().clone();
    let response = if https {
        let tls = tls_connect(&host, tcp, connect_deadline).await?;
        exchange(tls, request, deadline).await?
    } else {
        exchange(tcp, request, deadline).await?
    };
    let (response, io) = response;
    tracing::debug!(target: "plugin", %plugin, %method, %uri, status = response.status().as_u16(), "http request");
    if let Some(length) = declared_length(response.headers())
        && length > limits.response_bytes
    {
        return Err(Error::HttpResponseBodySize(Some(limits.response_bytes)));
    }
    let response = response.map(|body| {
        Limited::new(
            body.map_err(Error::from),
            limits.response_bytes,
            deadline,
            Direction::Response,
        )
        .boxed_unsync()
    });
    Ok((response, io))
}

fn declared_length(headers: &http::HeaderMap) -> Option<u64> {
    headers
        .get(http::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

async fn resolve(host: &str, port: u16, deadline: Instant) -> Result<Vec<SocketAddr>, Error> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let found = tokio::time::timeout_at(deadline, tokio::net::lookup_host((host, port)))
        .await
        .map_err(|_| Error::DnsTimeout)?
        .map_err(|e| Error::DnsError {
            rcode: Some(e.to_string()),
            info_code: None,
        })?;
    let addresses: Vec<SocketAddr> = found.collect();
    if addresses.is_empty() {
        return Err(Error::DestinationNotFound);
    }
    Ok(addresses)
}

/// The first of `addresses` that accepts, trying each in turn.
async fn connect(addresses: &[SocketAddr], deadline: Instant) -> Result<TcpStream, Error> {
    let mut last = Error::ConnectionRefused;
    for address in addresses {
        match tokio::time::timeout_at(deadline, TcpStream::connect(address)).await {
            Err(_) => return Err(Error::ConnectionTimeout),
            Ok(Ok(stream)) => {
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Ok(Err(error)) => last = Error::Connect(error),
        }
    }
    Err(last)
}

async fn tls_connect(
    host: &str,
    tcp: TcpStream,
    deadline: Instant,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, Error> {
    let config = tls_config()?;
    let name =
        rustls::pki_types::ServerName::try_from(host.to_string()).map_err(|_| Error::DnsError {
            rcode: Some(format!("{host} is not a name TLS can verify")),
            info_code: None,
        })?;
    let connector = tokio_rustls::TlsConnector::from(config);
    tokio::time::timeout_at(deadline, connector.connect(name, tcp))
        .await
        .map_err(|_| Error::ConnectionTimeout)?
        .map_err(Error::Tls)
}

/// One TLS configuration for the process: the ring provider and the
/// system's trust store, as the host's own provider client uses.
fn tls_config() -> Result<Arc<rustls::ClientConfig>, Error> {
    static CONFIG: OnceLock<Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            use rustls_platform_verifier::BuilderVerifierExt;
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .and_then(|builder| builder.with_platform_verifier())
                .map(|builder| Arc::new(builder.with_no_client_auth()))
                .map_err(|e| e.to_string())
        })
        .clone()
        .map_err(|why| Error::InternalError(Some(format!("TLS is not available: {why}"))))
}

/// HTTP/1.1 over `stream`: the response head by `deadline`, and the
/// connection's I/O to drive while the body is read.
async fn exchange<S>(
    stream: S,
    request: Request<WasiBody>,
    deadline: Instant,
) -> Result<
    (
        Response<hyper::body::Incoming>,
        Box<dyn Future<Output = Result<(), Error>> + Send>,
    ),
    Error,
>
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let (mut sender, connection) = tokio::time::timeout_at(
        deadline,
        hyper::client::conn::http1::handshake(TokioIo::new(stream)),
    )
    .await
    .map_err(|_| Error::ConnectionTimeout)??;
    let mut connection = Box::pin(connection);
    let mut response = Box::pin(sender.send_request(request));
    let mut connection_done = false;
    let head = tokio::time::timeout_at(
        deadline,
        std::future::poll_fn(|cx| {
            if let Poll::Ready(result) = response.as_mut().poll(cx) {
                return Poll::Ready(result.map_err(Error::from));
            }
            if !connection_done && let Poll::Ready(result) = connection.as_mut().poll(cx) {
                connection_done = true;
                if let Err(error) = result {
                    return Poll::Ready(Err(Error::from(error)));
                }
                return response.as_mut().poll(cx).map_err(Error::from);
            }
            Poll::Pending
        }),
    )
    .await
    .map_err(|_| Error::HttpResponseTimeout)??;
    drop(response);
    let io: Box<dyn Future<Output = Result<(), Error>> + Send> = Box::new(async move {
        if connection_done {
            return Ok(());
        }
        match tokio::time::timeout_at(deadline, connection).await {
            Ok(result) => result.map_err(Error::from),
            Err(_) => Err(Error::HttpResponseTimeout),
        }
    });
    Ok((head, io))
}

#[derive(Clone, Copy)]
enum Direction {
    Request,
    Response,
}

/// A body held to a size limit and a deadline.
struct Limited<B> {
    inner: B,
    limit: u64,
    left: u64,
    deadline: Pin<Box<Sleep>>,
    direction: Direction,
}

impl<B> Limited<B> {
    fn new(inner: B, limit: u64, deadline: Instant, direction: Direction) -> Self {
        Limited {
            inner,
            limit,
            left: limit,
            deadline: Box::pin(tokio::time::sleep_until(deadline)),
            direction,
        }
    }
}

impl<B> Body for Limited<B>
where
    B: Body<Data = Bytes, Error = Error> + Unpin,
{
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let this = &mut *self;
        if this.deadline.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Some(Err(match this.direction {
                Direction::Request => Error::ConnectionWriteTimeout,
                Direction::Response => Error::HttpResponseTimeout,
            })));
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                let size = frame.data_ref().map_or(0, |d| d.len() as u64);
                if size > this.left {
                    this.left = 0;
                    return Poll::Ready(Some(Err(match this.direction {
                        Direction::Request => Error::HttpRequestBodySize(Some(this.limit)),
                        Direction::Response => Error::HttpResponseBodySize(Some(this.limit)),
                    })));
                }
                this.left -= size;
                Poll::Ready(Some(Ok(frame)))
            }
            other => other,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
