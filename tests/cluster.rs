//! Past one process: three `wasm-mcp serve` replicas behind stock nginx
//! (the shipped `deploy/nginx.conf`), sharing a state key file and a real
//! `redis-server`. Everything is started and stopped here, on loopback;
//! `.ci/run` installs nginx and redis-server.
//!
//! Through nginx, real clients (the Python SDK 2.x default client, the
//! seed's Python 1.x client) use the cluster as one server; beside it,
//! rmcp clients aimed at single replicas check that a round is answered
//! once, that budgets and client caps count across replicas.
#![allow(deprecated)]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use rmcp::model::{CallToolRequestParams, CallToolResponse};
use serde_json::{Value, json};

const KEYS: &str = "k1 0202020202020202020202020202020202020202020202020202020202020202\n";
/// The Python SDK whose default client speaks 2026-07-28.
const MODERN_SDK: &str = "2.3.0";
/// The Python SDK the seed's client was written for.
const SEED_SDK: &str = "1.30.0";

/// A port free now on loopback.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child process killed (and reaped) on drop.
struct Daemon {
    child: Child,
    name: &'static str,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(name: &'static str, command: &mut Command) -> Daemon {
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot start {name} ({e}): .ci/run installs it with apt-get (nginx-light, redis-server)")
        });
    Daemon { child, name }
}

