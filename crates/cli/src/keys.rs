//! `accord keys`: make key pairs, show them, keep them in keystores, encrypt to them.

use std::path::PathBuf;

use accord_crypto::keystore::{KdfParams, Keystore, Secret};
use accord_crypto::{KeyPair, KeyType, PublicKey, SeedPhrase, base58, encrypt};
use anyhow::{Context, Result, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use clap::{Args, Subcommand};
use serde_json::json;

use crate::Outcome;
use crate::io::{read_input, write_new, write_output};
use crate::signer::{SignerArgs, passphrase};

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Make a new key pair. ed25519 keys come from a new 15-word seed phrase (as the reference
    /// client makes them), secp256k1 ones from a 12-word BIP-39 mnemonic, secp256r1 ones from
    /// random bytes.
    New(NewArgs),
    /// Show a key pair's public key, address and encryption key.
    Show(ShowArgs),
    /// Encrypt a payload to a key, so only its holder can read it (a sealed box, which the
    /// reference client's `account.decrypt` opens). Writes the ciphertext in base64.
    Encrypt(EncryptArgs),
    /// Decrypt a payload encrypted to your key (base64 in, raw bytes out).
    Decrypt(DecryptArgs),
}

#[derive(Args)]
pub struct NewArgs {
    /// ed25519, secp256k1 or secp256r1.
    #[arg(long, value_name = "TYPE", default_value = "ed25519")]
    key_type: KeyType,
    /// Words in a new ed25519 seed phrase.
    #[arg(long, default_value_t = 15, value_parser = clap::value_parser!(u16).range(12..=48))]
    words: u16,
    /// The network byte of the address shown: L (mainnet), T (testnet), or a private
    /// network's letter.
    #[arg(long, default_value = "L", value_parser = network)]
    network: u8,
    /// Write the key to this new keystore file, encrypted with a passphrase (from
    /// --passphrase-file, $ACCORD_PASSPHRASE, or asked twice).
    #[arg(long, value_name = "FILE")]
    keystore: Option<PathBuf>,
    /// The passphrase for --keystore.
    #[arg(long, value_name = "FILE")]
    passphrase_file: Option<PathBuf>,
    /// Print the seed phrase even when it goes into a keystore.
    #[arg(long)]
    show_seed_phrase: bool,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct ShowArgs {
    #[command(flatten)]
    signer: SignerArgs,
    /// The network byte of the address.
    #[arg(long, default_value = "L", value_parser = network)]
    network: u8,
    /// Also print the private key (base58, the reference client's form).
    #[arg(long)]
    show_private_key: bool,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct EncryptArgs {
    /// The recipient's ed25519 public key (base58); the payload is sealed to its X25519 form.
    #[arg(long, value_name = "BASE58", conflicts_with = "to_encrypt_key")]
    to: Option<String>,
    /// The recipient's X25519 encryption key (base58), as `accord keys show` prints it.
    #[arg(long, value_name = "BASE58")]
    to_encrypt_key: Option<String>,
    /// The payload (a file, or - for stdin).
    #[arg(default_value = "-")]
    input: PathBuf,
}

#[derive(Args)]
pub struct DecryptArgs {
    #[command(flatten)]
    signer: SignerArgs,
    /// The ciphertext in base64 (a file, or - for stdin).
    #[arg(default_value = "-")]
    input: PathBuf,
    /// Where to write the payload (- for stdout).
    #[arg(short, long, default_value = "-")]
    output: PathBuf,
}

/// Parses a network byte: one ASCII character.
pub fn network(text: &str) -> Result<u8, String> {
    match text.as_bytes() {
        [byte] if byte.is_ascii_graphic() => Ok(*byte),
        _ => Err(format!(
            "{text:?} is not a network byte: give one character, such as L (mainnet) or T (testnet)"
        )),
    }
}

pub fn run(command: KeysCommand) -> Result<Outcome> {
    match command {
        KeysCommand::New(args) => new(args),
        KeysCommand::Show(args) => {
            let pair = args.signer.load()?;
            print_key(&pair, args.network, None, args.show_private_key, args.json);
            Ok(Outcome::Success)
        }
        KeysCommand::Encrypt(args) => {
            let recipient = match (&args.to, &args.to_encrypt_key) {
                (Some(public_key), _) => PublicKey::from_base58(KeyType::Ed25519, public_key)
                    .context("--to")?
                    .x25519()
                    .context("--to: not an ed25519 public key")?,
                (None, Some(key)) => base58::decode_array::<32>(key).context("--to-encrypt-key")?,
                (None, None) => bail!("give --to or --to-encrypt-key"),
            };
            let payload = read_input(&args.input)?;
            let sealed = encrypt::seal(&recipient, &payload)?;
            outln!("{}", BASE64.encode(sealed));
            Ok(Outcome::Success)
        }
        KeysCommand::Decrypt(args) => {
            let pair = args.signer.load()?;
            let text = String::from_utf8(read_input(&args.input)?)
                .context("the ciphertext is not base64 text")?;
            let sealed = BASE64
                .decode(text.trim())
                .context("the ciphertext is not base64")?;
            let payload = encrypt::open(&pair, &sealed)?;
            write_output(&args.output, &payload)?;
            Ok(Outcome::Success)
        }
    }
}

fn new(args: NewArgs) -> Result<Outcome> {
    let (pair, secret, phrase) = match args.key_type {
        KeyType::Ed25519 => {
            let phrase = SeedPhrase::generate(usize::from(args.words))?;
            let pair = KeyPair::from_seed_phrase(phrase.as_str(), 0);
            let secret = Secret::SeedPhrase {
                phrase: phrase.as_str().to_owned(),
                nonce: 0,
                path: None,
            };
            (pair, secret, Some(phrase))
        }
        KeyType::Secp256k1 => {
            let phrase = SeedPhrase::generate_mnemonic()?;
            let pair =
                KeyPair::from_mnemonic(phrase.as_str(), accord_crypto::DEFAULT_DERIVATION_PATH)?;
            let secret = Secret::SeedPhrase {
                phrase: phrase.as_str().to_owned(),
                nonce: 0,
                path: Some(accord_crypto::DEFAULT_DERIVATION_PATH.to_owned()),
            };
            (pair, secret, Some(phrase))
        }
        KeyType::Secp256r1 => {
            let pair = KeyPair::generate(KeyType::Secp256r1)?;
            let secret = Secret::PrivateKey(base58::encode(&pair.private_key_bytes()));
            (pair, secret, None)
        }
    };
    if let Some(path) = &args.keystore {
        let passphrase = passphrase(args.passphrase_file.as_ref(), true)?;
        let store = Keystore::seal(
            &secret,
            args.key_type,
            passphrase.as_bytes(),
            KdfParams::default(),
        )?;
        write_new(path, store.to_json().as_bytes())?;
        eprintln!("wrote keystore {}", path.display());
    }
    let show_phrase = args.keystore.is_none() || args.show_seed_phrase;
    let phrase = phrase.filter(|_| show_phrase);
    if phrase.is_some() && !args.json {
        eprintln!("Write the seed phrase down and keep it secret: it is the key.");
    }
    let show_private = args.keystore.is_none() && args.key_type == KeyType::Secp256r1;
    print_key(
        &pair,
        args.network,
        phrase.as_ref(),
        show_private,
        args.json,
    );
    Ok(Outcome::Success)
}

fn print_key(
    pair: &KeyPair,
    network: u8,
    phrase: Option<&SeedPhrase>,
    show_private: bool,
    as_json: bool,
) {
    let public = pair.public_key();
    let encrypt_key = pair.x25519_public().map(|key| base58::encode(&key));
    let private = show_private.then(|| base58::encode(&pair.private_key_bytes()));
    if as_json {
        let mut out = json!({
            "keyType": public.key_type().name(),
            "publicKey": public.to_base58(),
            "address": pair.address(network).to_base58(),
            "network": (network as char).to_string(),
        });
        if let Some(key) = &encrypt_key {
            out["encryptKey"] = key.clone().into();
        }
        if let Some(phrase) = phrase {
            out["seedPhrase"] = phrase.as_str().into();
        }
        if let Some(private) = &private {
            out["privateKey"] = private.clone().into();
        }
        outln!("{out}");
        return;
    }
    if let Some(phrase) = phrase {
        outln!("seed phrase:  {}", phrase.as_str());
    }
    outln!("key type:     {}", public.key_type());
    outln!("public key:   {public}");
    outln!(
        "address:      {} (network {})",
        pair.address(network),
        network as char
    );
    match &encrypt_key {
        Some(key) => outln!("encrypt key:  {key} (X25519)"),
        None => outln!("encrypt key:  none (only ed25519 keys have one)"),
    }
    if let Some(private) = private {
        outln!("private key:  {private}");
    }
}
