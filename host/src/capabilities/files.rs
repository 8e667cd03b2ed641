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
//!
//! # Writing a replayable call's appends once
//!
//! A 2026-07-28 call may be run again from its start on another replica
//! (its replica died before answering), so its appends are staged and
//! written when it returns, once across all its runs ([`Appender::commit_once`]).
//! Each file's share is written with one `write`, and a [`CommitLog`]
//! (Redis, with replicas) keeps a record of the commit that says, per file,
//! its length and SHA-256 and how far its writing got: `waiting` (nothing
//! written), `writing` at offset N (recorded *before* the write, when the
//! file ended at N), `written` at offset N. The write itself happens only if
//! the file still ends at N (under the ledger lock, so no append of this
//! process comes between the check and the write); if it grew meanwhile,
//! the run records the new end and tries again.
//!
//! A run that finds a record begun and not finished (its writer died) reads
//! nothing for `waiting` and `written` files: the first are written, the
//! second not. For the one file that was `writing` it reads exactly that
//! file's length at offset N (in bounded chunks, on the blocking pool) and
//! compares its hash: the bytes are there, where that run's write would
//! have put them, or the file is written again. Nothing is searched for, so
//! another call appending the same line does not count as this call's.
//!
//! What a file's bytes cannot tell: whether a run that left a file
//! `writing` at N wrote there, if it did not (it died in the microseconds
//! between the record and the write, or after finding the file grown and
//! before recording its new end) and other calls then appended exactly the
//! same bytes at exactly N; those are then taken as this call's, which is
//! written once, not twice. And a write of another process landing between
//! the end check and the write (replicas sharing a folder) puts this run's
//! bytes past N; if the run dies before recording where, the replay writes
//! them again. A record left by an older version (`{"path": size}`) is read
//! as `writing` at that size, expecting this run's own bytes. A record that
//! cannot be read is refused: nothing is written, and the call says why.

use std::collections::HashMap;
use std::io::{Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, Weak};

use anyhow::{Context, Result, bail};
use cap_fs_ext::{FollowSymlinks, OpenOptionsFollowExt, OpenOptionsSyncExt};
use cap_std::fs::{Dir, OpenOptions};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use wasmtime::component::{HasSelf, Linker};

use super::log::LogBudget;
use crate::bindings::files::{Error, Host};
use crate::config::{Grant, check_relative_path};
use crate::shared::Commit;

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
        self.append_or_check(plugin, path, data, None, None)
            .map(|_| ())
    }

    /// [`Grants::append`], only if the file ends at `at` now: the once-only
    /// commit recorded that offset before writing (see the module doc).
    fn append_at(&self, plugin: &str, path: &str, data: &[u8], at: u64) -> Result<Landed, Error> {
        self.append_or_check(plugin, path, data, None, Some(at))
    }

    /// Everything [`Grants::append`] checks (grant, path, file, quota with
    /// `pending` bytes counted as already written), without writing.
    pub fn check(&self, plugin: &str, path: &str, data: &[u8], pending: u64) -> Result<(), Error> {
        self.append_or_check(plugin, path, data, Some(pending), None)
            .map(|_| ())
    }

    /// The size of granted file `path` now (0 when it does not exist yet):
    /// where what is appended next lands, at the earliest.
    pub fn size_now(&self, path: &str) -> u64 {
        self.read_granted(path)
            .and_then(|file| file.metadata().ok())
            .map_or(0, |meta| meta.len())
    }

    /// Whether the `len` bytes at offset `at` of granted file `path` have
    /// SHA-256 `digest`: whether a run that died mid-commit wrote its bytes
    /// where it recorded it would. Blocking reads, in bounded chunks; never
    /// more than `len`, and nothing when `len` is more than a grant's quota
    /// (no granted file can hold it).
    fn holds_at(&self, path: &str, at: u64, len: u64, digest: &[u8; 32]) -> bool {
        use std::io::Read;
        let most = self
            .entries
            .iter()
            .map(|g| g.quota_bytes)
            .max()
            .unwrap_or(0);
        if len > most {
            return false;
        }
        let Some(mut file) = self.read_granted(path) else {
            return false;
        };
        if file.seek(SeekFrom::Start(at)).is_err() {
            return false;
        }
        let mut hasher = Sha256::new();
        let mut chunk = vec![0; 64 * 1024];
        let mut left = len;
        while left > 0 {
            let want = usize::try_from(left).map_or(chunk.len(), |left| left.min(chunk.len()));
            match file.read(&mut chunk[..want]) {
                // The file ends before the bytes would.
                Ok(0) => return false,
                Ok(read) => {
                    hasher.update(&chunk[..read]);
                    left -= read as u64;
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return false,
            }
        }
        hasher.finalize().as_slice() == digest.as_slice()
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

    /// With `check_only`, stop before writing, counting its bytes as used;
    /// with `expect_at`, write only if the file ends there.
    fn append_or_check(
        &self,
        plugin: &str,
        path: &str,
        data: &[u8],
        check_only: Option<u64>,
        expect_at: Option<u64>,
    ) -> Result<Landed, Error> {
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
            expect_at,
        }
        .run(data)
    }
}

