//! Builds the reference plugin (`plugins/log-archiver`) for `wasm32-wasip2`
//! so the host binary can embed it as its default configuration: `wasm-mcp
//! serve` with no config serves the log archiver, built from source.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest_dir.parent().unwrap();
    let plugins = root.join("plugins");
    for watched in [
        "plugins/Cargo.toml",
        "plugins/Cargo.lock",
        "plugins/log-archiver",
        "wit",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    let wasm = build_plugin(&plugins, "log-archiver");
    std::fs::copy(&wasm, out_dir.join("log_archiver.wasm")).unwrap_or_else(|e| {
        panic!("cannot copy {} into OUT_DIR: {e}", wasm.display());
    });
}

/// `cargo build --release --target wasm32-wasip2 -p NAME` in the plugins
/// workspace, with its own target folder (the outer build holds the lock on
/// ours) and without the outer build's flags, which are for the host target.
fn build_plugin(plugins: &Path, package: &str) -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let target_dir = plugins.join("target");
    let status = Command::new(cargo)
        .current_dir(plugins)
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "-p",
            package,
        ])
        .arg("--target-dir")
        .arg(&target_dir)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET")
        .status()
        .expect("cannot run cargo to build the log-archiver plugin");
    if !status.success() {
        panic!(
            "building the `{package}` plugin for wasm32-wasip2 failed (see above). \
             If the target is missing, run: rustup target add wasm32-wasip2"
        );
    }
    target_dir
        .join("wasm32-wasip2/release")
        .join(format!("{}.wasm", package.replace('-', "_")))
}
