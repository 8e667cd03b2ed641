//! `files.append`: the only way a plugin writes to disk.
//!
//! A plugin names a relative path; it is matched against the plugin's grants
//! (exact files, or folders written with a trailing `/`), then opened through
//! cap-std inside the granted folder's handle, which was opened at load. So
//! `..`, absolute paths and symlinks cannot reach outside the grant, and the
//! final component is never followed if it is a symlink. Files are opened in
//! append mode and each call's bytes go out in one `write`, so appends from
//! concurrent calls never interleave.

use std::io::Write;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use cap_fs_ext::{FollowSymlinks, OpenOptionsFollowExt};
use cap_std::fs::{Dir, OpenOptions};

use crate::config::{Grant, check_relative_path};
use crate::runtime::CallState;
use crate::runtime::bindings::wasm_mcp::plugin::files::{Error, Host};

/// A plugin's grants, with their folders opened.
pub struct Grants {
    entries: Vec<OpenGrant>,
}

struct OpenGrant {
    pattern: String,
    /// The granted folder, or the folder holding the granted file.
    dir: Arc<Dir>,
}

impl Grants {
    /// Open the folder of every grant; a missing folder is a config error.
    pub fn open(grants: &[Grant]) -> Result<Grants> {
        let mut entries = Vec::with_capacity(grants.len());
        for grant in grants {
            let host_path = grant.host_path();
            let folder = if grant.is_folder() {
                host_path.clone()
            } else {
                host_path
                    .parent()
                    .map(|p| p.to_path_buf())
                    .unwrap_or_default()
            };
            let dir = Dir::open_ambient_dir(&folder, cap_std::ambient_authority()).with_context(
                || {
                    format!(
                        "append grant `{}`: cannot open folder {}: create it, or fix the grant",
                        grant.pattern,
                        folder.display()
                    )
                },
            )?;
            if !grant.is_folder() && host_path.is_dir() {
                bail!(
                    "append grant `{}`: {} is a folder; write the grant as `{}/` to grant the files inside it",
                    grant.pattern,
                    host_path.display(),
                    grant.pattern
                );
            }
            entries.push(OpenGrant {
                pattern: grant.pattern.clone(),
                dir: Arc::new(dir),
            });
        }
        Ok(Grants { entries })
    }

    /// The grant covering `path` and the path inside that grant's folder.
    fn resolve<'a>(&self, path: &'a str) -> Option<(&OpenGrant, &'a str)> {
        self.entries.iter().find_map(|grant| {
            if let Some(folder) = grant.pattern.strip_suffix('/') {
                let inside = path.strip_prefix(folder)?.strip_prefix('/')?;
                (!inside.is_empty()).then_some((grant, inside))
            } else if path == grant.pattern {
                let name = path.rsplit('/').next().unwrap_or(path);
                Some((grant, name))
            } else {
                None
            }
        })
    }

    /// What a plugin may append to, for error messages.
    pub fn describe(&self) -> String {
        if self.entries.is_empty() {
            return "nothing (its config has no `append` grants)".into();
        }
        self.entries
            .iter()
            .map(|g| {
                if g.pattern.ends_with('/') {
                    format!("files inside `{}`", g.pattern)
                } else {
                    format!("`{}`", g.pattern)
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Append `data` to `path` if a grant covers it.
    pub async fn append(&self, plugin: &str, path: &str, data: Vec<u8>) -> Result<(), Error> {
        let shown = crate::capabilities::log::truncate(path, 200);
        if let Err(why) = check_relative_path(path) {
            return Err(Error::Denied(format!(
                "plugin `{plugin}` may not append to {shown:?}: the path {why}; it may append to {}",
                self.describe()
            )));
        }
        let Some((grant, inside)) = self.resolve(path) else {
            return Err(Error::Denied(format!(
                "plugin `{plugin}` may not append to `{shown}`: not granted; it may append to {}",
                self.describe()
            )));
        };
        let dir = grant.dir.clone();
        let inside = inside.to_string();
        let shown = shown.to_string();
        tokio::task::spawn_blocking(move || append_once(&dir, &inside, &data))
            .await
            .map_err(|e| Error::Io(format!("append to `{shown}` did not complete: {e}")))?
            .map_err(|e| Error::Io(format!("cannot append to `{shown}`: {e}")))
    }
}

/// Open `path` inside `dir` for appending (creating it, never following a
/// final symlink) and write `data` with one `write`.
fn append_once(dir: &Dir, path: &str, data: &[u8]) -> std::io::Result<()> {
    let mut options = OpenOptions::new();
    options.append(true).create(true);
    options.follow(FollowSymlinks::No);
    let mut file = dir.open_with(path, &options)?.into_std();
    if data.is_empty() {
        return Ok(());
    }
    let written = file.write(data)?;
    if written != data.len() {
        return Err(std::io::Error::other(format!(
            "short write: {written} of {} bytes (disk full?)",
            data.len()
        )));
    }
    Ok(())
}

impl Host for CallState {
    async fn append(&mut self, path: String, data: Vec<u8>) -> wasmtime::Result<Result<(), Error>> {
        let result = self
            .call
            .grants
            .append(&self.call.plugin, &path, data)
            .await;
        if let Err(error) = &result {
            tracing::warn!(target: "plugin", plugin = %self.call.plugin, "append refused: {error:?}");
        }
        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn grants(base: &Path, patterns: &[&str]) -> Grants {
        let grants: Vec<Grant> = patterns
            .iter()
            .map(|p| Grant {
                pattern: p.to_string(),
                base: base.to_path_buf(),
            })
            .collect();
        Grants::open(&grants).unwrap()
    }

    #[test]
    fn matches_files_exactly_and_folders_by_prefix() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join("logs")).unwrap();
        let g = grants(tmp.path(), &["a.txt", "logs/"]);
        assert!(g.resolve("a.txt").is_some());
        assert_eq!(g.resolve("logs/x.log").map(|(_, p)| p), Some("x.log"));
        for denied in ["b.txt", "a.txt.bak", "logs", "logs/", "logs2/x", "xlogs/x"] {
            assert!(g.resolve(denied).is_none(), "{denied}");
        }
    }

    #[tokio::test]
    async fn appends_create_and_accumulate() {
        let tmp = tempfile::tempdir().unwrap();
        let g = grants(tmp.path(), &["a.txt"]);
        g.append("p", "a.txt", b"one\n".to_vec()).await.unwrap();
        g.append("p", "a.txt", b"two\n".to_vec()).await.unwrap();
        assert_eq!(
            std::fs::read_to_string(tmp.path().join("a.txt")).unwrap(),
            "one\ntwo\n"
        );
    }

    #[tokio::test]
    async fn denial_names_the_path_and_the_grants() {
        let tmp = tempfile::tempdir().unwrap();
        let g = grants(tmp.path(), &["a.txt"]);
        let Err(Error::Denied(message)) = g.append("p", "b.txt", b"x".to_vec()).await else {
            panic!("expected a denial");
        };
        assert!(
            message.contains("`b.txt`") && message.contains("`a.txt`"),
            "{message}"
        );
        assert!(!tmp.path().join("b.txt").exists());
    }
}
