//! `wasm-mcp new NAME [--lang rust|python|ts] [--template ask|fetch]`: a
//! plugin project that builds as generated, with its language's SDK and the
//! WIT contract vendored beside it (so it needs nothing but its language's
//! registry: crates.io, PyPI or npm), and the config entry that serves it.

mod python;
mod rust;
mod typescript;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// The contract, and the standard WIT it refers to (`wasi:config`).
const WIT: [(&str, &str); 3] = [
    ("wit/plugin.wit", include_str!("../../../wit/plugin.wit")),
    (
        "wit/deps/config/store.wit",
        include_str!("../../../wit/deps/config/store.wit"),
    ),
    (
        "wit/deps/config/world.wit",
        include_str!("../../../wit/deps/config/world.wit"),
    ),
];

/// The language the plugin is written in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    /// A Rust crate (cargo, the wasm32-wasip2 target).
    #[default]
    Rust,
    /// A Python module (componentize-py from PyPI, in the project's .venv).
    Python,
    /// A TypeScript module (componentize-js and zod from npm, in the
    /// project's node_modules).
    #[value(name = "ts", alias = "typescript")]
    Ts,
}

/// What the new plugin starts as.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Template {
    /// `ask`: asks the client's LLM and keeps a record (sampling, append).
    #[default]
    Ask,
    /// `summarize`: fetches a page, has the LLM summarise it, keeps a record
    /// (outbound HTTP by grant, settings, sampling, append). Rust only.
    Fetch,
}

/// A new project: where it is, and what to run next.
pub struct Scaffold {
    pub dir: PathBuf,
    /// The commands that build, check and try it, from inside `dir`.
    pub steps: String,
    /// The `[[plugin]]` entry that serves it.
    pub config: String,
}

/// Write the plugin project `name` into `parent/name`.
pub fn new_plugin(name: &str, parent: &Path, lang: Lang, template: Template) -> Result<Scaffold> {
    let valid = !name.is_empty()
        && name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !valid {
        bail!(
            "plugin name {name:?} is not valid: use lowercase letters, digits, `-` and `_`, starting with a letter"
        );
    }
    if template == Template::Fetch && lang != Lang::Rust {
        bail!(
            "the fetch template is Rust only for now: use `--lang rust`, or start from the ask template"
        );
    }
    let dir = parent.join(name);
    if dir.exists() {
        bail!(
            "{} already exists: pick another name or remove it",
            dir.display()
        );
    }
    let (files, steps) = match lang {
        Lang::Rust => rust::files(name, template),
        Lang::Python => python::files(name),
        Lang::Ts => typescript::files(name),
    };
    let mut config = String::new();
    for (path, text) in &files {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap())
            .with_context(|| format!("cannot create {}", path.display()))?;
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
        if path.ends_with("wasm-mcp.toml") {
            config.clone_from(text);
        }
    }
    Ok(Scaffold { dir, steps, config })
}

/// The `ask` tool's config: the component, and the one file it appends to.
fn ask_config(name: &str, component: &str) -> String {
    format!(
        r#"# Serve this plugin:  wasm-mcp serve --config wasm-mcp.toml
[[plugin]]
name = "{name}"
component = "{component}"
append = ["answers.txt"]
"#
    )
}

/// Fails unless `vendored` holds every file under `plugins/{sdk}` whose name
/// ends in one of `extensions`, at `prefix` + its path there: a module added
/// to an SDK and left out of `wasm-mcp new` would break every new project.
#[cfg(test)]
fn assert_vendors_whole(vendored: &[(&str, &str)], sdk: &str, prefix: &str, extensions: &[&str]) {
    fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy();
            if matches!(&*name, "wit" | "node_modules" | "__pycache__") || name.starts_with('.') {
                continue;
            }
            if path.is_dir() {
                walk(&path, found);
            } else {
                found.push(path);
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../plugins")
        .join(sdk);
    let mut found = Vec::new();
    walk(&root, &mut found);
    let paths: Vec<&str> = vendored.iter().map(|(path, _)| *path).collect();
    let mut checked = 0;
    for file in found {
        let relative = file
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        if extensions
            .iter()
            .any(|extension| relative.ends_with(extension))
        {
            let expected = format!("{prefix}{relative}");
            assert!(
                paths.contains(&expected.as_str()),
                "`wasm-mcp new` does not vendor plugins/{sdk}/{relative}: add it to the SDK list"
            );
            checked += 1;
        }
    }
    assert!(checked > 0, "no file of plugins/{sdk} was found");
}
