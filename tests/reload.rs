//! Reloading plugins while serving (`serve --watch`, `SIGHUP`): a rebuilt
//! component replaces the old one without a restart, calls already running
//! finish on the old version, clients of both eras hear
//! `notifications/tools/list_changed`, and a broken build keeps the old
//! version serving.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use rmcp::model::{CallToolRequestParams, ServerNotification, SubscriptionFilter};
use serde_json::json;

/// Put `component` at `to` the way a build or a deploy does: write beside
/// it, then rename over it.
fn install(component: &Path, to: &Path) {
    let staging = to.with_extension("partial");
    std::fs::copy(component, &staging).unwrap();
    std::fs::rename(&staging, to).unwrap();
}

async fn tool_names(client: &Client) -> Vec<String> {
    client
        .list_all_tools()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name.to_string())
        .collect()
}

/// Wait until `condition` holds, or fail after `limit` saying `what`.
async fn eventually(what: &str, limit: Duration, mut condition: impl AsyncFnMut() -> bool) {
    let started = Instant::now();
    while !condition().await {
        assert!(started.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn swappable_workspace() -> Workspace {
    let workspace = Workspace::with_config(
        "[[plugin]]\nname = \"swappable\"\ncomponent = \"plugin.wasm\"\nappend = [\"out.txt\"]\n",
    );
    install(&component("probe"), &workspace.path("plugin.wasm"));
    workspace
}

#[tokio::test(flavor = "multi_thread")]
async fn watch_swaps_a_rebuilt_plugin_while_calls_run_and_keeps_the_old_one_when_broken() {
    let workspace = swappable_workspace();
    let server = HttpServer::start_with(
        Some(&workspace.config()),
        workspace.dir.path(),
        &["--watch"],
    );
    let legacy = ScriptedClient::without_sampling();
    let changes = legacy.tool_list_changes.clone();
    let client = server.connect(legacy).await;
    let modern = server
        .connect(ScriptedClient::without_sampling().modern())
        .await;
    let mut subscription = modern
        .peer()
        .listen(SubscriptionFilter::builder().tools_list_changed().build())
        .await
        .expect("subscriptions/listen");
    assert!(
        tool_names(&client)
            .await
            .contains(&"probe_sleep".to_string())
    );

    // A call that will still be running when the new build lands.
    let running = {
        let peer = client.peer().clone();
        tokio::spawn(async move {
            let arguments = json!({ "ms": 2000, "path": "out.txt", "text": "old version" });
            peer.call_tool(
                CallToolRequestParams::new("probe_sleep")
                    .with_arguments(arguments.as_object().unwrap().clone()),
            )
            .await
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    install(&component("fetcher"), &workspace.path("plugin.wasm"));

    eventually(
        "the legacy client's list_changed",
        Duration::from_secs(20),
        async || *changes.lock().unwrap() >= 1,
    )
    .await;
    let heard = tokio::time::timeout(Duration::from_secs(10), subscription.next())
        .await
        .expect("the 2026-07-28 listener heard nothing")
        .unwrap();
    assert!(
        matches!(
            heard,
            Some(ServerNotification::ToolListChangedNotification(_))
        ),
        "{heard:?}"
    );
    let names = tool_names(&client).await;
    assert!(names.contains(&"fetch".to_string()), "{names:?}");
    assert!(!names.contains(&"probe_sleep".to_string()), "{names:?}");

    let finished = running
        .await
        .unwrap()
        .expect("the running call was cut off");
    assert_ne!(finished.is_error, Some(true), "{}", text(&finished));
    assert_eq!(text(&finished), "slept", "it finished on the old version");
    assert_eq!(workspace.read("out.txt").unwrap(), "old version");
    let gone = client
        .call_tool(CallToolRequestParams::new("probe_sleep"))
        .await;
    assert!(gone.is_err(), "new calls use the new version: {gone:?}");

    // A broken build: the old (fetcher) version keeps serving.
    std::fs::write(workspace.path("plugin.wasm"), b"\0asm half-written").unwrap();
    eventually(
        "the failed reload in the log",
        Duration::from_secs(20),
        async || server.log.lock().unwrap().contains("reload failed"),
    )
    .await;
    let log = server.log.lock().unwrap().clone();
    assert!(log.contains("still serving the previous plugins"), "{log}");
    assert!(log.contains("plugin.wasm"), "the log names the file: {log}");
    assert_eq!(
        *changes.lock().unwrap(),
        1,
        "no list_changed for a failed reload"
    );
    let served = call(&client, "config_all", json!({})).await;
    assert_eq!(text(&served), "{}", "the previous build still answers");
}

#[tokio::test(flavor = "multi_thread")]
async fn sighup_reloads_the_config() {
    let workspace = swappable_workspace();
    let server = HttpServer::start(Some(&workspace.config()), workspace.dir.path());
    let client = server.connect(ScriptedClient::without_sampling()).await;
    assert!(
        tool_names(&client)
            .await
            .contains(&"probe_sleep".to_string())
    );
    std::fs::write(
        workspace.config(),
        "[[plugin]]\nname = \"swappable\"\ncomponent = \"plugin.wasm\"\ntool_prefix = \"v2_\"\n",
    )
    .unwrap();
    // Without --watch, nothing changes until the signal.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(
        tool_names(&client)
            .await
            .contains(&"probe_sleep".to_string())
    );
    let status = std::process::Command::new("kill")
        .args(["-HUP", &server.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    eventually(
        "the reload after SIGHUP",
        Duration::from_secs(20),
        async || {
            tool_names(&client)
                .await
                .contains(&"v2_probe_sleep".to_string())
        },
    )
    .await;
    let result = call(&client, "v2_probe_result", json!({ "bytes": 3 })).await;
    assert_eq!(text(&result), "rrr");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reloaded_plugin_keeps_spending_from_the_same_budget() {
    let workspace = Workspace::with_config(
        "[[plugin]]\nname = \"swappable\"\ncomponent = \"plugin.wasm\"\n\
         [plugin.sampling]\nrequests_per_minute = 1\n",
    );
    install(&component("probe"), &workspace.path("plugin.wasm"));
    let server = HttpServer::start(Some(&workspace.config()), workspace.dir.path());
    let client = server.connect(ScriptedClient::replying("fine")).await;
    let first = call(&client, "probe_sample", json!({ "prompt": "one" })).await;
    assert_ne!(first.is_error, Some(true), "{}", text(&first));
    // A rebuild (here: the same component written again) and a reload.
    install(&component("probe"), &workspace.path("plugin.wasm"));
    std::process::Command::new("kill")
        .args(["-HUP", &server.pid().to_string()])
        .status()
        .unwrap();
    eventually("the reload", Duration::from_secs(20), async || {
        server.log.lock().unwrap().contains("reloaded")
    })
    .await;
    let second = call(&client, "probe_sample", json!({ "prompt": "two" })).await;
    assert!(
        text(&second).contains("requests_per_minute` = 1 is spent"),
        "the reload gave the plugin a fresh budget: {}",
        text(&second)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn listen_streams_count_against_their_clients_share() {
    let workspace = swappable_workspace();
    let server = HttpServer::start_with(
        Some(&workspace.config()),
        workspace.dir.path(),
        &["--max-client-calls", "2"],
    );
    let client = server
        .connect(ScriptedClient::without_sampling().modern())
        .await;
    let filter = || SubscriptionFilter::builder().tools_list_changed().build();
    let mut held = Vec::new();
    for _ in 0..2 {
        held.push(client.peer().listen(filter()).await.expect("listen"));
    }
    let over = client.peer().listen(filter()).await;
    let ended = match over {
        Err(_) => true,
        Ok(mut third) => tokio::time::timeout(Duration::from_secs(5), third.next())
            .await
            .is_ok_and(|next| !matches!(next, Ok(Some(_)))),
    };
    assert!(
        ended,
        "a third stream was kept open past --max-client-calls 2"
    );
    for stream in &mut held {
        assert!(
            tokio::time::timeout(Duration::from_millis(300), stream.next())
                .await
                .is_err(),
            "the streams within the share stay open"
        );
    }
}

/// `component` grown to exactly `size` bytes by a custom section at its end,
/// which changes nothing the host loads; `None` when the gap cannot be
/// filled exactly (a section's length field grows in steps).
fn padded(component: &[u8], size: usize) -> Option<Vec<u8>> {
    fn leb128(mut n: usize) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(byte);
                return out;
            }
            out.push(byte | 0x80);
        }
    }
    let gap = size.checked_sub(component.len())?;
    let name = b"pad";
    (0..gap).find_map(|payload| {
        let body = 1 + name.len() + payload;
        let length = leb128(body);
        (1 + length.len() + body == gap).then(|| {
            let mut out = component.to_vec();
            out.push(0);
            out.extend(length);
            out.push(name.len() as u8);
            out.extend(name);
            out.extend(std::iter::repeat_n(0u8, payload));
            out
        })
    })
}

/// Two components padded to the same size.
fn same_size(a: &[u8], b: &[u8]) -> (Vec<u8>, Vec<u8>) {
    (a.len().max(b.len()) + 16..)
        .take(1000)
        .find_map(|size| Some((padded(a, size)?, padded(b, size)?)))
        .expect("the components could not be padded to one size")
}

/// A component rewritten in place with the same size and its modification
/// time put back (as a rewrite within a file system's timestamp granularity
/// looks) is still seen by `--watch`, and served.
#[tokio::test(flavor = "multi_thread")]
async fn watch_sees_a_same_size_rewrite_that_keeps_the_modification_time() {
    use std::io::Write as _;
    let (probe, fetcher) = same_size(
        &std::fs::read(component("probe")).unwrap(),
        &std::fs::read(component("fetcher")).unwrap(),
    );
    let workspace =
        Workspace::with_config("[[plugin]]\nname = \"swappable\"\ncomponent = \"plugin.wasm\"\n");
    let path = workspace.path("plugin.wasm");
    std::fs::write(&path, &probe).unwrap();
    let modified = std::fs::metadata(&path).unwrap().modified().unwrap();
    let server = HttpServer::start_with(
        Some(&workspace.config()),
        workspace.dir.path(),
        &["--watch"],
    );
    let client = server.connect(ScriptedClient::without_sampling()).await;
    assert!(
        tool_names(&client)
            .await
            .contains(&"probe_sleep".to_string())
    );

    let mut file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    file.write_all(&fetcher).unwrap();
    file.set_modified(modified).unwrap();
    drop(file);
    let after = std::fs::metadata(&path).unwrap();
    assert_eq!(
        (after.len(), after.modified().unwrap()),
        (probe.len() as u64, modified)
    );

    eventually(
        "the rewritten component to be served",
        Duration::from_secs(30),
        async || tool_names(&client).await.contains(&"fetch".to_string()),
    )
    .await;
}

/// A component rewritten while a reload compiles the previous rewrite is
/// loaded by another reload: the reload's baseline is what it read, not
/// what the file holds when it finishes.
#[tokio::test(flavor = "multi_thread")]
async fn watch_loads_a_rewrite_that_lands_during_a_reload() {
    let workspace = swappable_workspace();
    // No compile cache: each reload compiles, which takes a while.
    let server = HttpServer::start_with(
        Some(&workspace.config()),
        workspace.dir.path(),
        &["--watch", "--no-cache"],
    );
    let client = server.connect(ScriptedClient::without_sampling()).await;
    let count = |what: &str| server.log.lock().unwrap().matches(what).count();
    install(&component("fetcher"), &workspace.path("plugin.wasm"));
    eventually("the reload to start", Duration::from_secs(20), async || {
        count("reloading the plugins") >= 1
    })
    .await;
    // It has read the fetcher by now and is compiling it.
    tokio::time::sleep(Duration::from_millis(100)).await;
    install(&component("probe"), &workspace.path("plugin.wasm"));
    eventually(
        "the first reload to finish",
        Duration::from_secs(60),
        async || count("reloaded:") >= 1,
    )
    .await;
    eventually(
        "the component written during the reload to be served",
        Duration::from_secs(60),
        async || {
            let names = tool_names(&client).await;
            names.contains(&"probe_sleep".to_string()) && !names.contains(&"fetch".to_string())
        },
    )
    .await;
}

/// A reload that takes a list away changes it too: a 2026-07-28 listener
/// that asked for prompts hears `prompts/list_changed` when the new plugins
/// offer none, as well as `tools/list_changed`.
#[tokio::test(flavor = "multi_thread")]
async fn a_listener_hears_that_the_prompts_went_away() {
    let workspace = Workspace::with_config(&format!(
        "[[plugin]]\nname = \"swappable\"\ncomponent = {:?}\n",
        component("shapes")
    ));
    let server = HttpServer::start(Some(&workspace.config()), workspace.dir.path());
    let modern = server
        .connect(ScriptedClient::without_sampling().modern())
        .await;
    let mut subscription = modern
        .peer()
        .listen(
            SubscriptionFilter::builder()
                .tools_list_changed()
                .prompts_list_changed()
                .build(),
        )
        .await
        .expect("subscriptions/listen");
    std::fs::write(
        workspace.config(),
        format!(
            "[[plugin]]\nname = \"swappable\"\ncomponent = {:?}\n",
            component("probe")
        ),
    )
    .unwrap();
    let status = std::process::Command::new("kill")
        .args(["-HUP", &server.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut heard = Vec::new();
    while heard.len() < 2 {
        let next = tokio::time::timeout(Duration::from_secs(20), subscription.next())
            .await
            .unwrap_or_else(|_| panic!("the listener heard only {heard:?}"))
            .unwrap();
        heard.push(next.expect("the stream ended"));
    }
    assert!(
        matches!(heard[0], ServerNotification::ToolListChangedNotification(_)),
        "{heard:?}"
    );
    assert!(
        matches!(
            heard[1],
            ServerNotification::PromptListChangedNotification(_)
        ),
        "{heard:?}"
    );
}