/// Where an append went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Landed {
    /// Written starting at this offset (when only checking or empty: where
    /// it would have been).
    At(u64),
    /// Not written: the file ends here, not where the caller expected.
    Moved(u64),
}

/// One resolved append.
struct Append<'a> {
    grant: &'a OpenGrant,
    inside: &'a str,
    shown: &'a str,
    file_path: PathBuf,
    /// Only check, counting these bytes as written before this append.
    check_only: Option<u64>,
    /// Write only if the file ends at this offset.
    expect_at: Option<u64>,
}

impl Append<'_> {
    fn run(&self, data: &[u8]) -> Result<Landed, Error> {
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
        // Checked under the ledger locks: no append of this process can
        // come between this and the write.
        if self.expect_at.is_some_and(|at| at != before) {
            return Ok(Landed::Moved(before));
        }
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
        if data.is_empty() || self.check_only.is_some() {
            return Ok(Landed::At(before));
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
        // Appending leaves the handle's offset at the end of what it wrote,
        // wherever another process's appends put it.
        let landed = file
            .stream_position()
            .map_or(before, |end| end.saturating_sub(data.len() as u64));
        Ok(Landed::At(landed))
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
    /// The files the appends go to.
    paths: std::collections::HashSet<String>,
    /// The most bytes one call may hold staged (its memory limit).
    pub max_bytes: u64,
}

/// The most files one call's held appends may go to: with replicas, each
/// file costs its commit an update of a record naming them all (see
/// [`Appender::commit_once`]).
pub const MAX_STAGED_FILES: usize = 64;

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
    /// Whether appends wait to be committed.
    pub fn has_staged(&self) -> bool {
        self.staged
            .as_ref()
            .is_some_and(|staged| !staged.appends.is_empty())
    }

    /// Write what the call staged, once across every run of the call that
    /// `log` keeps the commit record of (see the module doc): the first run
    /// to get here writes; a later one writes nothing if that run recorded
    /// that it wrote, and only what it did not write if it died part-way.
    pub async fn commit_once(&mut self, log: &dyn CommitLog) -> Result<(), String> {
        let blobs = self.take_blobs();
        if blobs.is_empty() {
            return Ok(());
        }
        let not_written =
            |why: String| format!("the call returned, but its appends were not written: {why}");
        let mut record = CommitRecord {
            files: blobs.iter().map(|b| b.record(Progress::Waiting)).collect(),
        };
        match log.begin(&record.encode()).await.map_err(not_written)? {
            Commit::First => {}
            Commit::Written => {
                tracing::info!(plugin = %self.plugin, "an earlier run of this call wrote its appends already; not writing them again");
                return Ok(());
            }
            Commit::Interrupted(left) => {
                let found = Found::decode(&left).map_err(|why| {
                    not_written(format!(
                        "an earlier run of this call began writing them and left a commit record that cannot be read ({why}); \
                         nothing was written rather than risk writing a record twice: check the granted files, and call the tool again"
                    ))
                })?;
                record = self.adopt(found, &blobs).await?;
                let missing = record.files.iter().filter(|f| !f.is_written()).count();
                tracing::info!(plugin = %self.plugin, missing, "finishing the commit of a run that died while committing");
            }
        }
        for (index, blob) in blobs.iter().enumerate() {
            if !record.files[index].is_written() {
                self.write_recorded(log, &mut record, index, blob).await?;
            }
        }
        log.written().await;
        Ok(())
    }

    /// The staged appends, taken: one [`Blob`] per file.
    fn take_blobs(&mut self) -> Vec<Blob> {
        let Some(staged) = self.staged.as_mut() else {
            return Vec::new();
        };
        staged.bytes = 0;
        staged.paths.clear();
        Blob::group(std::mem::take(&mut staged.appends))
    }

    /// This run's record, from what a run that died mid-commit left: its
    /// `written` files stay written, its `writing` file is written if its
    /// bytes are where it recorded, and everything else waits.
    async fn adopt(&self, found: Found, blobs: &[Blob]) -> Result<CommitRecord, String> {
        let mut left: HashMap<String, FileRecord> = match found {
            Found::Record(record) => record
                .files
                .into_iter()
                .map(|f| (f.path.clone(), f))
                .collect(),
            // An older version kept where each file ended, and wrote this
            // run's bytes there if it wrote them.
            Found::Sizes(sizes) => blobs
                .iter()
                .filter_map(|b| {
                    Some((
                        b.path.clone(),
                        b.record(Progress::Writing(*sizes.get(&b.path)?)),
                    ))
                })
                .collect(),
        };
        let mut files = Vec::with_capacity(blobs.len());
        for blob in blobs {
            let adopted = match left.remove(&blob.path) {
                Some(file) => self.resume(file, blob).await?,
                None => blob.record(Progress::Waiting),
            };
            files.push(adopted);
        }
        if !left.is_empty() {
            tracing::warn!(plugin = %self.plugin, files = left.len(), "a run that died while committing staged appends to files this run does not append to; they are not written");
        }
        Ok(CommitRecord { files })
    }

    /// What is left to do of `file`, which a dead run left in its record:
    /// nothing if it recorded it written or its bytes are where it recorded
    /// it was writing them; else this run writes its own `blob`.
    async fn resume(&self, file: FileRecord, blob: &Blob) -> Result<FileRecord, String> {
        let found_at = match file.progress {
            Progress::Written(_) => return Ok(file),
            Progress::Writing(at) => self.holds(&file, at).await?.then_some(at),
            Progress::Waiting => None,
        };
        Ok(match found_at {
            Some(at) => FileRecord {
                progress: Progress::Written(at),
                ..file
            },
            None => blob.record(Progress::Waiting),
        })
    }

    /// Whether `file`'s bytes are at offset `at` of its file, read on the
    /// blocking pool (up to a quota's worth of bytes).
    async fn holds(&self, file: &FileRecord, at: u64) -> Result<bool, String> {
        let grants = self.grants.clone();
        let (path, len, digest) = (file.path.clone(), file.len, file.digest);
        tokio::task::spawn_blocking(move || grants.holds_at(&path, at, len, &digest))
            .await
            .map_err(|e| {
                format!("the call returned, but its appends were not written: cannot check what an earlier run of it wrote: {e}")
            })
    }

    /// Record where `blob` goes, then write it there: recorded first, so a
    /// run that finds this one dead knows where to look. When the file
    /// grew in between (another call appended), nothing is written and the
    /// new end is recorded, at most [`MOVES`] times.
    async fn write_recorded(
        &self,
        log: &dyn CommitLog,
        record: &mut CommitRecord,
        index: usize,
        blob: &Blob,
    ) -> Result<(), String> {
        let files = record.files.len();
        let failed = |why: String| {
            format!(
                "plugin `{}` returned, but its appends to `{}` were not written ({index} of {files} files were): {why}",
                self.plugin,
                crate::logging::truncate(&blob.path, 200),
            )
        };
        let mut at = self.grants.size_now(&blob.path);
        for _ in 0..MOVES {
            record.files[index].progress = Progress::Writing(at);
            log.progress(&record.encode()).await.map_err(&failed)?;
            match self
                .grants
                .append_at(&self.plugin, &blob.path, &blob.data, at)
            {
                Ok(Landed::At(landed)) => {
                    record.files[index].progress = Progress::Written(landed);
                    return Ok(());
                }
                Ok(Landed::Moved(end)) => at = end,
                Err(error) => return Err(failed(format!("{error:?}"))),
            }
        }
        Err(failed(format!(
            "other calls kept appending to the file while this one recorded where its own appends go ({MOVES} tries); call the tool again"
        )))
    }

    /// Write what the call staged, in order. The first failure stops it
    /// and says what was written and what not.
    pub fn commit(&mut self) -> Result<(), String> {
        let Some(staged) = self.staged.as_mut() else {
            return Ok(());
        };
        let appends = std::mem::take(&mut staged.appends);
        staged.bytes = 0;
        staged.paths.clear();
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

/// How often a run records where a file's appends go and finds the file
/// grown by then (see [`Appender::commit_once`]) before it gives up.
const MOVES: usize = 16;

/// Where a call's commit record is kept, so that whichever of its runs
/// returns writes its appends once: Redis ([`crate::shared::CommitOnce`]),
/// or memory in tests. Records are opaque text to it.
#[async_trait::async_trait]
pub trait CommitLog: Send + Sync {
    /// Keep `record` as begun, unless a run of the call began a commit
    /// already: then say what that run left.
    async fn begin(&self, record: &str) -> Result<Commit, String>;
    /// Replace the begun record with `record`: how far this run got.
    async fn progress(&self, record: &str) -> Result<(), String>;
    /// Record that every append is written.
    async fn written(&self);
}

/// All a call staged for one file, in order: written with one `write`.
struct Blob {
    path: String,
    data: Vec<u8>,
    digest: [u8; 32],
}

impl Blob {
    /// One blob per file, in the order each was first appended to; files
    /// with nothing but empty appends are left out (they create nothing).
    fn group(appends: Vec<(String, Vec<u8>)>) -> Vec<Blob> {
        let mut order: HashMap<String, usize> = HashMap::new();
        let mut grouped: Vec<(String, Vec<u8>)> = Vec::new();
        for (path, data) in appends {
            if data.is_empty() {
                continue;
            }
            match order.get(&path) {
                Some(&index) => grouped[index].1.extend_from_slice(&data),
                None => {
                    order.insert(path.clone(), grouped.len());
                    grouped.push((path, data));
                }
            }
        }
        grouped
            .into_iter()
            .map(|(path, data)| Blob {
                digest: sha256(&data),
                path,
                data,
            })
            .collect()
    }

    /// This blob's entry in a commit record.
    fn record(&self, progress: Progress) -> FileRecord {
        FileRecord {
            path: self.path.clone(),
            len: self.data.len() as u64,
            digest: self.digest,
            progress,
        }
    }
}

/// What a commit record keeps of a file's bytes, to know them again.
fn sha256(data: &[u8]) -> [u8; 32] {
    let mut digest = [0; 32];
    digest.copy_from_slice(&Sha256::digest(data));
    digest
}

/// A commit record: what one run of a call writes, and how far it got.
/// Kept as JSON (see [`WireRecord`]) by a [`CommitLog`].
#[derive(Clone, Debug, PartialEq, Eq)]
struct CommitRecord {
    files: Vec<FileRecord>,
}

/// One file's share of a commit.
#[derive(Clone, Debug, PartialEq, Eq)]
struct FileRecord {
    path: String,
    len: u64,
    /// The SHA-256 of its bytes.
    digest: [u8; 32],
    progress: Progress,
}

impl FileRecord {
    /// Whether nothing is left to write of it.
    fn is_written(&self) -> bool {
        matches!(self.progress, Progress::Written(_))
    }
}

/// How far writing one file's share got.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Progress {
    /// Not begun: none of it is in the file.
    Waiting,
    /// Begun when the file ended at this offset: written there, or not at all.
    Writing(u64),
    /// Written at this offset.
    Written(u64),
}

/// The version of [`WireRecord`] this host writes and reads.
const RECORD_VERSION: u32 = 2;

/// A [`CommitRecord`] as JSON: `{"v":2,"files":[{"path":…,"len":…,
/// "sha256":"<hex>","progress":"waiting"|{"writing":N}|{"written":N}}]}`.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireRecord {
    v: u32,
    files: Vec<WireFile>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireFile {
    path: String,
    len: u64,
    sha256: String,
    progress: Progress,
}

impl CommitRecord {
    /// The record as its [`CommitLog`] keeps it (after `pending `).
    fn encode(&self) -> String {
        let wire = WireRecord {
            v: RECORD_VERSION,
            files: self
                .files
                .iter()
                .map(|f| WireFile {
                    path: f.path.clone(),
                    len: f.len,
                    sha256: to_hex(&f.digest),
                    progress: f.progress,
                })
                .collect(),
        };
        serde_json::to_string(&wire).expect("a commit record is plain JSON")
    }
}

/// What a run that died mid-commit left in the record, read from the store
/// (outside input: checked, never trusted to be well formed).
#[derive(Debug, PartialEq, Eq)]
enum Found {
    Record(CommitRecord),
    /// An older version's record: where each file ended before it wrote.
    Sizes(HashMap<String, u64>),
}

impl Found {
    /// Read what follows `pending ` in a commit record; an error says what
    /// is wrong with it.
    fn decode(text: &str) -> Result<Found, String> {
        let wire = match serde_json::from_str::<WireRecord>(text) {
            Ok(wire) => wire,
            Err(error) => {
                return serde_json::from_str::<HashMap<String, u64>>(text)
                    .map(Found::Sizes)
                    .map_err(|_| format!("not a commit record: {error}"));
            }
        };
        if wire.v != RECORD_VERSION {
            return Err(format!(
                "a commit record of version {} (this host reads version {RECORD_VERSION}); finish the call on a replica of the version that began it",
                wire.v
            ));
        }
        let mut seen = std::collections::HashSet::new();
        let mut files = Vec::with_capacity(wire.files.len());
        for file in wire.files {
            let shown = crate::logging::truncate(&file.path, 200);
            let Some(digest) = from_hex(&file.sha256) else {
                return Err(format!(
                    "the SHA-256 of `{shown}` is not 64 lowercase hex digits"
                ));
            };
            if !seen.insert(file.path.clone()) {
                return Err(format!("the record names `{shown}` twice"));
            }
            files.push(FileRecord {
                path: file.path,
                len: file.len,
                digest,
                progress: file.progress,
            });
        }
        Ok(Found::Record(CommitRecord { files }))
    }
}

/// A digest as a commit record keeps it: lowercase hex.
fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// 64 lowercase hex digits as 32 bytes.
fn from_hex(text: &str) -> Option<[u8; 32]> {
    let digits = text.as_bytes();
    if digits.len() != 64 {
        return None;
    }
    let value = |digit: u8| match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        _ => None,
    };
    let mut bytes = [0; 32];
    for (byte, pair) in bytes.iter_mut().zip(digits.chunks_exact(2)) {
        *byte = (value(pair[0])? << 4) | value(pair[1])?;
    }
    Some(bytes)
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
            } else if !staged.paths.contains(&path) && staged.paths.len() >= MAX_STAGED_FILES {
                Err(Error::QuotaExceeded(format!(
                    "this call's appends are held until it returns, and they may go to at most {MAX_STAGED_FILES} files; append to one of those"
                )))
            } else {
                // Checked as if written after what is already staged.
                self.grants
                    .check(&self.plugin, &path, &data, staged.bytes)
                    .map(|()| {
                        staged.bytes += bytes;
                        staged.paths.insert(path.clone());
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
    use proptest::strategy::Strategy;
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

    /// A commit record kept in memory (as Redis keeps it), whose run dies
    /// at a chosen update, and between whose updates other calls append.
    #[derive(Default)]
    struct MemoryLog {
        kept: Mutex<Option<String>>,
        /// What each update was: `begin`, `progress` or `written`.
        updates: Mutex<Vec<&'static str>>,
        /// The update (0 = begin) at which the run dies, and whether the
        /// store kept that update before the run died.
        dies_at: Mutex<Option<(usize, bool)>>,
        /// Other calls' appends, each made right after the update it names.
        others: Mutex<Vec<(usize, PathBuf, Vec<u8>)>>,
        /// Every other call's append: file, offset, bytes.
        appended: Mutex<Vec<(PathBuf, u64, Vec<u8>)>>,
    }

    impl MemoryLog {
        fn dying_at(update: usize, kept: bool) -> Self {
            let log = MemoryLog::default();
            *lock(&log.dies_at) = Some((update, kept));
            log
        }

        fn holding(value: &str) -> Self {
            let log = MemoryLog::default();
            *lock(&log.kept) = Some(value.to_string());
            log
        }

        fn kept(&self) -> Option<String> {
            lock(&self.kept).clone()
        }

        /// The next run does not die.
        fn revive(&self) {
            *lock(&self.dies_at) = None;
        }

        /// Another call appends `data` to `file`.
        fn other_appends(&self, file: &Path, data: &[u8]) {
            let mut opened = std::fs::OpenOptions::new()
                .append(true)
                .create(true)
                .open(file)
                .unwrap();
            let at = opened.metadata().unwrap().len();
            opened.write_all(data).unwrap();
            lock(&self.appended).push((file.to_path_buf(), at, data.to_vec()));
        }

        /// One update of kind `what`: `keep` applied unless the run dies
        /// before the store keeps it; then the other calls' appends due.
        fn update(
            &self,
            what: &'static str,
            keep: impl FnOnce(&mut Option<String>),
        ) -> Result<(), String> {
            let step = {
                let mut updates = lock(&self.updates);
                updates.push(what);
                updates.len() - 1
            };
            let dies = (*lock(&self.dies_at)).filter(|(at, _)| *at == step);
            if dies == Some((step, false)) {
                return Err("died before the store kept it".into());
            }
            keep(&mut lock(&self.kept));
            if dies.is_some() {
                return Err("died once the store kept it".into());
            }
            let due: Vec<_> = lock(&self.others)
                .iter()
                .filter(|(after, _, _)| *after == step)
                .map(|(_, file, data)| (file.clone(), data.clone()))
                .collect();
            for (file, data) in due {
                self.other_appends(&file, &data);
            }
            Ok(())
        }
    }

    #[async_trait::async_trait]
    impl CommitLog for MemoryLog {
        async fn begin(&self, record: &str) -> Result<Commit, String> {
            let mut found = None;
            self.update("begin", |kept| {
                found = kept.clone();
                if kept.is_none() {
                    *kept = Some(format!("pending {record}"));
                }
            })?;
            Ok(match found {
                None => Commit::First,
                Some(found) if found == "written" => Commit::Written,
                Some(found) => Commit::Interrupted(match found.strip_prefix("pending ") {
                    Some(record) => record.to_string(),
                    None => found,
                }),
            })
        }

        async fn progress(&self, record: &str) -> Result<(), String> {
            self.update("progress", |kept| *kept = Some(format!("pending {record}")))
        }

        async fn written(&self) {
            let _ = self.update("written", |kept| *kept = Some("written".into()));
        }
    }

    /// A call's appender holding `appends` staged.
    fn staged(grants: &Arc<Grants>, appends: &[(&str, &[u8])]) -> Appender {
        let mut staged = Staged::new(1 << 20);
        for (path, data) in appends {
            staged.appends.push((path.to_string(), data.to_vec()));
            staged.bytes += data.len() as u64;
        }
        Appender {
            plugin: "p".into(),
            grants: grants.clone(),
            append_bytes: 1 << 20,
            log_budget: LogBudget::new(10, 1000),
            staged: Some(staged),
        }
    }

    fn shared_grants(base: &Path) -> Arc<Grants> {
        Arc::new(grants_with_quota(base, &["a.txt", "b.txt"], 1 << 20))
    }

    #[tokio::test]
    async fn a_replay_writes_what_a_dead_run_began_though_another_call_appended_the_same() {
        let tmp = tempfile::tempdir().unwrap();
        let grants = shared_grants(tmp.path());
        let file = tmp.path().join("a.txt");
        // The run records that it begins, and dies before writing.
        let log = MemoryLog::dying_at(0, true);
        let died = staged(&grants, &[("a.txt", b"same\n")])
            .commit_once(&log)
            .await;
        assert!(died.is_err(), "{died:?}");
        assert!(!file.exists(), "the run died before writing");
        // Another call appends exactly the same line.
        grants.append("other", "a.txt", b"same\n").unwrap();
        log.revive();
        staged(&grants, &[("a.txt", b"same\n")])
            .commit_once(&log)
            .await
            .unwrap();
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "same\nsame\n");
        assert_eq!(log.kept().as_deref(), Some("written"));
    }

    #[tokio::test]
    async fn a_replay_finds_what_the_dead_run_wrote_where_it_recorded_it() {
        let tmp = tempfile::tempdir().unwrap();
        let grants = shared_grants(tmp.path());
        let appends: &[(&str, &[u8])] = &[
            ("a.txt", b"one\n"),
            ("b.txt", b"two\n"),
            ("a.txt", b"three\n"),
        ];
        // Updates: 0 begins, 1 marks a.txt writing (then it is written),
        // 2 would mark it written and b.txt writing: the run dies before.
        let log = MemoryLog::dying_at(2, false);
        assert!(staged(&grants, appends).commit_once(&log).await.is_err());
        // Other calls append the same bytes to both files.
        log.other_appends(&tmp.path().join("a.txt"), b"one\nthree\n");
        log.other_appends(&tmp.path().join("b.txt"), b"two\n");
        log.revive();
        staged(&grants, appends).commit_once(&log).await.unwrap();
        let read = |name: &str| std::fs::read_to_string(tmp.path().join(name)).unwrap();
        assert_eq!(
            read("a.txt"),
            "one\nthree\none\nthree\n",
            "a.txt was written once by the call"
        );
        assert_eq!(
            read("b.txt"),
            "two\ntwo\n",
            "b.txt was not written by the dead run"
        );
    }

    #[tokio::test]
    async fn a_commit_record_that_cannot_be_read_writes_nothing_and_says_why() {
        let tmp = tempfile::tempdir().unwrap();
        let grants = shared_grants(tmp.path());
        let file = tmp.path().join("a.txt");
        std::fs::write(&file, "same\n").unwrap();
        let bad_digest = r#"pending {"v":2,"files":[{"path":"a.txt","len":5,"sha256":"XYZ","progress":"waiting"}]}"#;
        let newer = r#"pending {"v":3,"files":[]}"#;
        for left in [
            "pending garbage",
            "pending ",
            bad_digest,
            newer,
            "half-written",
        ] {
            let log = MemoryLog::holding(left);
            let refused = staged(&grants, &[("a.txt", b"same\n")])
                .commit_once(&log)
                .await;
            let Err(why) = refused else {
                panic!("{left}: {refused:?}");
            };
            assert!(why.contains("cannot be read"), "{left}: {why}");
            assert_eq!(std::fs::read_to_string(&file).unwrap(), "same\n", "{left}");
            assert_eq!(
                log.kept().as_deref(),
                Some(left),
                "the record is left as found"
            );
        }
    }

    #[tokio::test]
    async fn an_older_versions_record_is_checked_where_it_says_the_file_ended() {
        let tmp = tempfile::tempdir().unwrap();
        let grants = shared_grants(tmp.path());
        let file = tmp.path().join("a.txt");
        // It wrote after the 8 bytes there before it.
        std::fs::write(&file, "earlier\nrecord\n").unwrap();
        let log = MemoryLog::holding(r#"pending {"a.txt":8}"#);
        staged(&grants, &[("a.txt", b"record\n")])
            .commit_once(&log)
            .await
            .unwrap();
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "earlier\nrecord\n");
        // It did not write; the same bytes elsewhere are not its.
        std::fs::write(&file, "record\nearlier\n").unwrap();
        let log = MemoryLog::holding(r#"pending {"a.txt":15}"#);
        staged(&grants, &[("a.txt", b"record\n")])
            .commit_once(&log)
            .await
            .unwrap();
        assert_eq!(
            std::fs::read_to_string(&file).unwrap(),
            "record\nearlier\nrecord\n"
        );
        assert_eq!(log.kept().as_deref(), Some("written"));
    }

    #[tokio::test]
    async fn a_file_grown_after_its_offset_was_recorded_is_recorded_again() {
        let tmp = tempfile::tempdir().unwrap();
        let grants = shared_grants(tmp.path());
        let file = tmp.path().join("a.txt");
        let log = MemoryLog::default();
        // Another call appends right after update 1 recorded where the
        // call's line goes (offset 0).
        lock(&log.others).push((1, file.clone(), b"other\n".to_vec()));
        staged(&grants, &[("a.txt", b"mine\n")])
            .commit_once(&log)
            .await
            .unwrap();
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "other\nmine\n");
        assert_eq!(
            *lock(&log.updates),
            ["begin", "progress", "progress", "written"]
        );
    }

    #[tokio::test]
    async fn held_appends_go_to_at_most_max_staged_files() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join("logs")).unwrap();
        let grants = Arc::new(grants_with_quota(tmp.path(), &["logs/"], 1 << 20));
        let mut appender = staged(&grants, &[]);
        for n in 0..MAX_STAGED_FILES {
            let held = Host::append(&mut appender, format!("logs/{n}.log"), b"x".to_vec()).await;
            assert!(matches!(held, Ok(Ok(()))), "{n}: {held:?}");
        }
        let refused = Host::append(&mut appender, "logs/more.log".into(), b"x".to_vec()).await;
        assert!(
            matches!(&refused, Ok(Err(Error::QuotaExceeded(why))) if why.contains("at most 64 files")),
            "{refused:?}"
        );
        let again = Host::append(&mut appender, "logs/0.log".into(), b"y".to_vec()).await;
        assert!(matches!(again, Ok(Ok(()))), "{again:?}");
    }

    #[test]
    fn a_check_never_reads_more_than_a_quota() {
        let tmp = tempfile::tempdir().unwrap();
        let grants = grants_with_quota(tmp.path(), &["a.txt"], 10);
        std::fs::write(tmp.path().join("a.txt"), "0123456789").unwrap();
        let digest = sha256(b"0123456789");
        assert!(grants.holds_at("a.txt", 0, 10, &digest));
        assert!(!grants.holds_at("a.txt", 1, 10, &digest), "past the end");
        assert!(
            !grants.holds_at("a.txt", 0, u64::MAX, &digest),
            "more than the quota"
        );
        assert!(!grants.holds_at("b.txt", 0, 10, &digest), "not granted");
    }

    /// Lines the call and other calls append: few, so that other calls
    /// often append exactly what the call does.
    const LINES: [&[u8]; 3] = [b"x\n", b"y\n", b"x\ny\n"];
    const FILES: [&str; 2] = ["a.txt", "b.txt"];

    /// What a file holds once the other calls' appends (at the offsets they
    /// landed at) are taken out.
    fn without_others(log: &MemoryLog, file: &Path) -> Vec<u8> {
        let content = std::fs::read(file).unwrap_or_default();
        let mut others: Vec<(u64, Vec<u8>)> = lock(&log.appended)
            .iter()
            .filter(|(path, _, _)| path == file)
            .map(|(_, at, data)| (*at, data.clone()))
            .collect();
        others.sort();
        let mut left = Vec::new();
        let mut from = 0;
        for (at, data) in others {
            let at = at as usize;
            assert_eq!(
                &content[at..at + data.len()],
                &data[..],
                "an other call's append was overwritten"
            );
            left.extend_from_slice(&content[from..at]);
            from = at + data.len();
        }
        left.extend_from_slice(&content[from..]);
        left
    }

    /// A run that dies at update `dies_at` (if it gets that far), other
    /// calls appending between its updates and after it died, then a
    /// replay. Returns the log and the temporary folder.
    fn crash_and_replay(
        appends: &[(usize, usize)],
        others: &[(usize, usize, usize)],
        after_death: &[(usize, usize)],
        dies_at: (usize, bool),
    ) -> (
        MemoryLog,
        tempfile::TempDir,
        Option<String>,
        Result<(), String>,
    ) {
        let tmp = tempfile::tempdir().unwrap();
        let grants = shared_grants(tmp.path());
        let appends: Vec<(&str, &[u8])> =
            appends.iter().map(|&(f, l)| (FILES[f], LINES[l])).collect();
        let log = MemoryLog::dying_at(dies_at.0, dies_at.1);
        for &(after, f, l) in others {
            lock(&log.others).push((after, tmp.path().join(FILES[f]), LINES[l].to_vec()));
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let replayed = runtime.block_on(async {
            let _ = staged(&grants, &appends).commit_once(&log).await;
            let at_death = log.kept();
            for &(f, l) in after_death {
                log.other_appends(&tmp.path().join(FILES[f]), LINES[l]);
            }
            log.revive();
            let replayed = staged(&grants, &appends).commit_once(&log).await;
            (at_death, replayed)
        });
        (log, tmp, replayed.0, replayed.1)
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// Invariant: whatever other calls append (often the same lines)
        /// and wherever the first run dies, once a replay returns each file
        /// holds, besides the other calls' appends, the call's appends to
        /// it exactly once. The one exception (see the module doc): the
        /// run left a file `writing` at N without having written there, and
        /// other calls appended exactly its bytes at N; then the file holds
        /// them once, from those calls, and never twice.
        #[test]
        fn a_replay_writes_each_append_exactly_once(
            appends in proptest::collection::vec((0..FILES.len(), 0..LINES.len()), 1..6),
            others in proptest::collection::vec((0usize..8, 0..FILES.len(), 0..LINES.len()), 0..6),
            after_death in proptest::collection::vec((0..FILES.len(), 0..LINES.len()), 0..4),
            dies_at in (0usize..7, proptest::bool::ANY),
        ) {
            let (log, tmp, at_death, replayed) = crash_and_replay(&appends, &others, &after_death, dies_at);
            proptest::prop_assert!(replayed.is_ok(), "{:?}", replayed);
            let updates = lock(&log.updates).clone();
            // The files the dead run left `writing`, and where.
            let writing: Vec<(String, u64)> = at_death
                .as_deref()
                .and_then(|kept| kept.strip_prefix("pending "))
                .and_then(|record| match Found::decode(record) {
                    Ok(Found::Record(record)) => Some(record.files),
                    _ => None,
                })
                .unwrap_or_default()
                .into_iter()
                .filter_map(|f| match f.progress {
                    Progress::Writing(at) => Some((f.path, at)),
                    _ => None,
                })
                .collect();
            for (index, name) in FILES.iter().enumerate() {
                let mine: Vec<u8> = appends
                    .iter()
                    .filter(|(f, _)| *f == index)
                    .flat_map(|&(_, l)| LINES[l].iter().copied())
                    .collect();
                let left = without_others(&log, &tmp.path().join(name));
                let content = std::fs::read(tmp.path().join(name)).unwrap_or_default();
                let at_risk = writing.iter().any(|(path, at)| {
                    let at = *at as usize;
                    path.as_str() == *name && content.get(at..at + mine.len()) == Some(&mine[..])
                });
                if at_risk {
                    proptest::prop_assert!(left.is_empty() || left == mine, "{name}: {left:?}");
                } else {
                    proptest::prop_assert_eq!(&left, &mine, "{}: updates {:?}", name, updates);
                }
            }
        }

        /// Invariant: a commit record reads back as written, and any text
        /// (here: a record cut short, or with one character changed) is either
        /// refused with a reason or read as a record that itself reads back
        /// the same; reading never panics.
        #[test]
        fn commit_records_read_back_and_damaged_ones_never_panic(
            files in proptest::collection::vec((
                proptest::collection::vec(proptest::char::any(), 0..12),
                proptest::num::u64::ANY,
                proptest::array::uniform32(proptest::num::u8::ANY),
                proptest::prop_oneof![
                    proptest::strategy::Just(Progress::Waiting),
                    proptest::num::u64::ANY.prop_map(Progress::Writing),
                    proptest::num::u64::ANY.prop_map(Progress::Written),
                ],
            ), 0..4),
            cut in proptest::num::usize::ANY,
            put in proptest::option::of(proptest::char::any()),
        ) {
            let mut seen = std::collections::HashSet::new();
            let record = CommitRecord {
                files: files
                    .into_iter()
                    .map(|(path, len, digest, progress)| FileRecord {
                        path: path.into_iter().collect(),
                        len,
                        digest,
                        progress,
                    })
                    .filter(|f| seen.insert(f.path.clone()))
                    .collect(),
            };
            let text = record.encode();
            proptest::prop_assert_eq!(Found::decode(&text), Ok(Found::Record(record)));
            let mut damaged: String = text.chars().take(cut % (text.chars().count() + 1)).collect();
            if let Some(put) = put {
                damaged.push(put);
                damaged.extend(text.chars().skip(damaged.chars().count()));
            }
            if let Ok(Found::Record(read)) = Found::decode(&damaged) {
                proptest::prop_assert_eq!(Found::decode(&read.encode()), Ok(Found::Record(read)));
            }
        }
    }
}
