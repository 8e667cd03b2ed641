//! `wasi:http/outgoing-handler` by grant (`[plugin.http]`): real components
//! (the `fetcher` test plugin, the `summarize-url` example) served by the
//! real host fetch from loopback web servers started here. Each test tries
//! to get past a grant: another host, port, path, method or scheme, a
//! redirect, a granted name that resolves to an internal address, sizes,
//! counts and time; and each secret header must reach its server and
//! nothing else.

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use common::*;
use serde_json::json;

/// What an upstream server saw: method, path and headers of each request.
#[derive(Clone, Debug)]
struct Seen {
    method: String,
    path: String,
    headers: BTreeMap<String, String>,
}

/// A loopback web server with a few routes that misbehave on purpose.
struct Upstream {
    address: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Upstream {
    async fn start() -> Upstream {
        Self::start_redirecting_to(None).await
    }

    /// `redirect_to`: where `/api/redirect-out` sends the client.
    async fn start_redirecting_to(redirect_to: Option<String>) -> Upstream {
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let state = (seen.clone(), redirect_to);
        let app = Router::new().fallback(respond).with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Upstream { address, seen }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    fn port(&self) -> u16 {
        self.address.port()
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn paths(&self) -> Vec<String> {
        self.seen().into_iter().map(|s| s.path).collect()
    }
}

type UpstreamState = (Arc<Mutex<Vec<Seen>>>, Option<String>);

async fn respond(
    State((seen, redirect_to)): State<UpstreamState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri
        .path_and_query()
        .map(|p| p.to_string())
        .unwrap_or_default();
    seen.lock().unwrap().push(Seen {
        method: method.to_string(),
        path: path.clone(),
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
            .collect(),
    });
    match uri.path() {
        "/api/hello" | "/hello" => "hello from upstream".into_response(),
        // What a `..;` path would reach on Tomcat, Jetty or Spring.
        "/v1/echo" | "/admin/echo" => format!("echo {}", uri.path()).into_response(),
        "/api/upload" => format!("received {} bytes", body.len()).into_response(),
        "/api/big" => "x".repeat(200_000).into_response(),
        // No Content-Length: the limit must hold while the body streams.
        "/api/big-stream" => {
            let chunks = (0..50).map(|_| Ok::<_, std::io::Error>(Bytes::from(vec![b'y'; 4096])));
            axum::body::Body::from_stream(futures::stream::iter(chunks)).into_response()
        }
        // The head at once, then a body that never ends.
        "/api/trickle" => {
            let chunks = futures::stream::unfold((), |()| async {
                tokio::time::sleep(Duration::from_millis(200)).await;
                Some((Ok::<_, std::io::Error>(Bytes::from_static(b"z")), ()))
            });
            axum::body::Body::from_stream(chunks).into_response()
        }
        "/api/slow" => {
            tokio::time::sleep(Duration::from_secs(5)).await;
            "late".into_response()
        }
        "/api/redirect-in" => redirect("/api/hello"),
        "/api/redirect-out" => redirect(redirect_to.as_deref().unwrap_or("/")),
        _ => (StatusCode::NOT_FOUND, "no such page").into_response(),
    }
}

fn redirect(to: &str) -> Response {
    (
        StatusCode::FOUND,
        [(axum::http::header::LOCATION, to.to_string())],
    )
        .into_response()
}

/// A workspace serving the fetcher plugin with `http` as its `[plugin.http]`
/// body (TOML lines) and `extra` after it.
fn fetcher_workspace(http: &str) -> Workspace {
    let config = format!(
        "[[plugin]]\ncomponent = {:?}\n\n[plugin.http]\n{http}\n",
        component("fetcher")
    );
    Workspace::with_config(&config)
}

/// Call the fetcher's `fetch`; the result's text and whether it is an error.
async fn fetch(client: &Client, arguments: serde_json::Value) -> (String, bool) {
    let result = call(client, "fetch", arguments).await;
    (text(&result), result.is_error == Some(true))
}

fn status_of(text: &str) -> u64 {
    let value: serde_json::Value =
        serde_json::from_str(text).unwrap_or_else(|_| panic!("not a fetch result: {text}"));
    value["status"].as_u64().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn granted_requests_pass_and_every_other_host_port_path_method_and_scheme_is_denied() {
    let upstream = Upstream::start().await;
    let other = Upstream::start().await;
    let workspace = fetcher_workspace(&format!(
        "allow = [{{ url = \"http://127.0.0.1:{}/api/\", methods = [\"GET\", \"POST\"] }}]",
        upstream.port()
    ));
    let session = open_env(
        Transport::Stdio,
        &workspace,
        ScriptedClient::without_sampling(),
        &[],
        &[],
    )
    .await;
    let client = &session.client;

    let (ok, failed) = fetch(client, json!({ "url": upstream.url("/api/hello") })).await;
    assert!(!failed, "{ok}");
    assert_eq!(status_of(&ok), 200);
    assert!(ok.contains("hello from upstream"), "{ok}");

    let port = upstream.port();
    for (arguments, why) in [
        (json!({ "url": upstream.url("/admin") }), "another path"),
        (
            json!({ "url": upstream.url("/apix") }),
            "a path that only starts alike",
        ),
        (
            json!({ "url": upstream.url("/api/%2e%2e/admin") }),
            "an encoded `..`",
        ),
        (json!({ "url": other.url("/api/hello") }), "another port"),
        (
            json!({ "url": format!("https://127.0.0.1:{port}/api/hello") }),
            "another scheme",
        ),
        (
            json!({ "url": format!("http://localhost:{port}/api/hello") }),
            "another host name",
        ),
        (
            json!({ "url": upstream.url("/api/hello"), "method": "DELETE" }),
            "another method",
        ),
    ] {
        let (error, failed) = fetch(client, arguments).await;
        assert!(failed, "{why} was allowed: {error}");
        assert!(error.contains("denied"), "{why}: {error}");
        assert!(
            error.contains("[[plugin.http.allow]]"),
            "{why}: the grant to add: {error}"
        );
    }
    let (error, _) = fetch(client, json!({ "url": other.url("/x") })).await;
    assert!(
        error.contains(&format!("url = \"http://127.0.0.1:{}/\"", other.port())),
        "the denial says which grant to add: {error}"
    );

    assert_eq!(
        upstream.paths(),
        vec!["/api/hello"],
        "only the granted request arrived"
    );
    assert!(
        other.paths().is_empty(),
        "nothing reached the ungranted port"
    );
    session.client.cancel().await.unwrap();
    let log = std::fs::read_to_string(workspace.path("server.log")).unwrap();
    assert!(
        log.contains("add \"DELETE\" to its `methods`"),
        "the host's log says why: {log}"
    );
}

/// `/v1/..;/admin/echo` is `/admin/echo` to servers that drop `;parameters`
/// before resolving `..`: under a `/v1/` grant with a secret header it must
/// be refused before it leaves, and so must its encoded spellings.
#[tokio::test(flavor = "multi_thread")]
async fn a_dot_segment_hidden_by_parameters_never_leaves_its_grant() {
    let upstream = Upstream::start().await;
    let workspace = fetcher_workspace(&format!(
        "allow = [{{ url = \"http://127.0.0.1:{}/v1/\", methods = [\"GET\"], headers = {{ Authorization = \"Bearer v1-only\" }} }}]",
        upstream.port()
    ));
    let session = open_env(
        Transport::Stdio,
        &workspace,
        ScriptedClient::without_sampling(),
        &[],
        &[],
    )
    .await;
    let client = &session.client;

    let (granted, failed) = fetch(client, json!({ "url": upstream.url("/v1/echo") })).await;
    assert!(!failed, "{granted}");
    assert!(granted.contains("echo /v1/echo"), "{granted}");
    // Parameters on an ordinary segment are allowed.
    let (parameters, failed) = fetch(client, json!({ "url": upstream.url("/v1/echo;v=2") })).await;
    assert!(!failed, "{parameters}");
    assert_eq!(status_of(&parameters), 404);

    for path in [
        "/v1/..;/admin/echo",
        "/v1/..;x=1/admin/echo",
        "/v1/%2e%2e;/admin/echo",
        "/v1/.%2E;jsessionid=1/admin/echo",
    ] {
        let (error, failed) = fetch(client, json!({ "url": upstream.url(path) })).await;
        assert!(failed, "{path} was sent: {error}");
        assert!(error.contains("denied"), "{path}: {error}");
    }

    assert_eq!(
        upstream.paths(),
        vec!["/v1/echo", "/v1/echo;v=2"],
        "only the plain requests arrived: nothing reached /admin"
    );
    for request in upstream.seen() {
        assert_eq!(request.headers["authorization"], "Bearer v1-only");
    }
    session.client.cancel().await.unwrap();
    let log = std::fs::read_to_string(workspace.path("server.log")).unwrap();
    assert!(
        log.contains("\"..;\" reads as `.` or `..`"),
        "the host's log says why: {log}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn each_redirect_is_checked_like_a_new_request() {
    let outside = Upstream::start().await;
    let upstream = Upstream::start_redirecting_to(Some(outside.url("/hello"))).await;
    let workspace = fetcher_workspace(&format!(
        "allow = [\"http://127.0.0.1:{}/api/\"]",
        upstream.port()
    ));
    let session = open(
        Transport::Http,
        &workspace,
        ScriptedClient::without_sampling(),
    )
    .await;
    let client = &session.client;

    let (inside, failed) = fetch(client, json!({ "url": upstream.url("/api/redirect-in") })).await;
    assert!(!failed, "{inside}");
    assert!(inside.contains("hello from upstream"), "{inside}");

    let (error, failed) = fetch(client, json!({ "url": upstream.url("/api/redirect-out") })).await;
    assert!(failed, "a redirect out of the grant was followed: {error}");
    assert!(error.contains("denied"), "{error}");
    assert!(
        error.contains(&outside.port().to_string()),
        "names the redirect's target: {error}"
    );
    assert!(
        outside.paths().is_empty(),
        "the ungranted server was never reached"
    );

    let (unfollowed, failed) = fetch(
        client,
        json!({ "url": upstream.url("/api/redirect-out"), "follow": false }),
    )
    .await;
    assert!(!failed, "{unfollowed}");
    assert_eq!(status_of(&unfollowed), 302);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_granted_name_that_resolves_to_an_internal_address_is_refused_unless_allowed() {
    let upstream = Upstream::start().await;
    let port = upstream.port();
    // `localhost` is a name, granted, that resolves to loopback: the case
    // of a public name rebound to an internal address.
    let config = format!(
        "[[plugin]]\ncomponent = {fetcher:?}\n[plugin.http]\nallow = [\"http://localhost:{port}/\"]\n\n\
         [[plugin]]\nname = \"trusting\"\ncomponent = {fetcher:?}\ntool_prefix = \"trusting_\"\n\
         [plugin.http]\nallow = [{{ url = \"http://localhost:{port}/\", private = true }}]\n",
        fetcher = component("fetcher")
    );
    let workspace = Workspace::with_config(&config);
    let session = open(
        Transport::Stdio,
        &workspace,
        ScriptedClient::without_sampling(),
    )
    .await;
    let client = &session.client;

    let raw = call(
        client,
        "raw_fetch",
        json!({ "url": format!("http://localhost:{port}/hello") }),
    )
    .await;
    assert_eq!(raw.is_error, Some(true), "{}", text(&raw));
    assert!(
        text(&raw).contains("DestinationIpProhibited"),
        "the wasi:http error code says why: {}",
        text(&raw)
    );
    let (error, failed) = fetch(
        client,
        json!({ "url": format!("http://localhost:{port}/hello") }),
    )
    .await;
    assert!(failed);
    assert!(
        error.contains("private = true"),
        "the message says how to allow it: {error}"
    );
    assert!(
        upstream.paths().is_empty(),
        "nothing reached the internal address"
    );

    let trusted = call(
        client,
        "trusting_fetch",
        json!({ "url": format!("http://localhost:{port}/hello") }),
    )
    .await;
    assert_ne!(trusted.is_error, Some(true), "{}", text(&trusted));
    assert_eq!(status_of(&text(&trusted)), 200);
    assert_eq!(upstream.paths(), vec!["/hello"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn requests_are_held_to_their_count_sizes_and_time() {
    let upstream = Upstream::start().await;
    let workspace = fetcher_workspace(&format!(
        "allow = [{{ url = \"http://127.0.0.1:{}/api/\", methods = [\"GET\", \"POST\"] }}]\n\
         max_requests = 3\nrequest_bytes = 1000\nresponse_bytes = 100000\ntimeout_s = 1",
        upstream.port()
    ));
    let session = open(
        Transport::Stdio,
        &workspace,
        ScriptedClient::without_sampling(),
    )
    .await;
    let client = &session.client;

    let many = call(
        client,
        "fetch_many",
        json!({ "url": upstream.url("/api/hello"), "count": 5 }),
    )
    .await;
    assert_eq!(many.is_error, Some(true), "{}", text(&many));
    assert!(text(&many).contains("request 4"), "{}", text(&many));
    assert!(text(&many).contains("max_requests"), "{}", text(&many));
    assert_eq!(upstream.paths().len(), 3, "the fourth request never left");

    // The count is per call: the next call may send again.
    let again = call(
        client,
        "fetch_many",
        json!({ "url": upstream.url("/api/hello"), "count": 3 }),
    )
    .await;
    assert_ne!(again.is_error, Some(true), "{}", text(&again));

    let small = call(
        client,
        "upload",
        json!({ "url": upstream.url("/api/upload"), "bytes": 1000 }),
    )
    .await;
    assert_eq!(text(&small), "200", "a body at the limit passes");
    let large = call(
        client,
        "upload",
        json!({ "url": upstream.url("/api/upload"), "bytes": 5000 }),
    )
    .await;
    assert_eq!(large.is_error, Some(true), "{}", text(&large));
    assert!(text(&large).contains("request_bytes"), "{}", text(&large));

    let (big, failed) = fetch(client, json!({ "url": upstream.url("/api/big") })).await;
    assert!(failed, "a 200 KB response passed a 100 KB limit");
    assert!(big.contains("response_bytes"), "{big}");

    let (streamed, failed) = fetch(client, json!({ "url": upstream.url("/api/big-stream") })).await;
    assert!(failed, "a 200 KB streamed response passed a 100 KB limit");
    assert!(streamed.contains("response_bytes"), "{streamed}");

    let started = Instant::now();
    let (trickle, failed) = fetch(client, json!({ "url": upstream.url("/api/trickle") })).await;
    assert!(failed, "{trickle}");
    assert!(trickle.contains("timeout_s"), "{trickle}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "a body that never ends was cut at the deadline"
    );

    let started = Instant::now();
    let (slow, failed) = fetch(client, json!({ "url": upstream.url("/api/slow") })).await;
    assert!(failed, "{slow}");
    assert!(slow.contains("timeout_s"), "{slow}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "the 1 s timeout ended a 5 s wait; took {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn secret_headers_reach_their_server_and_nothing_else() {
    let secret = format!("tok-{}", std::process::id() as u64 * 7919 + 1234567);
    let file_secret = format!("key-{}", std::process::id() as u64 * 104729 + 42);
    let upstream = Upstream::start().await;
    let port = upstream.port();
    let workspace = Workspace::new();
    std::fs::write(workspace.path("api.key"), format!("{file_secret}\n")).unwrap();
    std::fs::write(
        workspace.config(),
        format!(
            "[audit]\nfile = \"audit.jsonl\"\nprompts = true\n\n\
             [[plugin]]\ncomponent = {:?}\n[plugin.http]\nallow = [\n\
             {{ url = \"http://127.0.0.1:{port}/api/\", headers = {{ Authorization = \"Bearer ${{env:WASM_MCP_TEST_SECRET}}\", X-Api-Key = \"${{file:api.key}}\" }} }},\n\
             \"http://127.0.0.1:{port}/hello\",\n]\n",
            component("fetcher")
        ),
    )
    .unwrap();
    let env = [
        ("WASM_MCP_TEST_SECRET", secret.as_str()),
        ("WASM_MCP_LOG", "debug"),
    ];
    for transport in TRANSPORTS {
        let mut session = open_env(
            transport,
            &workspace,
            ScriptedClient::without_sampling(),
            &[],
            &env,
        )
        .await;
        let client = &session.client;
        // The plugin tries to choose the credentials itself, and to read
        // back what was sent.
        let (answer, failed) = fetch(
            client,
            json!({
                "url": upstream.url("/api/hello"),
                "headers": { "Authorization": "Bearer chosen-by-plugin" }
            }),
        )
        .await;
        assert!(!failed, "{answer}");
        let (plain, failed) = fetch(client, json!({ "url": upstream.url("/hello") })).await;
        assert!(!failed, "{plain}");
        let settings = call(client, "config_all", json!({})).await;
        for seen_by_plugin in [&answer, &plain, &text(&settings)] {
            assert!(!seen_by_plugin.contains(&secret) && !seen_by_plugin.contains(&file_secret));
        }
        let log = match session.server.take() {
            Some(server) => {
                let log = server.log.lock().unwrap().clone();
                drop(server);
                log
            }
            None => {
                session.client.cancel().await.unwrap();
                std::fs::read_to_string(workspace.path("server.log")).unwrap()
            }
        };
        assert!(log.contains("http request"), "debug logging was on: {log}");
        assert!(
            !log.contains(&secret) && !log.contains(&file_secret),
            "a secret is in the host's log:\n{log}"
        );
    }

    let seen = upstream.seen();
    let granted: Vec<&Seen> = seen.iter().filter(|s| s.path == "/api/hello").collect();
    assert_eq!(granted.len(), 2);
    for request in granted {
        assert_eq!(
            request.headers["authorization"],
            format!("Bearer {secret}"),
            "the grant's header replaced the plugin's"
        );
        assert_eq!(request.headers["x-api-key"], file_secret);
        assert_eq!(request.method, "GET");
    }
    for request in seen.iter().filter(|s| s.path == "/hello") {
        assert!(
            !request.headers.contains_key("authorization")
                && !request.headers.contains_key("x-api-key"),
            "a secret went to a URL of another grant: {request:?}"
        );
    }
    // `check` names the headers, never their values.
    let output = std::process::Command::new(binary())
        .env("WASM_MCP_CACHE_DIR", test_cache_dir())
        .env("WASM_MCP_TEST_SECRET", &secret)
        .args(["check", "--config"])
        .arg(workspace.config())
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{shown}");
    assert!(
        shown.contains("adding secret headers authorization, x-api-key"),
        "{shown}"
    );
    // Nothing the host wrote holds a secret.
    for (path, _) in workspace.snapshot() {
        if path.ends_with("api.key") {
            continue;
        }
        let written = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
        assert!(
            !written.contains(&secret) && !written.contains(&file_secret),
            "{} holds a secret",
            path.display()
        );
    }
    assert!(!shown.contains(&secret) && !shown.contains(&file_secret));
}

#[tokio::test(flavor = "multi_thread")]
async fn summarize_url_fetches_a_granted_page_samples_appends_and_returns() {
    let upstream = Upstream::start().await;
    let config = format!(
        "[[plugin]]\ncomponent = {:?}\nappend = [\"summaries.txt\"]\n\
         [plugin.http]\nallow = [\"http://127.0.0.1:{}/\"]\n",
        component("summarize-url"),
        upstream.port()
    );
    let workspace = Workspace::with_config(&config);
    let url = upstream.url("/hello");
    let mut expected = String::new();
    for (transport, client) in [
        (
            Transport::Stdio,
            ScriptedClient::replying("A greeting from upstream."),
        ),
        (
            Transport::Http,
            ScriptedClient::replying("A greeting from upstream.").modern(),
        ),
    ] {
        let session = open(transport, &workspace, client.clone()).await;
        let result = call(&session.client, "summarize_url", json!({ "url": url })).await;
        assert_ne!(
            result.is_error,
            Some(true),
            "{transport:?}: {}",
            text(&result)
        );
        assert!(
            text(&result).contains("A greeting from upstream."),
            "{}",
            text(&result)
        );
        let prompt = client.prompts().join("\n");
        assert!(
            prompt.contains("hello from upstream"),
            "the page reached the LLM: {prompt}"
        );
        assert!(prompt.contains(&url), "{prompt}");
        expected.push_str(&format!(
            "--- SUMMARY ---\nURL: {url}\nSUMMARY: A greeting from upstream.\n{}\n",
            "-".repeat(30)
        ));
        assert_eq!(
            workspace.read("summaries.txt").unwrap(),
            expected,
            "{transport:?}"
        );
    }
    // A page the plugin is not granted leaves no record.
    let session = open(Transport::Stdio, &workspace, ScriptedClient::replying("x")).await;
    let refused = call(
        &session.client,
        "summarize_url",
        json!({ "url": "http://127.0.0.1:9/" }),
    )
    .await;
    assert_eq!(refused.is_error, Some(true));
    assert!(text(&refused).contains("denied"), "{}", text(&refused));
    assert_eq!(workspace.read("summaries.txt").unwrap(), expected);
}
