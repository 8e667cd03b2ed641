//! Test plugin: each tool exposes one host import as directly as possible,
//! so integration tests can try what a plugin could do with it.

wit_bindgen::generate!({ path: "../../../wit/v0.1", world: "tool-plugin" });

use exports::wasm_mcp::plugin::tools::{CallError, Guest, Tool};
use serde_json::{Value, json};
use wasm_mcp::plugin::{files, logging, progress, sampling};

struct Probe;

fn tool(name: &str, description: &str, properties: Value, required: &[&str]) -> Tool {
    Tool {
        name: name.into(),
        title: None,
        description: description.into(),
        input_schema: json!({"type": "object", "properties": properties, "required": required})
            .to_string(),
    }
}

fn string_arg(args: &Value, key: &str) -> Result<String, CallError> {
    args.get(key)
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| CallError::InvalidArguments(format!("`{key}` must be a string")))
}

fn u64_arg(args: &Value, key: &str) -> Result<u64, CallError> {
    args.get(key)
        .and_then(Value::as_u64)
        .ok_or_else(|| CallError::InvalidArguments(format!("`{key}` must be a non-negative integer")))
}

/// Not tail-recursive: every level keeps a wasm frame.
fn recurse(n: u64) -> u64 {
    if n == 0 {
        0
    } else {
        1 + recurse(std::hint::black_box(n - 1))
    }
}

/// Everything a plugin might find through WASI without a grant.
fn wasi_report(port: u16) -> Value {
    let outcome = |r: std::io::Result<String>| match r {
        Ok(found) => json!({"ok": found}),
        Err(e) => json!({"denied": e.to_string()}),
    };
    json!({
        "read_root": outcome(std::fs::read_dir("/").map(|d| format!("{} entries", d.count()))),
        "read_dot": outcome(std::fs::read_dir(".").map(|d| format!("{} entries", d.count()))),
        "open_passwd": outcome(std::fs::read_to_string("/etc/passwd")),
        "create_file": outcome(std::fs::write("created-by-probe.txt", "x").map(|()| "written".into())),
        "env": std::env::vars().count(),
        "args": std::env::args().count(),
        "cwd": outcome(std::env::current_dir().map(|p| p.display().to_string())),
        "tcp": outcome(std::net::TcpStream::connect(("127.0.0.1", port)).map(|_| "connected".into())),
        "udp": outcome(std::net::UdpSocket::bind("127.0.0.1:0").map(|_| "bound".into())),
        "dns": outcome(std::net::ToSocketAddrs::to_socket_addrs("localhost:80").map(|a| format!("{} addresses", a.count()))),
    })
}

