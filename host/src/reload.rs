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

use std::path::PathBuf;
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
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(runtime);
        self.generation.send_modify(|g| *g += 1);
        let peers: Vec<Peer<RoleServer>> = {
            let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
            sessions.retain(|peer| !peer.is_transport_closed());
            sessions.clone()
        };
        let runtime = self.current();
        let (prompts, resources) = (runtime.offers_prompts(), runtime.offers_resources());
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
    /// a new size, time or inode.
    pub fn watch(self: Arc<Self>) {
        tokio::spawn(async move {
            let mut files = self.watched_files();
            let mut seen = fingerprint(&files);
            let mut pending: Option<Vec<Fingerprint>> = None;
            let mut ticks = tokio::time::interval(WATCH_INTERVAL);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                let now = fingerprint(&files);
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
                let changed: Vec<String> = files
                    .iter()
                    .zip(seen.iter().zip(&now))
                    .filter(|(_, (a, b))| a != b)
                    .map(|(file, _)| file.display().to_string())
                    .collect();
                self.reload(&format!("changed: {}", changed.join(", ")))
                    .await;
                // A failed reload is not retried until the files change again.
                files = self.watched_files();
                seen = fingerprint(&files);
            }
        });
    }
}

/// What a file looks like from outside: size, modification time, inode.
type Fingerprint = Option<(u64, SystemTime, u64)>;

fn fingerprint(files: &[PathBuf]) -> Vec<Fingerprint> {
    use std::os::unix::fs::MetadataExt;
    files
        .iter()
        .map(|file| {
            let meta = std::fs::metadata(file).ok()?;
            Some((meta.len(), meta.modified().ok()?, meta.ino()))
        })
        .collect()
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
