//! Serving a new build of the plugins without a restart.
//!
//! The [`Catalog`] holds the plugins being served. A reload (on `SIGHUP`,
//! or with `serve --watch` when a component file or the config changes)
//! reads the config again and loads every plugin off the serving path; only
//! when all of them load does it swap the catalog, atomically. A call takes
//! the catalog once, when it starts, so calls already running (and parked)
//! finish on the version they started on. A config or component that fails
//! to load leaves the old version serving, and the log says why. After a
//! swap, connected clients are told `notifications/tools/list_changed`
//! (and prompts/resources): legacy sessions directly, 2026-07-28 clients on
//! their `subscriptions/listen` stream.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use anyhow::Result;
use rmcp::Peer;
use rmcp::service::RoleServer;
use tokio::sync::watch;

use crate::config::{ComponentSource, Config};
use crate::runtime::{Runtime, RuntimeOptions};

/// How often `--watch` looks at the files, and how long a change must hold
/// still before it is loaded (a build writes its output in several steps).
const WATCH_INTERVAL: Duration = Duration::from_millis(250);

/// The plugins being served, and who to tell when they change.
pub struct Catalog {
    current: RwLock<Arc<Runtime>>,
    /// Bumped on each swap; 2026-07-28 listeners wait on it.
    generation: watch::Sender<u64>,
    /// Legacy sessions, told directly (closed ones are dropped as found).
    sessions: Mutex<Vec<Peer<RoleServer>>>,
}

impl Catalog {
    pub fn new(runtime: Arc<Runtime>) -> Arc<Catalog> {
        Arc::new(Catalog {
            current: RwLock::new(runtime),
            generation: watch::channel(0).0,
            sessions: Mutex::new(Vec::new()),
        })
    }

    /// The plugins as of now; a call keeps this version until it ends.
    pub fn current(&self) -> Arc<Runtime> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Serve `runtime` from now on, and tell every client.
    pub fn swap(&self, runtime: Runtime) {
        // A list that appears or disappears in the swap changed too.
        let prompts = runtime.offers_prompts();
        let resources = runtime.offers_resources();
        let previous = std::mem::replace(
            &mut *self.current.write().unwrap_or_else(|e| e.into_inner()),
            Arc::new(runtime),
        );
        let prompts = prompts || previous.offers_prompts();
        let resources = resources || previous.offers_resources();
        drop(previous);
        self.generation.send_modify(|g| *g += 1);
        let peers: Vec<Peer<RoleServer>> = {
            let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
            sessions.retain(|peer| !peer.is_transport_closed());
            sessions.clone()
        };
        // Each in its own task: a client that does not read cannot hold up
        // the others' notifications.
        for peer in peers {
            tokio::spawn(async move {
                let _ = peer.notify_tool_list_changed().await;
                if prompts {
                    let _ = peer.notify_prompt_list_changed().await;
                }
                if resources {
                    let _ = peer.notify_resource_list_changed().await;
                }
            });
        }
    }

    /// A legacy session to tell about changes.
    pub fn add_session(&self, peer: Peer<RoleServer>) {
        let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        sessions.retain(|peer| !peer.is_transport_closed());
        sessions.push(peer);
    }

    /// Changes from now on (for a `subscriptions/listen` stream).
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.generation.subscribe()
    }
}

/// Where a reload gets its config and how it builds the plugins.
pub struct Reloader {
    pub catalog: Arc<Catalog>,
    /// The config file; `None` serves the embedded default, which never changes.
    pub config_path: Option<PathBuf>,
    /// What the command line adds to a freshly read config (`--llm`, `--audit-file`).
    pub prepare: Box<dyn Fn(Config) -> Result<Config> + Send + Sync>,
    pub options: RuntimeOptions,
    /// One reload at a time.
    busy: tokio::sync::Mutex<()>,
}

impl Reloader {
    pub fn new(
        catalog: Arc<Catalog>,
        config_path: Option<PathBuf>,
        prepare: Box<dyn Fn(Config) -> Result<Config> + Send + Sync>,
        options: RuntimeOptions,
    ) -> Arc<Reloader> {
        Arc::new(Reloader {
            catalog,
            config_path,
            prepare,
            options,
            busy: tokio::sync::Mutex::new(()),
        })
    }

    /// Read the config and load every plugin; swap only if all load.
    /// `why` says what asked for it, for the log.
    pub async fn reload(&self, why: &str) -> bool {
        let _one = self.busy.lock().await;
        tracing::info!(why, "reloading the plugins");
        match self.load().await {
            Ok(runtime) => {
                let tools = runtime.tools().count();
                let plugins = runtime.plugins().len();
                self.catalog.swap(runtime);
                tracing::info!(
                    why,
                    plugins,
                    tools,
                    "reloaded: new calls use the new plugins; running calls finish on the old ones"
                );
                true
            }
            Err(error) => {
                tracing::warn!(
                    why,
                    "reload failed, still serving the previous plugins: {error:#}"
                );
                false
            }
        }
    }

