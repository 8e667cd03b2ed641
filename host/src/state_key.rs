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

/// The bytes `text` spells in hexadecimal. Checks every character first,
/// so a non-ASCII one is named (by position: the text is a secret) rather
/// than cut in half by a byte slice.
fn decode_hex(text: &str) -> Result<Vec<u8>> {
    if let Some((position, _)) = text
        .chars()
        .enumerate()
        .find(|(_, c)| !c.is_ascii_hexdigit())
    {
        bail!(
            "character {} is not a hexadecimal digit (0-9, a-f)",
            position + 1
        );
    }
    if !text.len().is_multiple_of(2) {
        bail!("odd number of digits");
    }
    text.as_bytes()
        .chunks(2)
        .map(|pair| -> Result<u8> { Ok(u8::from_str_radix(std::str::from_utf8(pair)?, 16)?) })
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

    /// A non-ASCII character in a key (a pasted typographic dash, say) used
    /// to panic on a byte slice through it; it is named with its line.
    #[test]
    fn a_non_ascii_key_names_its_line() {
        for key in [
            "a\u{e9}a",
            "\u{2013}\u{2013}",
            &format!("{A}\u{fffd}0") as &str,
        ] {
            let text = format!("# keys\nk1 {key}\n");
            let error = format!("{:#}", StateKeys::parse(&text).err().unwrap());
            assert!(
                error.contains("line 2") && error.contains("not hexadecimal"),
                "{key}: {error}"
            );
        }
    }

    /// What a key file holds for `keys`, one `KEY-ID HEX-KEY` line each,
    /// as an operator writes it.
    fn key_file(keys: &[(String, Vec<u8>)]) -> String {
        keys.iter()
            .map(|(id, key)| {
                let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
                format!("{id} {hex}\n")
            })
            .collect()
    }

    /// Up to four keys with distinct valid ids, each at least as long as
    /// the codec needs.
    fn key_sets() -> impl proptest::strategy::Strategy<Value = Vec<(String, Vec<u8>)>> {
        use proptest::prelude::*;
        proptest::collection::btree_map(
            "[A-Za-z0-9_-]{1,64}",
            proptest::collection::vec(any::<u8>(), RequestStateCodec::MIN_KEY_LENGTH..80),
            1..5,
        )
        .prop_map(|keys| keys.into_iter().collect())
    }

    /// Text of any characters, weighted toward what key files hold:
    /// hexadecimal digits, spaces, `#` and line breaks.
    fn any_text() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        proptest::collection::vec(
            prop_oneof![
                proptest::char::range('0', '9'),
                proptest::char::range('a', 'f'),
                Just(' '),
                Just('#'),
                Just('\n'),
                proptest::char::range(' ', '~'),
                proptest::char::any(),
            ],
            0..300,
        )
        .prop_map(|chars| chars.into_iter().collect())
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// Invariant: parsing any text (any characters, comments, blank and
        /// malformed lines) returns keys or an error; it never panics.
        #[test]
        fn parsing_any_text_never_panics(text in any_text()) {
            let _ = StateKeys::parse(&text);
        }

        /// Invariant: a key file with any one character replaced by any
        /// other parses or is refused; it never panics.
        #[test]
        fn parsing_a_mangled_key_file_never_panics(
            keys in key_sets(),
            at in proptest::prelude::any::<proptest::sample::Index>(),
            replacement in proptest::char::any(),
        ) {
            let mut chars: Vec<char> = key_file(&keys).chars().collect();
            let at = at.index(chars.len());
            chars[at] = replacement;
            let _ = StateKeys::parse(&chars.into_iter().collect::<String>());
        }

        /// Invariant: a file written one `KEY-ID HEX-KEY` line per key
        /// parses back to exactly those keys, the first one active, and
        /// the active key opens what it sealed.
        #[test]
        fn a_written_key_file_parses_back_to_its_keys(keys in key_sets()) {
            let parsed = StateKeys::parse(&key_file(&keys));
            proptest::prop_assert!(parsed.is_ok(), "{:?}", parsed.as_ref().err());
            let parsed = parsed.expect("checked above");
            proptest::prop_assert_eq!(&parsed.active, &keys[0].0);
            proptest::prop_assert_eq!(parsed.keys.len(), keys.len());
            for (id, key) in &keys {
                proptest::prop_assert_eq!(parsed.keys.get(id), Some(key));
            }
            let state = parsed.codec.seal_with(b"x", &SealOptions::new());
            proptest::prop_assert_eq!(parsed.codec.open(&state).ok(), Some(b"x".to_vec()));
        }
    }
}
