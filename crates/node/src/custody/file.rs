//! `custody.json`: the list of custodial keys, read and written. Pure (no I/O), so the fuzz
//! target can include it from source.

use accord_crypto::KeyPair;
use serde::{Deserialize, Serialize};

/// The custody file's format version.
pub const VERSION: u32 = 1;

/// One custodial key, as listed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(not(fuzzing), derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// The public key (base58 ed25519).
    pub key: String,
    /// The nonce that derives it from the node's seed phrase.
    pub nonce: u32,
    /// Keys (base58) allowed to act with it, besides the node's administrators.
    pub controllers: Vec<String>,
    /// When it was created, in milliseconds since the epoch.
    pub created: u64,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    version: u32,
    keys: Vec<Entry>,
}

/// Reads a custody file and derives each key from `seed` (the node's phrase and own nonce),
/// refusing, with the entry named, a nonce that does not derive the listed key, a repeated
/// nonce, or the node key's own. `origin` names the file in errors.
pub fn parse(
    bytes: &[u8],
    origin: &str,
    seed: Option<(&str, u32)>,
) -> Result<Vec<(Entry, KeyPair)>, String> {
    let file: File = serde_json::from_slice(bytes)
        .map_err(|e| format!("{origin} (line {}, column {}): {e}", e.line(), e.column()))?;
    if file.version != VERSION {
        return Err(format!(
            "{origin}: version {} is not one this node reads ({VERSION})",
            file.version
        ));
    }
    let Some((phrase, own)) = seed else {
        if file.keys.is_empty() {
            return Ok(Vec::new());
        }
        return Err(format!(
            "{origin} lists custodial keys, but the node key has no seed phrase to derive them from"
        ));
    };
    let mut out: Vec<(Entry, KeyPair)> = Vec::with_capacity(file.keys.len());
    for (n, entry) in file.keys.into_iter().enumerate() {
        if entry.nonce == own {
            return Err(format!(
                "{origin}: keys[{n}] uses the node key's own nonce {own}"
            ));
        }
        if out.iter().any(|(e, _)| e.nonce == entry.nonce) {
            return Err(format!("{origin}: keys[{n}] repeats nonce {}", entry.nonce));
        }
        let pair = KeyPair::from_seed_phrase(phrase, entry.nonce);
        let derived = pair.public_key().to_base58();
        if derived != entry.key {
            return Err(format!(
                "{origin}: keys[{n}] names key {} but nonce {} derives {derived}",
                entry.key, entry.nonce
            ));
        }
        out.push((entry, pair));
    }
    Ok(out)
}

/// The file's text for these entries.
pub fn render(entries: &[Entry]) -> Result<Vec<u8>, serde_json::Error> {
    serde_json::to_vec_pretty(&File {
        version: VERSION,
        keys: entries.to_vec(),
    })
}
