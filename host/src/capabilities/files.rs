//! `files.append`: the only way a plugin writes to disk.
//!
//! A plugin names a relative path; it is matched against the plugin's grants
//! (exact files, or folders written with a trailing `/`), then opened through
//! cap-std inside the granted folder's handle, which was opened at load. So
//! `..`, absolute paths and symlinks cannot reach outside the grant, and the
//! final component is never followed if it is a symlink.
//!
//! Whoever can write into a granted folder may plant things there, so the
//! opened handle, not the path, is checked: only a regular file with exactly
//! one link is written (a hard link to a file outside is refused), and the
//! open is non-blocking, so a FIFO or device cannot stall the call. No step
//! of an append can block, which keeps it within the call's wall clock.
//!
//! Quotas are kept in one [`Ledger`] per granted path for the whole process,
//! shared by every plugin granted that path. The quota is checked before
//! anything is created, and a record is written whole or not at all. Files
//! cost inodes as well as bytes, so a folder grant also limits how many files
//! it may hold (`limits.max_files`).

use std::collections::HashMap;
use std::io::{Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, Weak};

use anyhow::{Context, Result, bail};
use cap_fs_ext::{FollowSymlinks, OpenOptionsFollowExt, OpenOptionsSyncExt};
use cap_std::fs::{Dir, OpenOptions};

use wasmtime::component::{HasSelf, Linker};

use super::log::LogBudget;
use crate::bindings::files::{Error, Host};
use crate::config::{Grant, check_relative_path};

/// A plugin's grants, with their folders opened.
pub struct Grants {
    entries: Vec<OpenGrant>,
}

struct OpenGrant {
    pattern: String,
    /// The granted folder, or the folder holding the granted file.
    dir: Arc<Dir>,
    /// The grant's path on the host, symlinks in its folders resolved.
    host_path: PathBuf,
    ledger: Arc<Ledger>,
    quota_bytes: u64,
    /// For a folder grant, how many files the folder may hold.
    max_files: u64,
}

/// What a granted path holds. One per path per process: two plugins (or two
/// `tool_prefix` copies of one) granted the same folder share its quota.
/// Its lock serialises this process's appends under the path, so the quota
/// check and the write are one step.
struct Ledger {
    path: PathBuf,
    is_folder: bool,
    /// For a folder, what its files hold (measured when first granted, then
    /// counted). A file's size is read from the file on each append.
    used: Mutex<Usage>,
}

/// What the files below a granted folder hold.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Usage {
    bytes: u64,
    files: u64,
}

/// Every ledger in this process, by path.
static LEDGERS: LazyLock<Mutex<HashMap<PathBuf, Weak<Ledger>>>> = LazyLock::new(Mutex::default);

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Ledger {
    /// The ledger of `path`, shared with every other grant of it.
    fn of(path: &Path, is_folder: bool) -> Arc<Ledger> {
        let mut ledgers = lock(&LEDGERS);
        if let Some(ledger) = ledgers.get(path).and_then(Weak::upgrade) {
            return ledger;
        }
        ledgers.retain(|_, ledger| ledger.strong_count() > 0);
        let used = if is_folder {
            folder_usage(path)
        } else {
            Usage::default()
        };
        let ledger = Arc::new(Ledger {
            path: path.to_path_buf(),
            is_folder,
            used: Mutex::new(used),
        });
        ledgers.insert(path.to_path_buf(), Arc::downgrade(&ledger));
        ledger
    }

    /// `own` and every folder ledger holding `file` (a nested or enclosing
    /// grant of another plugin), in path order: the order they are locked in.
    fn covering(own: &Arc<Ledger>, file: &Path) -> Vec<Arc<Ledger>> {
        let mut covering: Vec<Arc<Ledger>> = lock(&LEDGERS)
            .values()
            .filter_map(Weak::upgrade)
            .filter(|l| l.is_folder && !Arc::ptr_eq(l, own) && file.starts_with(&l.path))
            .collect();
        covering.push(own.clone());
        covering.sort_by(|a, b| a.path.cmp(&b.path));
        covering
    }
}

