//! The embedded default: with no `--config`, the host serves the log
//! archiver (built into this binary by `build.rs`), granted
//! `incident_report.txt` in the working folder, like the seed's server.

use anyhow::{Context, Result};

use crate::config::{ComponentSource, Config, Grant, Limits, PluginConfig, SamplingPolicy};

/// The log-archiver component, built from `plugins/log-archiver`.
pub const LOG_ARCHIVER: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/log_archiver.wasm"));

/// The default configuration, relative to the current working folder.
pub fn default_config() -> Result<Config> {
    let cwd = std::env::current_dir().context("cannot read the current working folder")?;
    Ok(Config {
        origin: "embedded default (log-archiver)".into(),
        plugins: vec![PluginConfig {
            name: "log-archiver".into(),
            tool_prefix: String::new(),
            component: ComponentSource::Embedded {
                name: "log-archiver",
                bytes: LOG_ARCHIVER,
            },
            grants: vec![Grant {
                pattern: "incident_report.txt".into(),
                base: cwd,
            }],
            limits: Limits::default(),
            sampling: SamplingPolicy::default(),
            elicitation: Default::default(),
            roots: Default::default(),
            http: Default::default(),
            settings: Default::default(),
            sha256: None,
        }],
        cache_dir: None,
        llm: None,
        audit: Default::default(),
    })
}