    /// Compiling takes from milliseconds to seconds, and the server runs
    /// every task on one thread: so the new plugins are compiled and listed
    /// on a thread (and event loop) of their own, and only the finished
    /// catalog comes back.
    async fn load(&self) -> Result<Runtime> {
        let config = match &self.config_path {
            Some(path) => Config::load(path)?,
            None => crate::embedded::default_config()?,
        };
        let config = (self.prepare)(config)?;
        let options = self.options.clone();
        let previous = self.catalog.current();
        tokio::task::spawn_blocking(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?
                .block_on(Runtime::load_after(&config, &options, Some(&previous)))
        })
        .await?
    }

    /// The files whose change means a reload: the config and every
    /// component it names.
    fn watched_files(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = self.config_path.iter().cloned().collect();
        let config = self
            .config_path
            .as_ref()
            .and_then(|path| Config::load(path).ok());
        for plugin in config.iter().flat_map(|c| &c.plugins) {
            if let ComponentSource::File(path) = &plugin.component {
                files.push(path.clone());
            }
        }
        files
    }

    /// Reload whenever a watched file changes and then holds still for one
    /// interval. Polling, not inotify: a build that replaces the file, an
    /// editor that renames over it, or a network filesystem all show up as
    /// a new size, time, inode or content.
    ///
    /// What the reload is compared against next is the look taken *before*
    /// it: a file rewritten while the reload compiles differs from it, and
    /// is loaded by the next reload instead of becoming the baseline unseen.
    pub fn watch(self: Arc<Self>) {
        tokio::spawn(async move {
            let mut files = self.watched_files();
            let mut seen = look(files.clone(), Vec::new()).await;
            let mut pending: Option<Snapshot> = None;
            let mut ticks = tokio::time::interval(WATCH_INTERVAL);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                let now = look(files.clone(), seen.clone()).await;
                if now == seen {
                    pending = None;
                    continue;
                }
                if pending.as_ref() != Some(&now) {
                    // Changed since the last look: wait for it to settle.
                    pending = Some(now);
                    continue;
                }
                pending = None;
                let why = format!("changed: {}", changed_files(&seen, &now).join(", "));
                // A failed reload is not retried until the files change again.
                seen = now;
                self.reload(&why).await;
                // The config may name other components now; those new to the
                // watch are looked at as they are after the reload.
                let listed = self.watched_files();
                if listed != files {
                    files = listed;
                    let mut after = look(files.clone(), seen.clone()).await;
                    for (file, print) in &mut after {
                        if let Some((_, before)) = seen.iter().find(|(known, _)| *known == *file) {
                            *print = before.clone();
                        }
                    }
                    seen = after;
                }
            }
        });
    }
}

/// How long after its last modification a file's content is hashed at
/// every look, rather than trusted to its size and times: a rewrite of the
/// same size within a file system's timestamp granularity changes nothing
/// else (as git's "racily clean" index entries).
const RACY: Duration = Duration::from_secs(3);

/// What a file looks like: its size, modification and change times (in
/// nanoseconds), inode and device, and the SHA-256 of its content.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Fingerprint {
    stat: (u64, i64, i64, i64, i64, u64, u64),
    digest: [u8; 32],
}

/// Each watched file and its fingerprint (`None`: missing or unreadable).
type Snapshot = Vec<(PathBuf, Option<Fingerprint>)>;

/// The watched files whose fingerprints differ between two looks.
fn changed_files(before: &Snapshot, after: &Snapshot) -> Vec<String> {
    after
        .iter()
        .filter(|(file, print)| !before.iter().any(|(f, p)| f == file && p == print))
        .map(|(file, _)| file.display().to_string())
        .collect()
}

/// [`snapshot`] on a blocking thread: hashing a large component must not
/// hold up the thread that serves calls.
async fn look(files: Vec<PathBuf>, previous: Snapshot) -> Snapshot {
    let fallback = files.clone();
    tokio::task::spawn_blocking(move || snapshot(&files, &previous, SystemTime::now()))
        .await
        .unwrap_or_else(|_| fallback.into_iter().map(|file| (file, None)).collect())
}

/// Fingerprint each of `files`. A file whose size, times and inode are as
/// in `previous`, last modified more than [`RACY`] before `now`, keeps its
/// previous digest unread; any other is read and hashed.
fn snapshot(files: &[PathBuf], previous: &Snapshot, now: SystemTime) -> Snapshot {
    files
        .iter()
        .map(|file| {
            let before = previous
                .iter()
                .find(|(known, _)| known == file)
                .and_then(|(_, print)| print.as_ref());
            (file.clone(), fingerprint(file, before, now))
        })
        .collect()
}

/// One file's fingerprint, reusing `before`'s digest when nothing but the
/// content could have changed and the file is no longer racy.
fn fingerprint(file: &Path, before: Option<&Fingerprint>, now: SystemTime) -> Option<Fingerprint> {
    use sha2::Digest as _;
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(file).ok()?;
    let stat = (
        meta.len(),
        meta.mtime(),
        meta.mtime_nsec(),
        meta.ctime(),
        meta.ctime_nsec(),
        meta.ino(),
        meta.dev(),
    );
    let settled = meta
        .modified()
        .ok()
        .and_then(|modified| now.duration_since(modified).ok())
        .is_some_and(|age| age > RACY);
    if let Some(before) = before.filter(|b| b.stat == stat && settled) {
        return Some(before.clone());
    }
    let content = std::fs::read(file).ok()?;
    Some(Fingerprint {
        stat,
        digest: sha2::Sha256::digest(&content).into(),
    })
}

/// Reload on every `SIGHUP`, for as long as the process runs.
pub fn reload_on_sighup(reloader: Arc<Reloader>) -> Result<()> {
    let mut hangups = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
    tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            reloader.reload("SIGHUP").await;
        }
    });
    Ok(())
}