impl Grants {
    /// Open the folder of every grant; a missing folder is a config error.
    /// Each grant may grow to `quota_bytes`, and a folder to `max_files` files.
    pub fn open(grants: &[Grant], quota_bytes: u64, max_files: u64) -> Result<Grants> {
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
            let cannot_open = || {
                format!(
                    "append grant `{}`: cannot open folder {}: create it, or fix the grant",
                    grant.pattern,
                    folder.display()
                )
            };
            let dir = Dir::open_ambient_dir(&folder, cap_std::ambient_authority())
                .with_context(cannot_open)?;
            if !grant.is_folder() && host_path.is_dir() {
                bail!(
                    "append grant `{}`: {} is a folder; write the grant as `{}/` to grant the files inside it",
                    grant.pattern,
                    host_path.display(),
                    grant.pattern
                );
            }
            let folder = std::fs::canonicalize(&folder).with_context(cannot_open)?;
            let host_path = match host_path.file_name() {
                Some(name) if !grant.is_folder() => folder.join(name),
                _ => folder,
            };
            entries.push(OpenGrant {
                pattern: grant.pattern.clone(),
                dir: Arc::new(dir),
                ledger: Ledger::of(&host_path, grant.is_folder()),
                host_path,
                quota_bytes,
                max_files,
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
    /// Every step is non-blocking, so it runs in place: a local append takes
    /// microseconds, and handing it to the blocking pool cost ~100 µs a call.
    pub fn append(&self, plugin: &str, path: &str, data: &[u8]) -> Result<(), Error> {
        self.append_or_check(plugin, path, data, None)
    }

    /// Everything [`Grants::append`] checks (grant, path, file, quota with
    /// `pending` bytes counted as already written), without writing.
    pub fn check(&self, plugin: &str, path: &str, data: &[u8], pending: u64) -> Result<(), Error> {
        self.append_or_check(plugin, path, data, Some(pending))
    }

    /// The size of granted file `path` now (0 when it does not exist yet):
    /// where what is appended next lands, at the earliest.
    pub fn size_now(&self, path: &str) -> u64 {
        self.read_granted(path)
            .and_then(|file| file.metadata().ok())
            .map_or(0, |meta| meta.len())
    }

    /// Where `data` ends in granted file `path`, if it is there at or after
    /// offset `from`: to tell whether a run that died mid-commit wrote it.
    pub fn find_after(&self, path: &str, from: u64, data: &[u8]) -> Option<u64> {
        use std::io::Read;
        let mut file = self.read_granted(path)?;
        file.seek(SeekFrom::Start(from)).ok()?;
        let mut tail = Vec::new();
        // A grant's file is at most its quota; read no more than that.
        let most = self
            .entries
            .iter()
            .map(|g| g.quota_bytes)
            .max()
            .unwrap_or(0);
        file.take(most).read_to_end(&mut tail).ok()?;
        tail.windows(data.len().max(1))
            .position(|window| window == data)
            .map(|at| from + (at + data.len()) as u64)
    }

    /// Granted file `path`, opened to read (never through a symlink).
    fn read_granted(&self, path: &str) -> Option<std::fs::File> {
        check_relative_path(path).ok()?;
        let (grant, inside) = self.resolve(path)?;
        let mut options = OpenOptions::new();
        options.read(true).follow(FollowSymlinks::No).nonblock(true);
        let file = grant.dir.open_with(inside, &options).ok()?.into_std();
        file.metadata().ok()?.is_file().then_some(file)
    }

    /// With `check_only`, stop before writing, counting its bytes as used.
    fn append_or_check(
        &self,
        plugin: &str,
        path: &str,
        data: &[u8],
        check_only: Option<u64>,
    ) -> Result<(), Error> {
        let shown = crate::logging::truncate(path, 200);
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
        let file_path = if grant.ledger.is_folder {
            grant.host_path.join(inside)
        } else {
            grant.host_path.clone()
        };
        Append {
            grant,
            inside,
            shown,
            file_path,
            check_only,
        }
        .run(data)
    }
}

/// One resolved append.
struct Append<'a> {
    grant: &'a OpenGrant,
    inside: &'a str,
    shown: &'a str,
    file_path: PathBuf,
    /// Only check, counting these bytes as written before this append.
    check_only: Option<u64>,
}

impl Append<'_> {
    fn run(&self, data: &[u8]) -> Result<(), Error> {
        let ledgers = Ledger::covering(&self.grant.ledger, &self.file_path);
        let mut held: Vec<MutexGuard<'_, Usage>> = ledgers.iter().map(|l| lock(&l.used)).collect();
        let own = ledgers
            .iter()
            .position(|l| Arc::ptr_eq(l, &self.grant.ledger))
            .expect("the grant's own ledger is always covering");
        let existing = match self.open(false) {
            Ok(file) => Some(file),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(self.open_error(e)),
        };
        let before = match &existing {
            Some(file) => self.check_regular(file)?,
            None => 0,
        };
        let used = if self.grant.ledger.is_folder {
            held[own].bytes
        } else {
            before
        }
        .saturating_add(self.check_only.unwrap_or(0));
        if used.saturating_add(data.len() as u64) > self.grant.quota_bytes {
            return Err(Error::QuotaExceeded(format!(
                "appending {} bytes to `{}` would pass its grant's quota of {} bytes (`limits.quota_mib`); it holds {used}",
                data.len(),
                self.shown,
                self.grant.quota_bytes
            )));
        }
        // An empty append creates nothing: files cost inodes as well as bytes.
        if data.is_empty() {
            return Ok(());
        }
        if self.check_only.is_some() {
            return Ok(());
        }
        let creates = existing.is_none();
        if creates && self.grant.ledger.is_folder && held[own].files >= self.grant.max_files {
            return Err(Error::QuotaExceeded(format!(
                "creating `{}` would pass its grant's limit of {} files (`limits.max_files`); append to an existing file instead",
                self.shown, self.grant.max_files
            )));
        }
        let mut file = match existing {
            Some(file) => file,
            None => {
                // Created by someone else since we looked: append to it.
                let file = self
                    .open(true)
                    .or_else(|e| match e.kind() {
                        std::io::ErrorKind::AlreadyExists => self.open(false),
                        _ => Err(e),
                    })
                    .map_err(|e| self.open_error(e))?;
                self.check_regular(&file)?;
                file
            }
        };
        self.write_whole(&mut file, data)?;
        for (ledger, used) in ledgers.iter().zip(held.iter_mut()) {
            if ledger.is_folder {
                used.bytes += data.len() as u64;
                used.files += u64::from(creates);
            }
        }
        Ok(())
    }

    /// Open for appending: never through a final symlink, never blocking
    /// (a FIFO without a reader fails at once), creating only if `create`.
    fn open(&self, create: bool) -> std::io::Result<std::fs::File> {
        let mut options = OpenOptions::new();
        options.append(true).create_new(create);
        options.follow(FollowSymlinks::No).nonblock(true);
        Ok(self.grant.dir.open_with(self.inside, &options)?.into_std())
    }

    /// The opened file's size, if it is a regular file with one link.
    fn check_regular(&self, file: &std::fs::File) -> Result<u64, Error> {
        let meta = file
            .metadata()
            .map_err(|e| Error::Io(format!("cannot append to `{}`: {e}", self.shown)))?;
        if !meta.is_file() {
            return Err(Error::Denied(format!(
                "`{}` is not a regular file (a FIFO, socket or device); plugins append only to regular files",
                self.shown
            )));
        }
        if meta.nlink() != 1 {
            return Err(Error::Denied(format!(
                "`{}` has {} hard links, so it may be a file outside the grant; plugins append only to files with one link",
                self.shown,
                meta.nlink()
            )));
        }
        Ok(meta.len())
    }

    /// cap-std refuses paths that leave the grant's folder, and a final
    /// symlink is never followed (`ELOOP`): both are denials, as is a FIFO
    /// or socket no one reads (`ENXIO`); other failures are I/O errors.
    fn open_error(&self, e: std::io::Error) -> Error {
        use rustix::io::Errno;
        let code = e.raw_os_error();
        if e.kind() == std::io::ErrorKind::PermissionDenied
            || code == Some(Errno::LOOP.raw_os_error())
        {
            Error::Denied(format!(
                "`{}` leads outside its grant (through a symlink) or is not writable: {e}",
                self.shown
            ))
        } else if code == Some(Errno::NXIO.raw_os_error()) {
            Error::Denied(format!(
                "`{}` is not a regular file (a FIFO or socket); plugins append only to regular files",
                self.shown
            ))
        } else {
            Error::Io(format!("cannot append to `{}`: {e}", self.shown))
        }
    }

    /// Write all of `data`, or, if the disk (or a file size limit) stops it
    /// part-way, cut the file back to where the record began.
    fn write_whole(&self, file: &mut std::fs::File, data: &[u8]) -> Result<(), Error> {
        let mut written = 0;
        let failure = loop {
            match file.write(&data[written..]) {
                Ok(0) => break std::io::Error::from(std::io::ErrorKind::WriteZero),
                Ok(n) => {
                    written += n;
                    if written == data.len() {
                        return Ok(());
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => break e,
            }
        };
        let rolled_back = written == 0 || self.roll_back(file, written as u64);
        Err(Error::Io(format!(
            "cannot append to `{}`: {failure} after {written} of {} bytes; {}",
            self.shown,
            data.len(),
            if rolled_back {
                "nothing of this record was kept"
            } else {
                "the partial record could not be removed"
            }
        )))
    }

    /// Remove the last `written` bytes if they are still the file's end
    /// (another process may have appended since).
    fn roll_back(&self, file: &mut std::fs::File, written: u64) -> bool {
        let Ok(end) = file.stream_position() else {
            return false;
        };
        let still_last = file.metadata().is_ok_and(|m| m.len() == end);
        still_last && file.set_len(end - written).is_ok() && file.seek(SeekFrom::End(0)).is_ok()
    }
}

/// What the regular files below `folder` hold (symlinks not followed).
fn folder_usage(folder: &Path) -> Usage {
    let mut usage = Usage::default();
    let Ok(entries) = std::fs::read_dir(folder) else {
        return usage;
    };
    for entry in entries.flatten() {
        match entry.file_type() {
            Ok(kind) if kind.is_dir() => {
                let below = folder_usage(&entry.path());
                usage.bytes += below.bytes;
                usage.files += below.files;
            }
            Ok(kind) if kind.is_file() => {
                usage.bytes += entry.metadata().map(|m| m.len()).unwrap_or(0);
                usage.files += 1;
            }
            _ => {}
        }
    }
    usage
}

/// One call's appends: the plugin's grants and the call's limits.
pub struct Appender {
    pub plugin: Arc<str>,
    pub grants: Arc<Grants>,
    /// `limits.append_bytes`.
    pub append_bytes: usize,
    /// Refusals are logged within the call's log budget.
    pub log_budget: LogBudget,
    /// Appends checked now and written when the plugin returns (see
    /// [`Appender::commit`]), or `None`: written at once.
    pub staged: Option<Staged>,
}

/// A call's appends, held until it returns: a 2026-07-28 call may be
/// replayed from its start on another replica, and only the run that
/// finishes may write, once. A call that traps, hits a limit, is cancelled
/// or expires writes nothing.
#[derive(Default)]
pub struct Staged {
    appends: Vec<(String, Vec<u8>)>,
    bytes: u64,
    /// The most bytes one call may hold staged (its memory limit).
    pub max_bytes: u64,
}

impl Staged {
    /// Nothing staged yet; at most `max_bytes` may be.
    pub fn new(max_bytes: u64) -> Self {
        Staged {
            max_bytes,
            ..Staged::default()
        }
    }
}

impl Appender {
    /// Write what the call staged, in order. The first failure stops it
    /// and says what was written and what not.
    /// Whether appends wait to be committed.
    pub fn has_staged(&self) -> bool {
        self.staged
            .as_ref()
            .is_some_and(|staged| !staged.appends.is_empty())
    }

    /// Drop the staged appends unwritten: another run of the call wrote them.
    pub fn discard_staged(&mut self) {
        if let Some(staged) = self.staged.as_mut() {
            staged.appends.clear();
            staged.bytes = 0;
        }
    }

    /// The size now of each file the staged appends go to.
    pub fn staged_file_sizes(&self) -> HashMap<String, u64> {
        let Some(staged) = &self.staged else {
            return HashMap::new();
        };
        staged
            .appends
            .iter()
            .map(|(path, _)| (path.clone(), self.grants.size_now(path)))
            .collect()
    }

    /// Commit what an earlier run of this call, which died while committing,
    /// did not write: each staged append is looked for in its file after
    /// where that file ended when that run began (`sizes`), in order, and
    /// written only when it is not there.
    pub fn commit_missing(&mut self, mut sizes: HashMap<String, u64>) -> Result<(), String> {
        let Some(staged) = self.staged.as_mut() else {
            return Ok(());
        };
        let appends = std::mem::take(&mut staged.appends);
        let mut missing = Vec::new();
        for (path, data) in appends {
            let from = sizes.get(&path).copied().unwrap_or(0);
            match self.grants.find_after(&path, from, &data) {
                Some(end) => {
                    sizes.insert(path, end);
                }
                None => missing.push((path, data)),
            }
        }
        tracing::info!(plugin = %self.plugin, missing = missing.len(), "finishing the commit of a run that died while committing");
        if let Some(staged) = self.staged.as_mut() {
            staged.appends = missing;
        }
        self.commit()
    }

    pub fn commit(&mut self) -> Result<(), String> {
        let Some(staged) = self.staged.as_mut() else {
            return Ok(());
        };
        let appends = std::mem::take(&mut staged.appends);
        staged.bytes = 0;
        let count = appends.len();
        for (done, (path, data)) in appends.into_iter().enumerate() {
            if let Err(error) = self.grants.append(&self.plugin, &path, &data) {
                return Err(format!(
                    "plugin `{}` returned, but its appends could not all be written: {done} of {count} were, then {error:?}",
                    self.plugin
                ));
            }
        }
        Ok(())
    }
}

/// Serve `files` to components, each call's [`Appender`] found by `get`.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> &mut Appender,
) -> wasmtime::Result<()> {
    crate::bindings::files::add_to_linker::<T, HasSelf<Appender>>(linker, get)
}

impl Host for Appender {
    async fn append(&mut self, path: String, data: Vec<u8>) -> wasmtime::Result<Result<(), Error>> {
        let limit = self.append_bytes;
        let result = if data.len() > limit {
            Err(Error::QuotaExceeded(format!(
                "one append may carry at most {limit} bytes (`limits.append_bytes`); this one has {}",
                data.len()
            )))
        } else if let Some(staged) = self.staged.as_mut() {
            let bytes = data.len() as u64;
            if staged.bytes.saturating_add(bytes) > staged.max_bytes {
                Err(Error::QuotaExceeded(format!(
                    "this call's appends are held until it returns, and they would pass {} bytes (its `limits.memory_mib`)",
                    staged.max_bytes
                )))
            } else {
                // Checked as if written after what is already staged.
                self.grants
                    .check(&self.plugin, &path, &data, staged.bytes)
                    .map(|()| {
                        staged.bytes += bytes;
                        staged.appends.push((path, data));
                    })
            }
        } else {
            self.grants.append(&self.plugin, &path, &data)
        };
        if let Err(error) = &result {
            let line = format!("append refused: {error:?}");
            if self.log_budget.admit(&self.plugin, line.len()) {
                tracing::warn!(target: "plugin", plugin = %self.plugin, "{line}");
            }
        }
        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::OpenOptionsExt;
    use std::path::Path;

    fn grants_with_quota(base: &Path, patterns: &[&str], quota: u64) -> Grants {
        let grants: Vec<Grant> = patterns
            .iter()
            .map(|p| Grant {
                pattern: p.to_string(),
                base: base.to_path_buf(),
            })
            .collect();
        Grants::open(&grants, quota, 3).unwrap()
    }

    fn grants(base: &Path, patterns: &[&str]) -> Grants {
        grants_with_quota(base, patterns, 10)
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

    #[test]
    fn appends_create_and_accumulate() {
        let tmp = tempfile::tempdir().unwrap();
        let g = grants(tmp.path(), &["a.txt"]);
        g.append("p", "a.txt", b"one\n").unwrap();
        g.append("p", "a.txt", b"two\n").unwrap();
        assert_eq!(
            std::fs::read_to_string(tmp.path().join("a.txt")).unwrap(),
            "one\ntwo\n"
        );
    }

    #[test]
    fn quotas_hold_for_files_and_folders() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join("logs")).unwrap();
        std::fs::write(tmp.path().join("logs/old.log"), b"1234").unwrap();
        let g = grants(tmp.path(), &["a.txt", "logs/"]);
        g.append("p", "a.txt", b"0123456789").unwrap();
        let over = g.append("p", "a.txt", b"x");
        assert!(matches!(over, Err(Error::QuotaExceeded(_))), "{over:?}");
        // The folder already holds 4 bytes.
        g.append("p", "logs/new.log", b"123456").unwrap();
        let over = g.append("p", "logs/other.log", b"x");
        assert!(matches!(over, Err(Error::QuotaExceeded(_))), "{over:?}");
        assert!(
            !tmp.path().join("logs/other.log").exists(),
            "a refused append creates nothing"
        );
        assert_eq!(std::fs::read(tmp.path().join("a.txt")).unwrap().len(), 10);
    }

    #[test]
    fn a_folder_holds_at_most_max_files() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join("logs")).unwrap();
        std::fs::write(tmp.path().join("logs/old.log"), b"1").unwrap();
        // Three files at most, one there already.
        let g = grants_with_quota(tmp.path(), &["logs/"], 1 << 20);
        g.append("p", "logs/a.log", b"a").unwrap();
        g.append("p", "logs/b.log", b"b").unwrap();
        let over = g.append("p", "logs/c.log", b"c");
        assert!(
            matches!(&over, Err(Error::QuotaExceeded(why)) if why.contains("`limits.max_files`")),
            "{over:?}"
        );
        assert!(!tmp.path().join("logs/c.log").exists());
        g.append("p", "logs/a.log", b"more").unwrap();
    }

