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
use std::path::Path;
use std::sync::{Arc, Mutex};

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
    /// Serialises appends to this grant, so the quota check and the write
    /// are one step. For a folder it also holds the bytes its files take
    /// (measured at load, then counted); a file's size is read on each append.
    usage: Arc<Mutex<u64>>,
    quota_bytes: u64,
}

impl Grants {
    /// Open the folder of every grant; a missing folder is a config error.
    /// Each grant may grow to `quota_bytes`.
    pub fn open(grants: &[Grant], quota_bytes: u64) -> Result<Grants> {
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
            let used = if grant.is_folder() {
                folder_size(&host_path)
            } else {
                0
            };
            entries.push(OpenGrant {
                pattern: grant.pattern.clone(),
                dir: Arc::new(dir),
                usage: Arc::new(Mutex::new(used)),
                quota_bytes,
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

    /// Append `data` to `path` if a grant covers it and its quota allows.
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
        let target = AppendTarget {
            dir: grant.dir.clone(),
            inside: inside.to_string(),
            shown: shown.to_string(),
            is_folder: grant.pattern.ends_with('/'),
            usage: grant.usage.clone(),
            quota_bytes: grant.quota_bytes,
        };
        // A local append takes microseconds; handing it to the blocking pool
        // cost ~100 µs a call. `block_in_place` lets tokio move this worker's
        // other tasks elsewhere while the write runs.
        tokio::task::block_in_place(move || target.append(&data))
    }
}

/// One resolved append, ready to run on a blocking thread.
struct AppendTarget {
    dir: Arc<Dir>,
    inside: String,
    shown: String,
    is_folder: bool,
    usage: Arc<Mutex<u64>>,
    quota_bytes: u64,
}

impl AppendTarget {
    /// Open the file inside the grant's folder for appending (creating it,
    /// never following a final symlink), check the quota, and write `data`
    /// with one `write`.
    /// cap-std refuses paths that leave the grant's folder, and a final
    /// symlink is never followed (ELOOP): both are denials, not I/O errors.
    fn open_error(&self, e: std::io::Error) -> Error {
        const ELOOP: i32 = 40;
        if e.kind() == std::io::ErrorKind::PermissionDenied || e.raw_os_error() == Some(ELOOP) {
            Error::Denied(format!(
                "`{}` leads outside its grant (through a symlink) or is not writable: {e}",
                self.shown
            ))
        } else {
            Error::Io(format!("cannot append to `{}`: {e}", self.shown))
        }
    }

    fn append(&self, data: &[u8]) -> Result<(), Error> {
        let io_error =
            |e: std::io::Error| Error::Io(format!("cannot append to `{}`: {e}", self.shown));
        let mut usage = self.usage.lock().unwrap_or_else(|e| e.into_inner());
        let mut options = OpenOptions::new();
        options.append(true).create(true);
        options.follow(FollowSymlinks::No);
        let mut file = self
            .dir
            .open_with(&self.inside, &options)
            .map_err(|e| self.open_error(e))?
            .into_std();
        let before = if self.is_folder {
            *usage
        } else {
            file.metadata().map_err(io_error)?.len()
        };
        if before.saturating_add(data.len() as u64) > self.quota_bytes {
            return Err(Error::QuotaExceeded(format!(
                "appending {} bytes to `{}` would pass its grant's quota of {} bytes (`limits.quota_mib`); it holds {before}",
                data.len(),
                self.shown,
                self.quota_bytes
            )));
        }
        if data.is_empty() {
            return Ok(());
        }
        let written = file.write(data).map_err(io_error)?;
        if self.is_folder {
            *usage += written as u64;
        }
        if written != data.len() {
            return Err(Error::Io(format!(
                "short write to `{}`: {written} of {} bytes (disk full?)",
                self.shown,
                data.len()
            )));
        }
        Ok(())
    }
}

/// Bytes held by the regular files below `folder` (symlinks not followed).
fn folder_size(folder: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| match entry.file_type() {
            Ok(kind) if kind.is_dir() => folder_size(&entry.path()),
            Ok(kind) if kind.is_file() => entry.metadata().map(|m| m.len()).unwrap_or(0),
            _ => 0,
        })
        .sum()
}

impl Host for CallState {
    async fn append(&mut self, path: String, data: Vec<u8>) -> wasmtime::Result<Result<(), Error>> {
        let limit = self.call.limits.append_bytes;
        let result = if data.len() > limit {
            Err(Error::QuotaExceeded(format!(
                "one append may carry at most {limit} bytes (`limits.append_bytes`); this one has {}",
                data.len()
            )))
        } else {
            self.call
                .grants
                .append(&self.call.plugin, &path, data)
                .await
        };
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
        Grants::open(&grants, 10).unwrap()
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

    #[tokio::test(flavor = "multi_thread")]
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

    #[tokio::test(flavor = "multi_thread")]
    async fn quotas_hold_for_files_and_folders() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join("logs")).unwrap();
        std::fs::write(tmp.path().join("logs/old.log"), b"1234").unwrap();
        let g = grants(tmp.path(), &["a.txt", "logs/"]);
        g.append("p", "a.txt", b"0123456789".to_vec())
            .await
            .unwrap();
        let over = g.append("p", "a.txt", b"x".to_vec()).await;
        assert!(matches!(over, Err(Error::QuotaExceeded(_))), "{over:?}");
        // The folder already holds 4 bytes.
        g.append("p", "logs/new.log", b"123456".to_vec())
            .await
            .unwrap();
        let over = g.append("p", "logs/other.log", b"x".to_vec()).await;
        assert!(matches!(over, Err(Error::QuotaExceeded(_))), "{over:?}");
        assert_eq!(std::fs::read(tmp.path().join("a.txt")).unwrap().len(), 10);
    }

    #[tokio::test(flavor = "multi_thread")]
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