impl Guest for Probe {
    fn list_tools() -> Vec<Tool> {
        vec![
            tool(
                "probe_append",
                "Append `text` to `path` and report the host's answer.",
                json!({"path": {"type": "string"}, "text": {"type": "string"}}),
                &["path", "text"],
            ),
            tool(
                "probe_sample",
                "Sample `prompt` (with optional `system` and `max_tokens`) and return the answer.",
                json!({"prompt": {"type": "string"}, "system": {"type": "string"}, "max_tokens": {"type": "integer"}}),
                &["prompt"],
            ),
            tool(
                "probe_trap",
                "Log a line, write to stderr, then trap.",
                json!({}),
                &[],
            ),
            tool("probe_spin", "Loop forever.", json!({}), &[]),
            tool("probe_alloc", "Allocate memory without bound.", json!({}), &[]),
            tool("probe_recurse", "Recurse without bound.", json!({}), &[]),
            tool("probe_unreachable", "Execute `unreachable`.", json!({}), &[]),
            tool("probe_oob", "Read far outside linear memory.", json!({}), &[]),
            tool(
                "probe_result",
                "Return a result of `bytes` bytes.",
                json!({"bytes": {"type": "integer"}}),
                &["bytes"],
            ),
            tool(
                "probe_print",
                "Write `bytes` bytes to stdout and stderr, then return.",
                json!({"bytes": {"type": "integer"}}),
                &["bytes"],
            ),
            tool(
                "probe_wasi",
                "Look for ambient authority: files, environment, arguments, sockets.",
                json!({"port": {"type": "integer"}}),
                &["port"],
            ),
            tool(
                "probe_sample_many",
                "Sample `count` times with `max_tokens`; return the answers.",
                json!({"count": {"type": "integer"}, "max_tokens": {"type": "integer"}}),
                &["count"],
            ),
            tool(
                "probe_append_many",
                "Append `count` records tagged `tag` to `path`, one append each.",
                json!({"path": {"type": "string"}, "tag": {"type": "string"}, "count": {"type": "integer"}}),
                &["path", "tag", "count"],
            ),
            tool(
                "probe_progress",
                "Report `steps` progress steps, logging each at debug and info.",
                json!({"steps": {"type": "integer"}}),
                &["steps"],
            ),
            tool(
                "probe_handles",
                "Create `count` WASI pollables and hold them all.",
                json!({"count": {"type": "integer"}}),
                &["count"],
            ),
            tool(
                "probe_random",
                "Ask the host for `bytes` random bytes in one call.",
                json!({"bytes": {"type": "integer"}}),
                &["bytes"],
            ),
            tool(
                "probe_log",
                "Log `message` at warning level `count` times (default once).",
                json!({"message": {"type": "string"}, "count": {"type": "integer"}}),
                &["message"],
            ),
            tool(
                "probe_fail",
                "Fail with an error text of `bytes` bytes.",
                json!({"bytes": {"type": "integer"}}),
                &["bytes"],
            ),
            tool(
                "probe_progress_flood",
                "Report NaN and infinite progress, then `count` growing reports at once.",
                json!({"count": {"type": "integer"}}),
                &["count"],
            ),
            tool(
                "probe_sample_then_append",
                "Sample, then append `text` to `path` whatever the answer.",
                json!({"path": {"type": "string"}, "text": {"type": "string"}}),
                &["path", "text"],
            ),
            tool(
                "probe_print_then_spin",
                "Write a line to stderr, then loop forever.",
                json!({}),
                &[],
            ),
            tool(
                "probe_sleep",
                "Sleep `ms` milliseconds, then append `text` to `path`.",
                json!({"ms": {"type": "integer"}, "path": {"type": "string"}, "text": {"type": "string"}}),
                &["ms", "path", "text"],
            ),
        ]
    }