    #[test]
    fn empty_appends_create_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join("logs")).unwrap();
        let g = grants(tmp.path(), &["logs/"]);
        g.append("p", "logs/empty.log", b"").unwrap();
        assert!(!tmp.path().join("logs/empty.log").exists());
    }

    #[test]
    fn grants_of_one_folder_share_one_quota() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("logs/sub")).unwrap();
        let first = grants(tmp.path(), &["logs/"]);
        let second = grants(tmp.path(), &["logs/"]);
        let nested = grants(tmp.path(), &["logs/sub/"]);
        assert!(
            Arc::ptr_eq(&first.entries[0].ledger, &second.entries[0].ledger),
            "one ledger per granted path"
        );
        first.append("a", "logs/a.log", b"12345").unwrap();
        second.append("b", "logs/b.log", b"1234").unwrap();
        // 9 of 10 bytes are used, whoever wrote them; a nested grant's
        // appends count for the enclosing folder too.
        nested.append("c", "logs/sub/c.log", b"1").unwrap();
        let over = second.append("b", "logs/b.log", b"x");
        assert!(matches!(over, Err(Error::QuotaExceeded(_))), "{over:?}");
    }

    #[test]
    fn hard_links_fifos_and_symlinks_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let outside = tmp.path().join("outside.txt");
        std::fs::write(&outside, "secret").unwrap();
        std::fs::create_dir(tmp.path().join("logs")).unwrap();
        std::fs::hard_link(&outside, tmp.path().join("logs/linked")).unwrap();
        std::os::unix::fs::symlink(&outside, tmp.path().join("logs/symlinked")).unwrap();
        let fifo = tmp.path().join("logs/fifo");
        rustix::fs::mkfifoat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
        )
        .unwrap();
        let g = grants_with_quota(tmp.path(), &["logs/"], 1 << 20);
        for path in ["logs/linked", "logs/symlinked", "logs/fifo"] {
            let refused = g.append("p", path, b"pwned");
            assert!(
                matches!(refused, Err(Error::Denied(_))),
                "{path}: {refused:?}"
            );
        }
        // With a reader the FIFO opens; its handle is then refused.
        let _reader = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
            .open(&fifo)
            .unwrap();
        let refused = g.append("p", "logs/fifo", b"pwned");
        assert!(matches!(refused, Err(Error::Denied(_))), "{refused:?}");
        assert_eq!(std::fs::read_to_string(&outside).unwrap(), "secret");
    }

    #[test]
    fn denial_names_the_path_and_the_grants() {
        let tmp = tempfile::tempdir().unwrap();
        let g = grants(tmp.path(), &["a.txt"]);
        let Err(Error::Denied(message)) = g.append("p", "b.txt", b"x") else {
            panic!("expected a denial");
        };
        assert!(
            message.contains("`b.txt`") && message.contains("`a.txt`"),
            "{message}"
        );
        assert!(!tmp.path().join("b.txt").exists());
    }
}
