//! On-disk compile cache.
//!
//! Compiling a component with Cranelift takes tens to hundreds of
//! milliseconds; loading a precompiled artifact takes well under one. An
//! entry is keyed by the SHA-256 of the component and the engine's
//! compatibility hash (wasmtime version, target, settings), so a changed
//! component or a different engine simply misses. Loading precompiled code
//! is `unsafe` in wasmtime (it trusts the bytes), so each entry carries the
//! SHA-256 of its artifact, checked before deserializing: a corrupt, foreign
//! or truncated entry is discarded and rebuilt, never loaded blindly. Entries
//! are written to a temporary file and renamed into place, in a folder only
//! this user can write.
//!
//! A checksum does not stop someone who can write the folder: they can plant
//! an entry with a matching checksum, and it would run as native code. So a
//! folder (or an entry) that is not owned by this user, or that others may
//! write, is refused, with a warning saying why; plugins are then compiled
//! without the cache.

use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Entry layout: magic, SHA-256 of the artifact, artifact.
const MAGIC: &[u8; 8] = b"wmcpc001";

/// Where compiled components are kept.
#[derive(Clone, Debug)]
pub struct CompileCache {
    dir: PathBuf,
}

/// How a component was obtained, for logs and benchmarks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    Compiled,
    Cached,
}

impl CompileCache {
    pub fn new(dir: PathBuf) -> Self {
        CompileCache { dir }
    }

    /// `$WASM_MCP_CACHE_DIR`, else `$XDG_CACHE_HOME/wasm-mcp`, else `~/.cache/wasm-mcp`.
    pub fn default_dir() -> Option<PathBuf> {
        if let Some(dir) = std::env::var_os("WASM_MCP_CACHE_DIR") {
            return Some(PathBuf::from(dir));
        }
        let base = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))?;
        Some(base.join("wasm-mcp"))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The component for `bytes`, from the cache when a valid entry exists,
    /// else compiled and stored.
    pub fn load(&self, engine: &Engine, bytes: &[u8]) -> Result<(Component, Origin)> {
        if let Err(why) = self.check_folder() {
            tracing::warn!("not using the compile cache: {why:#}");
            return Ok((Component::new(engine, bytes)?, Origin::Compiled));
        }
        let entry = self.entry_path(engine, bytes);
        if let Some(component) = self.read(engine, &entry) {
            return Ok((component, Origin::Cached));
        }
        let component = Component::new(engine, bytes)?;
        if let Err(error) = self.write(&entry, &component) {
            tracing::warn!(cache = %self.dir.display(), "cannot store a compiled component: {error:#}");
        }
        Ok((component, Origin::Compiled))
    }

    fn entry_path(&self, engine: &Engine, bytes: &[u8]) -> PathBuf {
        let mut key = Sha256::new();
        key.update(Sha256::digest(bytes));
        engine
            .precompile_compatibility_hash()
            .hash(&mut DigestHasher(&mut key));
        self.dir.join(format!("{}.cwasm", hex(&key.finalize())))
    }

    /// Create the folder if needed, and refuse it unless it is a folder
    /// (not a symlink) of this user's that no one else may write.
    fn check_folder(&self) -> Result<()> {
        create_private_dir(&self.dir)?;
        let meta = std::fs::symlink_metadata(&self.dir)
            .with_context(|| format!("cannot inspect {}", self.dir.display()))?;
        anyhow::ensure!(
            meta.is_dir(),
            "{} is not a folder (a symlink?)",
            self.dir.display()
        );
        check_private(&meta).with_context(|| {
            format!(
                "{} must be a folder only you can write: `chmod 700` it, or pick another with --cache-dir",
                self.dir.display()
            )
        })
    }

    /// A verified entry, or `None` (after removing an invalid one).
    fn read(&self, engine: &Engine, path: &Path) -> Option<Component> {
        use std::io::Read;
        let mut file = std::fs::File::open(path).ok()?;
        let meta = file.metadata().ok()?;
        if let Err(why) = check_private(&meta).and_then(|()| {
            anyhow::ensure!(meta.is_file(), "not a regular file");
            Ok(())
        }) {
            tracing::warn!(entry = %path.display(), "ignoring a compile cache entry: {why:#}");
            return None;
        }
        let mut data = Vec::with_capacity(meta.len() as usize);
        file.read_to_end(&mut data).ok()?;
        let valid = data.len() > MAGIC.len() + 32
            && &data[..MAGIC.len()] == MAGIC
            && data[MAGIC.len()..MAGIC.len() + 32] == Sha256::digest(&data[MAGIC.len() + 32..])[..];
        if valid {
            let artifact = &data[MAGIC.len() + 32..];
            // SAFETY: the artifact is byte-for-byte what `Component::serialize`
            // produced for this engine configuration: the checksum above
            // rules out corruption, and the key includes the engine's
            // compatibility hash; wasmtime checks that header again.
            match unsafe { Component::deserialize(engine, artifact) } {
                Ok(component) => return Some(component),
                Err(error) => {
                    tracing::warn!(entry = %path.display(), "discarding a cache entry wasmtime refused: {error:#}")
                }
            }
        } else {
            tracing::warn!(entry = %path.display(), "discarding a corrupt cache entry");
        }
        let _ = std::fs::remove_file(path);
        None
    }

    fn write(&self, path: &Path, component: &Component) -> Result<()> {
        create_private_dir(&self.dir)?;
        let artifact = component.serialize()?;
        let mut temp = tempfile::NamedTempFile::new_in(&self.dir)
            .with_context(|| format!("cannot write in {}", self.dir.display()))?;
        temp.write_all(MAGIC)?;
        temp.write_all(&Sha256::digest(&artifact))?;
        temp.write_all(&artifact)?;
        temp.as_file().sync_all()?;
        temp.persist(path)?;
        Ok(())
    }
}