    fn call(name: String, arguments: String) -> Result<String, CallError> {
        let args: Value = serde_json::from_str(&arguments)
            .map_err(|e| CallError::InvalidArguments(e.to_string()))?;
        match name.as_str() {
            "probe_append" => {
                let path = string_arg(&args, "path")?;
                let text = string_arg(&args, "text")?;
                files::append(&path, text.as_bytes())
                    .map(|()| "appended".to_string())
                    .map_err(|e| CallError::Failed(format!("{e:?}")))
            }
            "probe_sample" => {
                let prompt = string_arg(&args, "prompt")?;
                let max_tokens = args.get("max_tokens").and_then(Value::as_u64).unwrap_or(50) as u32;
                let response = sampling::sample(&sampling::Request {
                    messages: vec![sampling::Message {
                        role: sampling::Role::User,
                        content: vec![sampling::Content::Text(prompt)],
                    }],
                    system_prompt: args.get("system").and_then(Value::as_str).map(str::to_string),
                    max_tokens,
                    temperature: None,
                    stop_sequences: vec![],
                    model_preferences: None,
                })
                .map_err(|e| CallError::Failed(format!("{e:?}")))?;
                Ok(response
                    .content
                    .iter()
                    .filter_map(|c| match c {
                        sampling::Content::Text(t) => Some(t.as_str()),
                        _ => None,
                    })
                    .collect())
            }
            "probe_trap" => {
                logging::log(logging::Level::Warning, "about to trap");
                eprintln!("probe stderr before the trap");
                panic!("probe_trap was called");
            }
            "probe_spin" => {
                let mut n: u64 = 0;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            "probe_alloc" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(std::hint::black_box(vec![7u8; 1 << 20]));
                }
            }
            "probe_recurse" => Ok(recurse(std::hint::black_box(u64::MAX)).to_string()),
            "probe_unreachable" => core::arch::wasm32::unreachable(),
            "probe_oob" => {
                let far = std::hint::black_box(0xFFFF_FFF0usize) as *const u8;
                Ok(unsafe { core::ptr::read_volatile(far) }.to_string())
            }
            "probe_result" => Ok("r".repeat(u64_arg(&args, "bytes")? as usize)),
            "probe_print" => {
                let line = "p".repeat(1023);
                for _ in 0..u64_arg(&args, "bytes")? / 1024 {
                    println!("{line}");
                    eprintln!("{line}");
                }
                Ok("printed".into())
            }
            "probe_wasi" => Ok(wasi_report(u64_arg(&args, "port")? as u16).to_string()),
            "probe_sample_many" => {
                let count = u64_arg(&args, "count")?;
                let max_tokens = args.get("max_tokens").and_then(Value::as_u64).unwrap_or(10) as u32;
                let mut answers = Vec::new();
                for i in 0..count {
                    let response = sampling::sample(&sampling::Request {
                        messages: vec![sampling::Message {
                            role: sampling::Role::User,
                            content: vec![sampling::Content::Text(format!("question {i}"))],
                        }],
                        system_prompt: None,
                        max_tokens,
                        temperature: None,
                        stop_sequences: vec![],
                        model_preferences: None,
                    })
                    .map_err(|e| CallError::Failed(format!("sample {i}: {e:?}")))?;
                    answers.push(format!("{:?}", response.content));
                }
                Ok(answers.join("\n"))
            }
            "probe_append_many" => {
                let path = string_arg(&args, "path")?;
                let tag = string_arg(&args, "tag")?;
                for i in 0..u64_arg(&args, "count")? {
                    let record = format!("{tag} {i:05} {}\n", "x".repeat(40));
                    files::append(&path, record.as_bytes())
                        .map_err(|e| CallError::Failed(format!("append {i}: {e:?}")))?;
                }
                Ok("appended".into())
            }
            "probe_progress" => {
                let steps = u64_arg(&args, "steps")?;
                for step in 1..=steps {
                    logging::log(logging::Level::Debug, &format!("debug {step}"));
                    logging::log(logging::Level::Info, &format!("info {step}"));
                    progress::report(step as f64, Some(steps as f64), Some(&format!("step {step}")));
                }
                Ok("progressed".into())
            }
            "probe_sleep" => {
                std::thread::sleep(std::time::Duration::from_millis(u64_arg(&args, "ms")?));
                files::append(&string_arg(&args, "path")?, string_arg(&args, "text")?.as_bytes())
                    .map_err(|e| CallError::Failed(format!("{e:?}")))?;
                Ok("slept".into())
            }
            "probe_handles" => {
                let count = u64_arg(&args, "count")?;
                let held: Vec<_> = (0..count)
                    .map(|_| wasip2::clocks::monotonic_clock::subscribe_duration(60_000_000_000))
                    .collect();
                Ok(format!("held {} handles", held.len()))
            }
            "probe_random" => {
                let bytes = wasip2::random::random::get_random_bytes(u64_arg(&args, "bytes")?);
                Ok(format!("got {} random bytes", bytes.len()))
            }
            "probe_log" => {
                let message = string_arg(&args, "message")?;
                for _ in 0..args.get("count").and_then(Value::as_u64).unwrap_or(1) {
                    logging::log(logging::Level::Warning, &message);
                }
                Ok("logged".into())
            }
            "probe_fail" => Err(CallError::Failed("f".repeat(u64_arg(&args, "bytes")? as usize))),
            "probe_progress_flood" => {
                let count = u64_arg(&args, "count")?;
                progress::report(f64::NAN, Some(count as f64), Some("nan"));
                progress::report(1.0, Some(f64::INFINITY), Some("infinite total"));
                progress::report(f64::INFINITY, None, Some("infinite"));
                for step in 1..=count {
                    progress::report(step as f64, Some(count as f64), None);
                }
                Ok("flooded".into())
            }
            "probe_sample_then_append" => {
                let outcome = sampling::sample(&sampling::Request {
                    messages: vec![sampling::Message {
                        role: sampling::Role::User,
                        content: vec![sampling::Content::Text("anyone there?".into())],
                    }],
                    system_prompt: None,
                    max_tokens: 10,
                    temperature: None,
                    stop_sequences: vec![],
                    model_preferences: None,
                });
                files::append(&string_arg(&args, "path")?, string_arg(&args, "text")?.as_bytes())
                    .map_err(|e| CallError::Failed(format!("{e:?}")))?;
                Ok(format!("appended after {}", if outcome.is_ok() { "an answer" } else { "an error" }))
            }
            "probe_print_then_spin" => {
                eprintln!("last words before the spin");
                let mut n: u64 = 0;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            other => Err(CallError::InvalidArguments(format!("unknown tool `{other}`"))),
        }
    }
}

export!(Probe);
