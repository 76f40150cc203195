//! Keys this node holds for users (custody): people who act through an organisation's front end
//! rather than with a key of their own.
//!
//! A custodial key is derived from the node's own seed phrase with its own nonce (the node key
//! uses the keystore's nonce; custodial keys take the next unused ones), so the node's one
//! encrypted keystore is the only secret on disk and backing up its seed phrase backs up every
//! custodial key. `custody.json` in the data directory lists them: each key, its nonce, and
//! the controller keys allowed to act with it (besides the node's administrators). The file is
//! replaced atomically (written beside, synced, renamed) on every change.
//!
//! Invariants:
//! - No two entries share a nonce, and none uses the node key's nonce.
//! - An entry's key is the key its nonce derives (checked on load: a file edited by hand
//!   cannot make the node sign with a key other than the one listed).
//! - Only administrators create entries; only an entry's controllers and administrators act
//!   with it.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use accord_crypto::KeyPair;
use zeroize::Zeroizing;

use crate::problem::Problem;

pub mod file;

pub use file::Entry;
/// Custodial keys one node holds at most.
pub const MAX_KEYS: usize = 100_000;
/// Controllers one custodial key has at most.
pub const MAX_CONTROLLERS: usize = 64;

struct Held {
    entries: Vec<Entry>,
    pairs: HashMap<String, (Arc<KeyPair>, usize)>,
    /// Controller key → the custodial keys it controls.
    controls: HashMap<String, Vec<String>>,
}

impl Held {
    fn add(&mut self, entry: Entry, pair: KeyPair) {
        for c in &entry.controllers {
            self.controls
                .entry(c.clone())
                .or_default()
                .push(entry.key.clone());
        }
        self.pairs
            .insert(entry.key.clone(), (Arc::new(pair), self.entries.len()));
        self.entries.push(entry);
    }
}

/// The custodial keys of a node.
pub struct Custody {
    path: PathBuf,
    /// The node's seed phrase and its nonce; `None` when the node key is a bare private key
    /// (then nothing can be derived and custody is off).
    seed: Option<(Zeroizing<String>, u32)>,
    held: Mutex<Held>,
}

