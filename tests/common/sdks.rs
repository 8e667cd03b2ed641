//! The Python and TypeScript SDKs' toolchains, installed from PyPI and npm
//! under `target/` on first use, and plugins built with them from source as
//! their users build them.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

use super::repo_root;

/// Run `command`; on failure, panic with what it printed.
pub fn run(command: &mut Command) -> String {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{command:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// A Python interpreter with `plugins/python-sdk` installed from the repo
/// (as a user would: `pip install ./plugins/python-sdk`, which brings
/// componentize-py), reinstalled once per test process so edits count.
pub fn python_sdk() -> PathBuf {
    static READY: OnceLock<PathBuf> = OnceLock::new();
    READY
        .get_or_init(|| {
            let venv = repo_root().join("target/python/wasm-mcp-sdk");
            let python = venv.join("bin/python");
            let pip = |extra: &[&str]| {
                run(Command::new(&python)
                    .args([
                        "-m",
                        "pip",
                        "install",
                        "--quiet",
                        "--disable-pip-version-check",
                    ])
                    .args(extra)
                    .arg(repo_root().join("plugins/python-sdk")));
            };
            if !python.exists() {
                run(Command::new("python3").args(["-m", "venv"]).arg(&venv));
                pip(&[]);
            } else {
                pip(&["--no-deps", "--force-reinstall"]);
            }
            python
        })
        .clone()
}

/// Build the Python app `app` (a path) into `output` with the SDK's
/// `python -m wasm_mcp build`.
pub fn build_python_app(python: &Path, app: &Path, output: &Path) {
    run(Command::new(python)
        .current_dir(app.parent().unwrap())
        .args(["-m", "wasm_mcp", "build"])
        .arg(app.file_name().unwrap())
        .arg("-o")
        .arg(output));
}

/// `plugins/NAME/app.py` built with the Python SDK, once per test process.
pub fn python_plugin(name: &str) -> PathBuf {
    let output = repo_root()
        .join("target/python")
        .join(format!("{}.wasm", name.replace('-', "_")));
    static BUILT: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if !built.iter().any(|done| done == name) {
        let app = repo_root().join("plugins").join(name).join("app.py");
        build_python_app(&python_sdk(), &app, &output);
        built.push(name.to_string());
    }
    output
}

/// Copy `from` into `to`, following symlinks (the SDKs link the repo's
/// `wit/`), leaving out installed packages and built components.
fn copy_sources(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        let source = entry.path();
        if name == "node_modules" || source.extension().is_some_and(|e| e == "wasm") {
            continue;
        }
        if std::fs::metadata(&source).unwrap().is_dir() {
            copy_sources(&source, &to.join(&name));
        } else {
            std::fs::copy(&source, to.join(&name)).unwrap();
        }
    }
}

/// `plugins/`'s npm workspaces (the TypeScript SDK and its example), copied
/// to `target/node/plugins` with their packages installed from npm there
/// (kept between runs) and type-checked with `tsc`. Once per test process.
pub fn node_workspace() -> PathBuf {
    static READY: OnceLock<PathBuf> = OnceLock::new();
    READY
        .get_or_init(|| {
            let plugins = repo_root().join("plugins");
            let workspace = repo_root().join("target/node/plugins");
            for file in ["package.json", "package-lock.json", "tsconfig.json"] {
                std::fs::create_dir_all(&workspace).unwrap();
                std::fs::copy(plugins.join(file), workspace.join(file)).unwrap();
            }
            for package in ["ts-sdk", "ts-log-archiver"] {
                let _ = std::fs::remove_dir_all(workspace.join(package).join("src"));
                copy_sources(&plugins.join(package), &workspace.join(package));
            }
            run(Command::new("npm")
                .current_dir(&workspace)
                .args(["install", "--no-fund", "--no-audit"]));
            // The committed declarations are what jco makes of today's WIT.
            run(Command::new("npm")
                .current_dir(&workspace)
                .args(["run", "types", "-w", "@wasm-mcp/sdk"]));
            let generated = workspace.join("ts-sdk/types");
            let committed = plugins.join("ts-sdk/types");
            for file in ["plugin.d.ts".to_string()].into_iter().chain(
                std::fs::read_dir(generated.join("interfaces"))
                    .unwrap()
                    .map(|e| format!("interfaces/{}", e.unwrap().file_name().to_string_lossy())),
            ) {
                assert_eq!(
                    std::fs::read_to_string(generated.join(&file)).unwrap(),
                    std::fs::read_to_string(committed.join(&file)).unwrap_or_default(),
                    "plugins/ts-sdk/types/{file} is stale: run `npm run types -w @wasm-mcp/sdk` in plugins/"
                );
            }
            run(Command::new("npm")
                .current_dir(&workspace)
                .args(["run", "check"]));
            workspace
        })
        .clone()
}

/// The TypeScript example, built with `npm run build` (the SDK's
/// `wasm-mcp-build`), once per test process.
pub fn ts_example() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let workspace = node_workspace();
            run(Command::new("npm")
                .current_dir(&workspace)
                .args(["run", "build"]));
            workspace.join("ts-log-archiver/ts_log_archiver.wasm")
        })
        .clone()
}