/// Wait until `check` holds, or fail naming `what`.
fn wait_for(what: &str, daemon: &mut Daemon, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check() {
        if let Ok(Some(status)) = daemon.child.try_wait() {
            panic!("{} exited ({status}) before {what}", daemon.name);
        }
        assert!(
            Instant::now() < deadline,
            "{} did not get {what} in 20 s",
            daemon.name
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A real `redis-server` on a free loopback port, keeping nothing on disk.
struct Redis {
    _daemon: Daemon,
    url: String,
}

impl Redis {
    fn start(dir: &std::path::Path) -> Self {
        let port = free_port();
        let mut daemon = spawn(
            "redis-server",
            Command::new("redis-server")
                .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
                .args(["--save", "", "--appendonly", "no"])
                .arg("--dir")
                .arg(dir),
        );
        wait_for("to answer PING", &mut daemon, || {
            let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
                return false;
            };
            let mut answer = [0u8; 7];
            stream.write_all(b"PING\r\n").is_ok()
                && stream.read_exact(&mut answer).is_ok()
                && &answer == b"+PONG\r\n"
        });
        Redis {
            _daemon: daemon,
            url: format!("redis://127.0.0.1:{port}/0"),
        }
    }
}

/// nginx running the shipped `deploy/nginx.conf`, its replica addresses
/// and listening port replaced by this test's.
struct Nginx {
    _daemon: Daemon,
    url: String,
}

impl Nginx {
    fn start(dir: &std::path::Path, replicas: &[&HttpServer]) -> Self {
        let shipped = std::fs::read_to_string(repo_root().join("deploy/nginx.conf")).unwrap();
        let port = free_port();
        let mut config = shipped.clone();
        let mut replace = |from: &str, to: &str| {
            assert!(
                config.contains(from),
                "deploy/nginx.conf no longer has `{from}`, which this test replaces"
            );
            config = config.replace(from, to);
        };
        replace(
            "listen 127.0.0.1:8080;",
            &format!("listen 127.0.0.1:{port};"),
        );
        replace(
            "pid /run/wasm-mcp/nginx.pid;",
            &format!("pid {};", dir.join("nginx.pid").display()),
        );
        for (n, replica) in replicas.iter().enumerate() {
            let address = replica
                .url
                .trim_start_matches("http://")
                .trim_end_matches("/mcp");
            replace(
                &format!("server 127.0.0.1:880{};", n + 1),
                &format!("server {address};"),
            );
            replace(
                &format!("server 127.0.0.1:880{} ", n + 1),
                &format!("server {address} "),
            );
        }
        let file = dir.join("nginx.conf");
        std::fs::write(&file, config).unwrap();
        let mut daemon = spawn(
            "nginx",
            Command::new("nginx")
                .arg("-p")
                .arg(dir)
                .arg("-c")
                .arg(&file)
                .arg("-g")
                .arg("daemon off;"),
        );
        wait_for("to answer /healthz", &mut daemon, || {
            let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
                return false;
            };
            let mut answer = String::new();
            stream
                .write_all(b"GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
                .is_ok()
                && stream.read_to_string(&mut answer).is_ok()
                && answer.starts_with("HTTP/1.1 200")
        });
        Nginx {
            _daemon: daemon,
            url: format!("http://127.0.0.1:{port}/mcp"),
        }
    }
}

/// Three replicas sharing a key file and Redis, serving the log archiver
/// and the replayable test plugin, each granted its report.
struct Cluster {
    workspace: Workspace,
    replicas: Vec<HttpServer>,
    redis: Redis,
}

impl Cluster {
    fn start(sampling: &str, extra_args: &[&str]) -> Self {
        let workspace = Workspace::with_config(&format!(
            "[[plugin]]\ncomponent = {:?}\nappend = [\"incident_report.txt\"]\n\n\
             [[plugin]]\ncomponent = {:?}\nappend = [\"report.txt\", \"replay.txt\"]\n\
             [plugin.sampling]\n{sampling}\n",
            component("log-archiver"),
            component("replayable"),
        ));
        std::fs::write(workspace.path("state.keys"), KEYS).unwrap();
        let redis_dir = workspace.path("redis");
        std::fs::create_dir(&redis_dir).unwrap();
        let redis = Redis::start(&redis_dir);
        let keys = workspace.path("state.keys");
        let replicas = (1..=3)
            .map(|n| {
                let name = format!("r{n}");
                let mut args = vec![
                    "--state-key-file",
                    keys.to_str().unwrap(),
                    "--redis",
                    &redis.url,
                    "--replica-id",
                    &name,
                    "--trusted-proxy",
                    "127.0.0.1",
                ];
                args.extend_from_slice(extra_args);
                HttpServer::start_with(Some(&workspace.config()), workspace.dir.path(), &args)
            })
            .collect();
        Cluster {
            workspace,
            replicas,
            redis,
        }
    }

    fn nginx(&self) -> Nginx {
        let dir = self.workspace.path("nginx");
        std::fs::create_dir_all(&dir).unwrap();
        Nginx::start(&dir, &self.replicas.iter().collect::<Vec<_>>())
    }

    fn logs(&self) -> String {
        self.replicas
            .iter()
            .map(|replica| replica.log.lock().unwrap().clone())
            .collect()
    }
}

fn report_request(line: &str) -> CallToolRequestParams {
    let Value::Object(arguments) = json!({ "line": line }) else {
        unreachable!()
    };
    CallToolRequestParams::new("report").with_arguments(arguments)
}

/// The record `report` appends for `line` with the scripted answers.
fn record(line: &str) -> String {
    format!("<<< {line}\nexplained: explained-{line}\nrated: rated\n>>> {line}\n")
}

/// The lines of the records in `report`, failing on anything that is not
/// a whole record.
fn records(report: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut rest = report;
    while !rest.is_empty() {
        let line = rest
            .strip_prefix("<<< ")
            .and_then(|r| r.split_once('\n'))
            .map(|(line, _)| line.to_string())
            .unwrap_or_else(|| panic!("not a record at: {:?}", &rest[..rest.len().min(80)]));
        let whole = record(&line);
        assert!(
            rest.starts_with(&whole),
            "a torn record for {line}: {rest:.200}"
        );
        rest = &rest[whole.len()..];
        lines.push(line);
    }
    lines
}

#[test]
fn three_replicas_behind_nginx_complete_300_calls_while_one_is_killed() {
    const CALLS: usize = 300;
    let python = python_with_mcp(MODERN_SDK);
    let cluster = Cluster::start("", &[]);
    let nginx = cluster.nginx();
    let victim = cluster.replicas[1].pid();

    let mut client = Command::new(&python)
        .arg(repo_root().join("tests/python/cluster_client.py"))
        .args([&nginx.url, &CALLS.to_string(), "8"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut finished = Vec::new();
    let mut killed = false;
    let mut protocol = Value::Null;
    for line in BufReader::new(client.stdout.take().unwrap()).lines() {
        let line: Value = serde_json::from_str(&line.unwrap()).unwrap();
        if line.get("protocol_version").is_some() {
            protocol = line["protocol_version"].clone();
            continue;
        }
        finished.push(line);
        if finished.len() == CALLS / 3 && !killed {
            // Mid-run, with calls parked on it and rounds in flight.
            let status = Command::new("kill")
                .args(["-KILL", &victim.to_string()])
                .status()
                .unwrap();
            assert!(status.success());
            killed = true;
        }
    }
    let mut stderr = String::new();
    client
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(
        client.wait().unwrap().success(),
        "the client failed:\n{stderr}"
    );
    assert!(killed);
    assert_eq!(
        protocol, "2026-07-28",
        "the default client spoke 2026-07-28"
    );

    let failed: Vec<&Value> = finished.iter().filter(|call| call["ok"] != true).collect();
    assert!(
        failed.is_empty(),
        "{} calls failed: {failed:#?}",
        failed.len()
    );
    assert_eq!(finished.len(), CALLS);

    // One whole record per completed call, and nothing else.
    let report = cluster.workspace.read("report.txt").unwrap();
    let mut written = records(&report);
    written.sort();
    let mut expected: Vec<String> = (0..CALLS).map(|n| format!("line-{n:03}")).collect();
    expected.sort();
    assert_eq!(written, expected, "exactly one record per call");

    // Round robin sent most retries elsewhere: the replicas replayed calls
    // and let go of the ones taken over from them.
    let logs = cluster.logs();
    assert!(
        logs.matches("replaying it").count() > CALLS / 2,
        "{logs:.4000}"
    );
    assert!(
        logs.contains("taken over by another replica"),
        "{logs:.4000}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_round_answered_on_two_replicas_completes_once() {
    let cluster = Cluster::start("", &[]);
    let [r1, r2, r3] = &cluster.replicas[..] else {
        unreachable!()
    };
    let on_r1 = r1
        .connect(ScriptedClient::replying("unused").modern())
        .await;
    let on_r2 = r2
        .connect(ScriptedClient::replying("unused").modern())
        .await;
    let on_r3 = r3
        .connect(ScriptedClient::replying("unused").modern())
        .await;
    let request = report_request("twice");
    let first = round(&on_r1, request.clone()).await;
    let answered = retry(&request, &first, answer("explained-twice"));

    // The same state, answered at once on the replica that parked the call
    // and on one that would replay it.
    let (here, there) = tokio::join!(
        on_r1.call_tool_once(answered.clone()),
        on_r2.call_tool_once(answered.clone()),
    );
    let outcomes = [here, there];
    let second: Vec<_> = outcomes
        .iter()
        .filter_map(|outcome| match outcome {
            Ok(CallToolResponse::InputRequired(round)) => Some(round.clone()),
            _ => None,
        })
        .collect();
    let refused: Vec<String> = outcomes
        .iter()
        .filter_map(|outcome| outcome.as_ref().err().map(|e| e.to_string()))
        .collect();
    assert_eq!(second.len(), 1, "one replica goes on: {outcomes:?}");
    assert_eq!(refused.len(), 1, "{outcomes:?}");
    assert!(
        refused[0].contains("requestState was already used"),
        "{refused:?}"
    );
    // And a third replica, later, is refused too.
    let late = on_r3
        .call_tool_once(answered)
        .await
        .unwrap_err()
        .to_string();
    assert!(late.contains("requestState was already used"), "{late}");

    let done = on_r3
        .call_tool_once(retry(&request, &second[0], answer("rated")))
        .await
        .unwrap();
    let CallToolResponse::Complete(result) = done else {
        panic!("expected the end")
    };
    assert_eq!(text(&result), "reported twice");
    assert_eq!(
        cluster.workspace.read("report.txt").unwrap(),
        record("twice")
    );
}

/// Redis as the replicas see it, for tests that play a replica dying.
struct Store(redis::aio::MultiplexedConnection);

impl Store {
    async fn open(url: &str) -> Self {
        let client = redis::Client::open(url).unwrap();
        Store(client.get_multiplexed_async_connection().await.unwrap())
    }

    async fn keys(&mut self, pattern: &str) -> Vec<String> {
        redis::cmd("KEYS")
            .arg(pattern)
            .query_async(&mut self.0)
            .await
            .unwrap()
    }

    async fn get(&mut self, key: &str) -> Option<String> {
        redis::cmd("GET")
            .arg(key)
            .query_async(&mut self.0)
            .await
            .unwrap()
    }

    async fn set(&mut self, key: &str, value: &str) {
        let _: () = redis::cmd("SET")
            .arg(key)
            .arg(value)
            .query_async(&mut self.0)
            .await
            .unwrap();
    }

    /// As if the replica that answered the call's rounds had died before
    /// marking them answered: their claims lapse.
    async fn forget_round_claims(&mut self) {
        let claims = self.keys("wasm-mcp:round:*").await;
        assert!(!claims.is_empty(), "the answered rounds are claimed");
        for claim in &claims {
            let deadline = Instant::now() + Duration::from_secs(5);
            while self.get(claim).await.as_deref() != Some("answered") {
                assert!(
                    Instant::now() < deadline,
                    "{claim} is never marked answered"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        let _: () = redis::cmd("DEL")
            .arg(&claims)
            .query_async(&mut self.0)
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replica_dying_at_any_point_of_a_commit_neither_loses_nor_doubles_the_record() {
    let cluster = Cluster::start("", &[]);
    let mut clients = Vec::new();
    for replica in &cluster.replicas {
        clients.push(
            replica
                .connect(ScriptedClient::replying("unused").modern())
                .await,
        );
    }
    let request = report_request("crash");
    let first = round(&clients[0], request.clone()).await;
    let second = round(
        &clients[0],
        retry(&request, &first, answer("explained-crash")),
    )
    .await;
    let last = retry(&request, &second, answer("rated"));
    let finish = |on: usize| {
        let (client, last) = (&clients[on], last.clone());
        async move {
            match client.call_tool_once(last).await.unwrap() {
                CallToolResponse::Complete(result) => text(&result),
                _ => panic!("expected the end"),
            }
        }
    };
    assert_eq!(finish(0).await, "reported crash");
    let report = cluster.workspace.path("report.txt");
    assert_eq!(std::fs::read_to_string(&report).unwrap(), record("crash"));
    let mut store = Store::open(&cluster.redis.url).await;
    let commit = store.keys("wasm-mcp:committed:*").await.pop().unwrap();
    assert_eq!(store.get(&commit).await.as_deref(), Some("written"));

    // 1. It died after writing and recording it, before answering: the
    // client's retry is replayed on r2, which writes nothing.
    store.forget_round_claims().await;
    assert_eq!(
        finish(1).await,
        "reported crash",
        "the replay answers as the first run did"
    );
    assert_eq!(std::fs::read_to_string(&report).unwrap(), record("crash"));
    // (Logs arrive through a pipe: give them a moment.)
    let deadline = Instant::now() + Duration::from_secs(5);
    while !cluster.logs().contains("wrote its appends already") {
        assert!(
            Instant::now() < deadline,
            "r2 did not say why it wrote nothing"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // 2. It died after writing, before recording that it had: the replay
    // finds the record in the file after where the file ended, and writes
    // nothing.
    store.forget_round_claims().await;
    store.set(&commit, r#"pending {"report.txt":0}"#).await;
    assert_eq!(finish(2).await, "reported crash");
    assert_eq!(std::fs::read_to_string(&report).unwrap(), record("crash"));

    // 3. It died after recording that it begins, before writing: the
    // replay finds nothing after where the file ended, and writes it.
    store.forget_round_claims().await;
    std::fs::write(&report, "earlier\n").unwrap();
    store.set(&commit, r#"pending {"report.txt":8}"#).await;
    assert_eq!(finish(0).await, "reported crash");
    assert_eq!(
        std::fs::read_to_string(&report).unwrap(),
        format!("earlier\n{}", record("crash"))
    );
    assert_eq!(store.get(&commit).await.as_deref(), Some("written"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sampling_budget_holds_across_replicas_and_a_replay_is_not_charged_twice() {
    // Two `report` calls take four requests, each round on another replica.
    let cluster = Cluster::start("requests_per_minute = 4", &[]);
    let clients = futures::future::join_all(
        cluster
            .replicas
            .iter()
            .map(|r| r.connect(ScriptedClient::replying("unused").modern())),
    )
    .await;
    for (n, line) in ["a", "b"].into_iter().enumerate() {
        let request = report_request(line);
        let first = round(&clients[n], request.clone()).await;
        // The replay on the next replica asks the first question again,
        // answered from the state: it is not charged again.
        let second = round(
            &clients[n + 1],
            retry(&request, &first, answer(&format!("explained-{line}"))),
        )
        .await;
        let end = clients[(n + 2) % 3]
            .call_tool_once(retry(&request, &second, answer("rated")))
            .await
            .unwrap();
        let CallToolResponse::Complete(result) = end else {
            panic!("expected the end")
        };
        assert_ne!(result.is_error, Some(true), "{}", text(&result));
    }
    // The fifth request, on the replica that has served the fewest: refused.
    let refused = match clients[2]
        .call_tool_once(report_request("c"))
        .await
        .unwrap()
    {
        CallToolResponse::Complete(result) => text(&result),
        _ => panic!("the budget is spent: no round"),
    };
    assert!(
        refused.contains("`sampling.requests_per_minute` = 4 is spent"),
        "{refused}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_cap_counts_its_calls_on_every_replica() {
    let cluster = Cluster::start("", &["--max-client-calls", "2"]);
    let clients = futures::future::join_all(
        cluster
            .replicas
            .iter()
            .map(|r| r.connect(ScriptedClient::replying("unused").modern())),
    )
    .await;
    // Two calls parked on two replicas hold this client's two slots.
    let parked_a = round(&clients[0], report_request("a")).await;
    let _parked_b = round(&clients[1], report_request("b")).await;
    let refused = match clients[2]
        .call_tool_once(report_request("c"))
        .await
        .unwrap()
    {
        CallToolResponse::Complete(result) => text(&result),
        _ => panic!("a third call must be refused"),
    };
    assert!(refused.contains("`--max-client-calls`"), "{refused}");

    // Call a ends on the third replica; the first lets its parked run (and
    // slot) go, and the client may start another call.
    let request = report_request("a");
    let second = round(
        &clients[2],
        retry(&request, &parked_a, answer("explained-a")),
    )
    .await;
    let end = clients[2]
        .call_tool_once(retry(&request, &second, answer("rated")))
        .await
        .unwrap();
    assert!(matches!(end, CallToolResponse::Complete(_)));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match clients[2]
            .call_tool_once(report_request("d"))
            .await
            .unwrap()
        {
            CallToolResponse::InputRequired(_) => break,
            CallToolResponse::Complete(result) => {
                assert!(text(&result).contains("`--max-client-calls`"));
                assert!(
                    Instant::now() < deadline,
                    "the slot of the call taken over was never given back"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            _ => unreachable!(),
        }
    }
}

/// The audit records (target `audit`) in one replica's log.
fn audit_records(replica: &HttpServer) -> Vec<String> {
    let log = replica.log.lock().unwrap().clone();
    log.lines()
        .filter(|line| line.contains("\"outcome\":\""))
        .map(str::to_string)
        .collect()
}

/// "Every sampling request leaves exactly one audit record", across the
/// cluster: a call parked on r1, its first round answered on r2 (which
/// replays it and takes it over), its second on r3 (which replays both
/// rounds and takes it over from r2) leaves two records, one per request,
/// each where its answer arrived. The runs taken over record nothing for
/// the request they waited on, and a replay does not record again the
/// requests of rounds answered before.
#[tokio::test(flavor = "multi_thread")]
async fn each_sampling_request_leaves_one_audit_record_across_replicas() {
    let cluster = Cluster::start("", &[]);
    let clients = futures::future::join_all(
        cluster
            .replicas
            .iter()
            .map(|r| r.connect(ScriptedClient::replying("unused").modern())),
    )
    .await;
    let request = report_request("audited");
    let first = round(&clients[0], request.clone()).await;
    let second = round(
        &clients[1],
        retry(&request, &first, answer("explained-audited")),
    )
    .await;
    let end = clients[2]
        .call_tool_once(retry(&request, &second, answer("rated")))
        .await
        .unwrap();
    assert!(matches!(end, CallToolResponse::Complete(r) if r.is_error == Some(false)));

    // Wait until r1 and r2 have stopped the runs taken from them (a record
    // of theirs would be logged before that) and r2, r3 logged theirs.
    let stopped = "call ended after its client stopped waiting";
    let deadline = Instant::now() + Duration::from_secs(10);
    let [r1, r2, r3] = [0, 1, 2].map(|n| &cluster.replicas[n]);
    loop {
        let both_stopped = [r1, r2]
            .iter()
            .all(|replica| replica.log.lock().unwrap().contains(stopped));
        let both_logged = !audit_records(r2).is_empty() && !audit_records(r3).is_empty();
        if both_stopped && both_logged {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the runs taken over were never stopped:\n{}",
            cluster.logs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let records: Vec<Vec<String>> = [r1, r2, r3].map(audit_records).into();
    assert_eq!(
        records.iter().map(Vec::len).collect::<Vec<_>>(),
        [0, 1, 1],
        "records on r1, r2, r3: {records:#?}"
    );
    for record in records.concat() {
        assert!(record.contains("\"outcome\":\"answered\""), "{record}");
    }
}

/// Marking a round answered is fenced by its claim: a replica whose lease
/// lapsed while another claimed the round must not write over that claim
/// (the round would then be answered twice, or by no one).
#[tokio::test(flavor = "multi_thread")]
async fn a_round_is_marked_answered_only_by_the_holder_of_its_claim() {
    use wasm_mcp_host::shared::{Claimed, Shared};
    let dir = tempfile::tempdir().unwrap();
    let redis = Redis::start(dir.path());
    let shared = Shared::connect(&redis.url).await.unwrap();
    let mut store = Store::open(&redis.url).await;
    let ttl = Duration::from_secs(60);

    let Claimed::Mine(lapsed) = shared.claim_round("fenced:1:1", ttl).await.unwrap() else {
        panic!("a fresh round is claimed")
    };
    // Its lease lapsed, and another replica claimed the round since.
    store
        .set("wasm-mcp:round:fenced:1:1", "another-replica:7")
        .await;
    assert!(!lapsed.answered().await, "a lapsed claim was marked");
    assert_eq!(
        store.get("wasm-mcp:round:fenced:1:1").await.as_deref(),
        Some("another-replica:7"),
        "the other replica's claim was overwritten"
    );

    let Claimed::Mine(held) = shared.claim_round("fenced:1:2", ttl).await.unwrap() else {
        panic!("a fresh round is claimed")
    };
    assert!(held.answered().await);
    assert_eq!(
        store.get("wasm-mcp:round:fenced:1:2").await.as_deref(),
        Some("answered")
    );
    assert!(matches!(
        shared.claim_round("fenced:1:2", ttl).await,
        Ok(Claimed::AlreadyAnswered)
    ));
}

#[test]
fn the_seed_client_keeps_its_session_on_one_replica_through_nginx() {
    let python = python_with_mcp(SEED_SDK);
    let cluster = Cluster::start("", &[]);
    let nginx = cluster.nginx();
    let answer = "A lock wait timed out.";
    // Each run opens a session on whichever replica nginx picks; every
    // later request of it (the call, the sampling answer) must reach that
    // replica, which holds the session.
    for run in 0..3 {
        let log_line = format!("ERROR deadlock {run}");
        let output = Command::new(&python)
            .arg(repo_root().join("tests/python/sampling_client.py"))
            .args(["http", &nginx.url, &log_line, answer])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{stdout}\n{stderr}");
        let result: Value = serde_json::from_str(stdout.lines().nth(1).unwrap()).unwrap();
        assert_eq!(
            result["text"], "Success: Log analyzed and appended to 'incident_report.txt'.",
            "{stdout}"
        );
    }
    let report = cluster.workspace.read("incident_report.txt").unwrap();
    let expected: String = (0..3)
        .map(|run| seed_report(&format!("ERROR deadlock {run}"), answer))
        .collect();
    assert_eq!(report, expected);

    // A body over nginx's 1 MiB default, well under the replicas' 4 MiB,
    // reaches a replica.
    let big = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "big", "version": "1"},
        "_meta": {"pad": "x".repeat(2 * 1024 * 1024)}
    }})
    .to_string();
    let status = status_of(
        &nginx.url,
        &[
            format!(
                "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
                 Accept: application/json, text/event-stream\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n",
                big.len()
            )
            .into_bytes(),
            big.into_bytes(),
        ]
        .concat(),
    );
    assert!(
        status.is_some_and(|code| code != 413 && code < 500),
        "a 2 MiB body through nginx: {status:?}"
    );

    // With every replica gone, nginx's /healthz says so.
    for replica in &cluster.replicas {
        let killed = Command::new("kill")
            .args(["-KILL", &replica.pid().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
    }
    let health = status_of(
        &nginx.url,
        b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
    );
    assert!(
        health.is_some_and(|code| code >= 500),
        "/healthz with no replica up: {health:?}"
    );
}

/// The status code nginx (at `url`'s address) answers a raw HTTP/1.1
/// `request` with, or `None` if it answers nothing readable.
fn status_of(url: &str, request: &[u8]) -> Option<u16> {
    let address = url.trim_start_matches("http://").trim_end_matches("/mcp");
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    // nginx may refuse a body before reading all of it; its answer is
    // still there to read.
    let _ = stream.write_all(request);
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).ok()?;
    line.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
}
