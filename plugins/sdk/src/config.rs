//! The plugin's settings: the `[plugin.config]` table of the host's
//! configuration, read through the standard `wasi:config/store` interface.
//!
//! ```toml
//! [[plugin]]
//! component = "my_tool.wasm"
//!
//! [plugin.config]
//! report_file = "summaries.txt"
//! max_page_bytes = "50000"
//! ```
//!
//! Values are strings; parse them where they are used. Settings are read
//! only, and the same for every call.

/// The generated bindings of `wasi:config/imports`, kept private: plugins
/// see only [`get`] and [`get_all`].
mod store_bindings {
    wit_bindgen::generate!({
        path: "../../wit/deps/config",
        world: "imports",
    });
}

use store_bindings::wasi::config::store;

/// The setting `key`, or `None` when it is not set.
///
/// A store error (the host could not read its configuration) also gives
/// `None`, after a warning in the host's log: a plugin should treat a
/// setting it cannot read like one that is not set, and fall back on its
/// default.
pub fn get(key: &str) -> Option<String> {
    match store::get(key) {
        Ok(value) => value,
        Err(error) => {
            crate::log::warning(format!(
                "reading setting `{key}` failed: {}",
                describe(&error)
            ));
            None
        }
    }
}

/// Every setting, as (key, value) pairs in the order the host gives them.
/// Empty when the plugin has none, or when the store fails (with a warning
/// in the host's log).
pub fn get_all() -> Vec<(String, String)> {
    match store::get_all() {
        Ok(pairs) => pairs,
        Err(error) => {
            crate::log::warning(format!("reading the settings failed: {}", describe(&error)));
            Vec::new()
        }
    }
}

fn describe(error: &store::Error) -> String {
    match error {
        store::Error::Upstream(why) => format!("the config source failed: {why}"),
        store::Error::Io(why) => format!("I/O error: {why}"),
    }
}
