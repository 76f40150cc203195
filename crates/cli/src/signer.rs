//! Where a command's key comes from: a keystore file, a seed phrase, or a private key; and
//! passphrases.

use std::io::IsTerminal;
use std::path::PathBuf;

use accord_crypto::keystore::Keystore;
use accord_crypto::{DEFAULT_DERIVATION_PATH, KeyPair, KeyType, base58};
use anyhow::{Context, Result, bail};
use clap::Args;
use zeroize::Zeroizing;

/// The key to sign (or decrypt) with.
/// (No `Debug`: it would print the seed phrase or private key.)
#[derive(Args)]
pub struct SignerArgs {
    /// A keystore file holding the key (see `accord keys new --keystore`).
    #[arg(long, value_name = "FILE")]
    pub keystore: Option<PathBuf>,
    /// A file holding the keystore's passphrase (else $ACCORD_PASSPHRASE, else a prompt).
    #[arg(long, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
    /// The seed phrase (else $ACCORD_SEED_PHRASE). Other users of this machine can see command
    /// lines: prefer a keystore or the environment variable.
    #[arg(long, value_name = "PHRASE")]
    pub seed_phrase: Option<String>,
    /// A private key in base58 (else $ACCORD_PRIVATE_KEY): 64 bytes for ed25519 as the
    /// reference client prints it, 32 for the ECDSA types.
    #[arg(long, value_name = "BASE58")]
    pub private_key: Option<String>,
    /// The key type of a seed phrase or private key: ed25519, secp256k1 or secp256r1.
    #[arg(long, value_name = "TYPE", default_value = "ed25519")]
    pub key_type: KeyType,
    /// The nonce of an ed25519 seed phrase (the reference client's default is 0).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub seed_nonce: u32,
    /// The BIP-32 path of a secp256k1 mnemonic.
    #[arg(long, value_name = "PATH", default_value = DEFAULT_DERIVATION_PATH)]
    pub derivation_path: String,
}

impl SignerArgs {
    /// Loads the key pair, from the first source given: --keystore, --private-key,
    /// --seed-phrase, $ACCORD_PRIVATE_KEY, $ACCORD_SEED_PHRASE.
    pub fn load(&self) -> Result<KeyPair> {
        if let Some(path) = &self.keystore {
            let bytes = crate::io::read_input(path)?;
            let store = Keystore::from_json(&bytes)
                .with_context(|| format!("cannot read keystore {}", path.display()))?;
            let passphrase = passphrase(self.passphrase_file.as_ref(), false)?;
            let (pair, _) = store
                .open(passphrase.as_bytes())
                .with_context(|| format!("cannot open keystore {}", path.display()))?;
            return Ok(pair);
        }
        if let Some(key) = self
            .private_key
            .clone()
            .or_else(|| env("ACCORD_PRIVATE_KEY"))
        {
            let key = Zeroizing::new(key);
            let bytes = Zeroizing::new(base58::decode(&key).context("--private-key")?);
            return KeyPair::from_private_key(self.key_type, &bytes).context("--private-key");
        }
        if let Some(phrase) = self
            .seed_phrase
            .clone()
            .or_else(|| env("ACCORD_SEED_PHRASE"))
        {
            let phrase = Zeroizing::new(phrase);
            if phrase.trim().is_empty() {
                // Anyone can derive the key of an empty phrase (and the reference client
                // takes an empty phrase as none and makes a random key instead).
                bail!("the seed phrase is empty");
            }
            return match self.key_type {
                KeyType::Ed25519 => Ok(KeyPair::from_seed_phrase(&phrase, self.seed_nonce)),
                KeyType::Secp256k1 => {
                    KeyPair::from_mnemonic(&phrase, &self.derivation_path).context("--seed-phrase")
                }
                KeyType::Secp256r1 => bail!(
                    "secp256r1 keys cannot be derived from a seed phrase: use --private-key or a keystore"
                ),
            };
        }
        bail!("no key given: use --keystore, --seed-phrase or --private-key")
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

/// Reads a passphrase: from the file, else $ACCORD_PASSPHRASE, else a prompt on the terminal
/// (asked twice when `confirm`).
pub fn passphrase(file: Option<&PathBuf>, confirm: bool) -> Result<Zeroizing<String>> {
    if let Some(path) = file {
        let text = Zeroizing::new(
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read passphrase file {}", path.display()))?,
        );
        let trimmed = text.trim_end_matches(['\n', '\r']);
        if trimmed.is_empty() {
            bail!("passphrase file {} is empty", path.display());
        }
        return Ok(Zeroizing::new(trimmed.to_owned()));
    }
    if let Some(text) = env("ACCORD_PASSPHRASE") {
        return Ok(Zeroizing::new(text));
    }
    if !std::io::stdin().is_terminal() {
        bail!("no passphrase: use --passphrase-file or set ACCORD_PASSPHRASE");
    }
    let first = Zeroizing::new(rpassword::prompt_password("Keystore passphrase: ")?);
    if first.is_empty() {
        bail!("the passphrase is empty");
    }
    if confirm {
        let second = Zeroizing::new(rpassword::prompt_password("Repeat the passphrase: ")?);
        if *first != *second {
            bail!("the passphrases differ");
        }
    }
    Ok(first)
}