/// Create `dir` (and parents) readable and writable by this user only.
fn create_private_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create the cache folder {}", dir.display()))
}

/// Owned by this process's user and not writable by group or others.
fn check_private(meta: &std::fs::Metadata) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let me = rustix::process::geteuid().as_raw();
    anyhow::ensure!(
        meta.uid() == me,
        "it belongs to user {}, not to this user ({me})",
        meta.uid()
    );
    anyhow::ensure!(
        meta.mode() & 0o022 == 0,
        "group or others may write it (mode {:o})",
        meta.mode() & 0o7777
    );
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Feeds `Hash` output into a SHA-256, so the key is stable across processes.
struct DigestHasher<'a>(&'a mut Sha256);

impl Hasher for DigestHasher<'_> {
    fn finish(&self) -> u64 {
        0
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The one entry in `cache`'s folder.
    fn only_entry(cache: &CompileCache) -> PathBuf {
        let mut entries = std::fs::read_dir(cache.dir()).unwrap();
        entries.next().unwrap().unwrap().path()
    }

    /// The smallest component: `(component)`.
    const EMPTY_COMPONENT: &[u8] = b"\0asm\x0d\0\x01\0";

    #[test]
    fn stores_then_loads_and_replaces_corrupt_entries() {
        let engine = Engine::default();
        let dir = tempfile::tempdir().unwrap();
        let cache = CompileCache::new(dir.path().join("cache"));
        let (_, first) = cache.load(&engine, EMPTY_COMPONENT).unwrap();
        assert_eq!(first, Origin::Compiled);
        let (_, second) = cache.load(&engine, EMPTY_COMPONENT).unwrap();
        assert_eq!(second, Origin::Cached);

        let entry = only_entry(&cache);
        let mut data = std::fs::read(&entry).unwrap();
        let last = data.len() - 1;
        data[last] ^= 0xff;
        std::fs::write(&entry, &data).unwrap();
        let (_, after_corruption) = cache.load(&engine, EMPTY_COMPONENT).unwrap();
        assert_eq!(
            after_corruption,
            Origin::Compiled,
            "a corrupt entry is rebuilt"
        );
        assert_eq!(
            cache.load(&engine, EMPTY_COMPONENT).unwrap().1,
            Origin::Cached
        );

        std::fs::write(&entry, b"foreign bytes").unwrap();
        assert_eq!(
            cache.load(&engine, EMPTY_COMPONENT).unwrap().1,
            Origin::Compiled
        );
    }

    #[test]
    fn folders_and_entries_others_can_write_are_refused() {
        use std::os::unix::fs::PermissionsExt;
        let engine = Engine::default();
        let dir = tempfile::tempdir().unwrap();
        let cache = CompileCache::new(dir.path().join("cache"));
        cache.load(&engine, EMPTY_COMPONENT).unwrap();
        let entry = only_entry(&cache);
        let set_mode = |path: &Path, mode: u32| {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap()
        };
        // An entry anyone could have replaced is not loaded (or deleted).
        set_mode(&entry, 0o666);
        assert_eq!(
            cache.load(&engine, EMPTY_COMPONENT).unwrap().1,
            Origin::Compiled
        );
        set_mode(&entry, 0o600);
        assert_eq!(
            cache.load(&engine, EMPTY_COMPONENT).unwrap().1,
            Origin::Cached
        );
        // Nor is anything in a folder others may write.
        set_mode(cache.dir(), 0o777);
        assert_eq!(
            cache.load(&engine, EMPTY_COMPONENT).unwrap().1,
            Origin::Compiled
        );
        set_mode(cache.dir(), 0o700);
        assert_eq!(
            cache.load(&engine, EMPTY_COMPONENT).unwrap().1,
            Origin::Cached
        );
        // Nor an entry that belongs to someone else (needs root to set up).
        if rustix::process::geteuid().is_root() {
            std::os::unix::fs::chown(&entry, Some(65534), None).unwrap();
            assert_eq!(
                cache.load(&engine, EMPTY_COMPONENT).unwrap().1,
                Origin::Compiled
            );
        }
    }

    #[test]
    fn a_different_engine_configuration_misses() {
        let dir = tempfile::tempdir().unwrap();
        let cache = CompileCache::new(dir.path().to_path_buf());
        cache.load(&Engine::default(), EMPTY_COMPONENT).unwrap();
        let mut config = wasmtime::Config::new();
        config.epoch_interruption(true);
        let other = Engine::new(&config).unwrap();
        assert_eq!(
            cache.load(&other, EMPTY_COMPONENT).unwrap().1,
            Origin::Compiled
        );
    }
}
