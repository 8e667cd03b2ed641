//! The keys that seal `requestState`: a random key per process by default,
//! or a key file shared by every replica (`--state-key-file`), so that any
//! replica, or the same one after a restart, can open a state another
//! issued.
//!
//! The file holds one key per line, `KEY-ID HEX-KEY` (at least 32 bytes;
//! `#` starts a comment). The first key seals new states; every key listed
//! opens them. To rotate: put a new key first, keep the old one below it
//! for one state TTL (`--parked-call-ttl`), then remove it.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, Result, bail};
use rmcp::model::RequestStateCodec;

/// A codec for states, and the id of the key it seals with.
pub struct StateKeys {
    pub codec: RequestStateCodec,
    pub active: String,
    /// Every key by id: they also derive the seeds of calls' random numbers.
    keys: HashMap<String, Vec<u8>>,
}

impl StateKeys {
    /// A fresh random key: states open only in this process.
    pub fn random() -> StateKeys {
        let mut key = [0u8; 32];
        let mut key_id = [0u8; 8];
        getrandom::fill(&mut key).expect("the OS random source is unavailable");
        getrandom::fill(&mut key_id).expect("the OS random source is unavailable");
        let active: String = key_id.iter().map(|b| format!("{b:02x}")).collect();
        let codec =
            RequestStateCodec::new_with_keyring(active.clone(), [(active.clone(), key.to_vec())])
                .expect("a 32-byte key and a hex key id make a valid keyring");
        let keys = HashMap::from([(active.clone(), key.to_vec())]);
        StateKeys {
            codec,
            active,
            keys,
        }
    }

    /// The keys in `path` (see the module's doc).
    pub fn from_file(path: &Path) -> Result<StateKeys> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the state key file {}", path.display()))?;
        Self::parse(&text).with_context(|| format!("state key file {}", path.display()))
    }

    fn parse(text: &str) -> Result<StateKeys> {
        let mut keys: Vec<(String, Vec<u8>)> = Vec::new();
        for (number, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let mut parts = line.split_whitespace();
            let (Some(id), Some(hex), None) = (parts.next(), parts.next(), parts.next()) else {
                bail!("line {}: write `KEY-ID HEX-KEY`", number + 1);
            };
            if !id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                || id.len() > 64
            {
                bail!(
                    "line {}: a key id is up to 64 letters, digits, `-` or `_`",
                    number + 1
                );
            }
            let key = decode_hex(hex)
                .with_context(|| format!("line {}: the key is not hexadecimal", number + 1))?;
            if key.len() < RequestStateCodec::MIN_KEY_LENGTH {
                bail!(
                    "line {}: the key is {} bytes; it must be at least {} (generate one with `openssl rand -hex 32`)",
                    number + 1,
                    key.len(),
                    RequestStateCodec::MIN_KEY_LENGTH
                );
            }
            if keys.iter().any(|(other, _)| other == id) {
                bail!("line {}: key id `{id}` appears twice", number + 1);
            }
            keys.push((id.to_string(), key));
        }
        let Some((active, _)) = keys.first().cloned() else {
            bail!(
                "no keys: add a line `KEY-ID HEX-KEY` (for example `k1 $(openssl rand -hex 32)`)"
            );
        };
        let codec = RequestStateCodec::new_with_keyring(active.clone(), keys.clone())
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(StateKeys {
            codec,
            active,
            keys: keys.into_iter().collect(),
        })
    }

    /// The seed of a call's random numbers, from key `key_id` and the
    /// call's public `nonce`: every replica with the key derives the same
    /// seed, and a client, which sees the nonce in `requestState`, cannot.
    pub fn seed_for(&self, key_id: &str, nonce: &[u8]) -> Option<[u8; 32]> {
        use sha2::Digest as _;
        let key = self.keys.get(key_id)?;
        Some(
            sha2::Sha256::new()
                .chain_update(b"wasm-mcp/call-seed/v1")
                .chain_update(key)
                .chain_update(nonce)
                .finalize()
                .into(),
        )
    }
}

fn decode_hex(text: &str) -> Result<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        bail!("odd number of digits");
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).map_err(Into::into))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmcp::model::SealOptions;

    const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    #[test]
    fn the_first_key_seals_and_every_key_opens() {
        let old = StateKeys::parse(&format!("old {A}\n")).unwrap();
        let state = old.codec.seal_with(b"x", &SealOptions::new());
        let rotated = StateKeys::parse(&format!(
            "# rotated\nnew {B}\nold {A}  # until the TTL passes\n"
        ))
        .unwrap();
        assert_eq!(rotated.active, "new");
        assert_eq!(rotated.codec.open(&state).unwrap(), b"x");
        let fresh = rotated.codec.seal_with(b"y", &SealOptions::new());
        assert!(
            old.codec.open(&fresh).is_err(),
            "the old ring has no new key"
        );
        let dropped = StateKeys::parse(&format!("new {B}\n")).unwrap();
        assert!(
            dropped.codec.open(&state).is_err(),
            "a removed key opens nothing"
        );
    }

    #[test]
    fn bad_files_say_what_is_wrong() {
        for (text, expected) in [
            ("", "no keys"),
            ("k1", "KEY-ID HEX-KEY"),
            ("k1 abcd", "at least 32"),
            ("k1 zz", "hexadecimal"),
            (&format!("k1 {A}\nk1 {B}") as &str, "twice"),
        ] {
            let error = format!("{:#}", StateKeys::parse(text).err().unwrap());
            assert!(error.contains(expected), "{text}: {error}");
        }
    }
}
