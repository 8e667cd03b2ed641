//! `wasi:config/store`, served by `wasmtime-wasi-config`: a plugin reads
//! its `[plugin.config]` table, and nothing else. Values are strings (TOML
//! numbers and booleans are written as text); `${env:NAME}` and
//! `${file:PATH}` are read once at load (see [`crate::interpolate`]).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use wasmtime::component::Linker;
use wasmtime_wasi_config::{WasiConfig, WasiConfigVariables};

/// A plugin's settings, shared by its calls.
pub type Settings = Arc<WasiConfigVariables>;

/// The most settings a plugin may have, and the longest value.
const MAX_SETTINGS: usize = 1000;
const MAX_VALUE_BYTES: usize = 64 * 1024;

/// Check and resolve `[plugin.config]`.
pub fn from_raw(
    raw: BTreeMap<String, toml::Value>,
    base: &Path,
) -> Result<BTreeMap<String, String>> {
    if raw.len() > MAX_SETTINGS {
        bail!(
            "[plugin.config] has {} keys; at most {MAX_SETTINGS}",
            raw.len()
        );
    }
    let mut settings = BTreeMap::new();
    for (key, value) in raw {
        let text = match value {
            toml::Value::String(text) => crate::interpolate::resolve(&text, base)
                .with_context(|| format!("[plugin.config] `{key}`"))?,
            toml::Value::Integer(n) => n.to_string(),
            toml::Value::Float(x) => x.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            other => bail!(
                "[plugin.config] `{key}` is a {}; settings are strings, numbers or booleans (a plugin reads each as text)",
                other.type_str()
            ),
        };
        if text.len() > MAX_VALUE_BYTES {
            bail!(
                "[plugin.config] `{key}` is {} bytes; at most {MAX_VALUE_BYTES}",
                text.len()
            );
        }
        settings.insert(key, text);
    }
    Ok(settings)
}

/// The settings as calls read them.
pub fn shared(settings: &BTreeMap<String, String>) -> Settings {
    Arc::new(
        settings
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect(),
    )
}

/// Serve `wasi:config/store` from the settings `project` finds in a store.
pub fn add_to_linker<T: 'static>(
    linker: &mut Linker<T>,
    project: fn(&mut T) -> WasiConfig<'_>,
) -> wasmtime::Result<()> {
    wasmtime_wasi_config::add_to_linker(linker, project)
}