impl Custody {
    /// Opens the custody file (none yet means no keys). `seed` is the node's seed phrase and
    /// nonce, when its keystore holds one.
    pub fn open(path: &Path, seed: Option<(Zeroizing<String>, u32)>) -> Result<Custody, String> {
        let mut held = Held {
            entries: Vec::new(),
            pairs: HashMap::new(),
            controls: HashMap::new(),
        };
        if path.exists() {
            let bytes =
                std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            let origin = path.display().to_string();
            let seed_ref = seed.as_ref().map(|(p, n)| (p.as_str(), *n));
            for (entry, pair) in file::parse(&bytes, &origin, seed_ref)? {
                held.add(entry, pair);
            }
        }
        Ok(Custody {
            path: path.to_path_buf(),
            seed,
            held: Mutex::new(held),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Held> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Creates a custodial key with these controllers and saves the list.
    pub fn create(&self, controllers: Vec<String>, now: u64) -> Result<Entry, Problem> {
        let Some((phrase, own)) = &self.seed else {
            return Err(Problem::invalid(
                "this node's key is a bare private key, not a seed phrase: it cannot derive custodial keys",
            ));
        };
        if controllers.len() > MAX_CONTROLLERS {
            return Err(Problem::invalid(format!(
                "{} controllers; at most {MAX_CONTROLLERS}",
                controllers.len()
            )));
        }
        for (n, c) in controllers.iter().enumerate() {
            if accord_crypto::base58::decode(c)
                .ok()
                .is_none_or(|k| k.len() != 32)
            {
                return Err(Problem::invalid(format!(
                    "controllers[{n}] is not a base58 ed25519 public key: {c:?}"
                ))
                .with("pointer", format!("/controllers/{n}")));
            }
        }
        let mut held = self.lock();
        if held.entries.len() >= MAX_KEYS {
            return Err(Problem::invalid(format!(
                "this node holds {MAX_KEYS} custodial keys already"
            )));
        }
        let mut nonce = held.entries.iter().map(|e| e.nonce).max().unwrap_or(0) + 1;
        if nonce == *own {
            nonce += 1;
        }
        let pair = KeyPair::from_seed_phrase(phrase, nonce);
        let entry = Entry {
            key: pair.public_key().to_base58(),
            nonce,
            controllers,
            created: now,
        };
        let mut entries = held.entries.clone();
        entries.push(entry.clone());
        self.save(&entries)
            .map_err(|e| Problem::internal(format!("cannot save custodial keys: {e}")))?;
        held.add(entry.clone(), pair);
        Ok(entry)
    }

    /// Every entry, in creation order.
    pub fn entries(&self) -> Vec<Entry> {
        self.lock().entries.clone()
    }

    /// The key pair for `key` and its entry, when this node holds it.
    pub fn get(&self, key: &str) -> Option<(Arc<KeyPair>, Entry)> {
        let held = self.lock();
        let (pair, at) = held.pairs.get(key)?;
        Some((pair.clone(), held.entries[*at].clone()))
    }

    /// The custodial keys `controller` may act with (and read as).
    pub fn controlled_by(&self, controller: &str) -> Vec<String> {
        self.lock()
            .controls
            .get(controller)
            .cloned()
            .unwrap_or_default()
    }

    fn save(&self, entries: &[Entry]) -> std::io::Result<()> {
        let text = file::render(entries).map_err(std::io::Error::other)?;
        let tmp = self.path.with_extension("json.tmp");
        {
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create(true).truncate(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            let mut f = options.open(&tmp)?;
            f.write_all(&text)?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, &self.path)?;
        if let Some(dir) = self.path.parent()
            && let Ok(d) = std::fs::File::open(dir)
        {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed() -> Option<(Zeroizing<String>, u32)> {
        Some((Zeroizing::new("custody test phrase".into()), 0))
    }

    #[test]
    fn keys_survive_a_reopen_and_differ_from_the_node_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("custody.json");
        let c = Custody::open(&path, seed()).unwrap();
        let a = c.create(vec![], 1).unwrap();
        let b = c
            .create(
                vec![KeyPair::from_seed_phrase("x", 0).public_key().to_base58()],
                2,
            )
            .unwrap();
        assert_ne!(a.nonce, b.nonce);
        assert_ne!(
            a.key,
            KeyPair::from_seed_phrase("custody test phrase", 0)
                .public_key()
                .to_base58()
        );
        let again = Custody::open(&path, seed()).unwrap();
        assert_eq!(again.entries(), vec![a.clone(), b.clone()]);
        let (pair, entry) = again.get(&b.key).unwrap();
        assert_eq!(pair.public_key().to_base58(), b.key);
        assert_eq!(entry.controllers.len(), 1);
        assert_eq!(
            again.controlled_by(&KeyPair::from_seed_phrase("x", 0).public_key().to_base58()),
            vec![b.key.clone()]
        );
        assert!(again.get("nothing").is_none());
    }

    #[test]
    fn a_tampered_file_is_refused_with_the_entry_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("custody.json");
        let c = Custody::open(&path, seed()).unwrap();
        c.create(vec![], 1).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let other = KeyPair::from_seed_phrase("someone else", 0)
            .public_key()
            .to_base58();
        let entry = &c.entries()[0];
        std::fs::write(&path, text.replace(&entry.key, &other)).unwrap();
        let err = Custody::open(&path, seed()).err().unwrap();
        assert!(err.contains("keys[0]") && err.contains("derives"), "{err}");
        let err = Custody::open(&path, None).err().unwrap();
        assert!(err.contains("no seed phrase"), "{err}");
        std::fs::write(&path, "{\"version\": 1, \"keys\": [}").unwrap();
        let err = Custody::open(&path, seed()).err().unwrap();
        assert!(err.contains("line 1"), "{err}");
    }

    #[test]
    fn bad_controllers_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let c = Custody::open(&dir.path().join("custody.json"), seed()).unwrap();
        let err = c.create(vec!["abc".into()], 1).unwrap_err();
        assert!(err.to_string().contains("controllers[0]"), "{err}");
        let none = Custody::open(&dir.path().join("other.json"), None).unwrap();
        assert!(none.create(vec![], 1).is_err());
    }
}
