//! Seed compatibility: a client written for the FastMCP log archiver (the
//! official Python SDK, session sampling) works unchanged against wasm-mcp,
//! and both servers leave byte-identical report files.
//!
//! The Python SDK is installed from PyPI into `target/python/` on first run.

mod common;

use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// The Python SDK release line the seed was written for (session sampling).
const SEED_SDK: &str = "1.30.0";

struct Reference(Child);

impl Drop for Reference {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Start the FastMCP reference server in `cwd` and wait for its port.
fn start_reference(python: &Path, cwd: &Path) -> (Reference, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(python)
        .current_dir(cwd)
        .arg(repo_root().join("tests/python/reference_server.py"))
        .arg(port.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the reference server did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (Reference(child), format!("http://127.0.0.1:{port}/mcp"))
}

#[test]
fn the_seed_client_gets_the_same_report_from_wasm_mcp_as_from_fastmcp() {
    let python = python_with_mcp(SEED_SDK);
    let answer = "Two transactions waited on each other's locks, so one was aborted.";

    let fastmcp = Workspace::new();
    let (_reference, reference_url) = start_reference(&python, fastmcp.dir.path());
    let (_, expected) = run_sampling_client(
        &python,
        &["http", &reference_url, DEADLOCK, answer],
        fastmcp.dir.path(),
    );

    let ours = Workspace::new();
    let server = HttpServer::start(None, ours.dir.path());
    let (requests, result) = run_sampling_client(
        &python,
        &["http", &server.url, DEADLOCK, answer],
        ours.dir.path(),
    );

    assert_eq!(result, expected);
    assert_eq!(
        result["text"],
        "Success: Log analyzed and appended to 'incident_report.txt'."
    );
    assert_seed_shaped(&requests);
    let report = ours.read("incident_report.txt").unwrap();
    assert_eq!(
        report,
        fastmcp.read("incident_report.txt").unwrap(),
        "reports differ"
    );
    assert_eq!(report, seed_report(DEADLOCK, answer));
}

#[test]
fn the_seed_client_works_over_stdio() {
    let python = python_with_mcp(SEED_SDK);
    let workspace = Workspace::new();
    let (requests, result) = run_sampling_client(
        &python,
        &[
            "stdio",
            binary(),
            "serve",
            "--stdio",
            "--",
            DEADLOCK,
            "over stdio",
        ],
        workspace.dir.path(),
    );
    assert_eq!(result["is_error"], false, "{result}");
    assert_seed_shaped(&requests);
    assert_eq!(
        workspace.read("incident_report.txt"),
        Some(seed_report(DEADLOCK, "over stdio"))
    );
}
