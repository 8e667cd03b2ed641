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
