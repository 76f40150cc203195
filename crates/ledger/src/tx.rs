//! LTO public-chain transactions in the v3 layout (all integers big-endian):
//!
//! ```text
//! body   = type u8 ‖ version u8 ‖ network u8 ‖ timestamp i64 (ms) ‖ keyType u8 ‖ publicKey
//!          ‖ fee i64 ‖ the type's fields
//! transfer (4):           recipient[26] ‖ amount i64 ‖ u16 len ‖ attachment
//! lease (8):              recipient[26] ‖ amount i64
//! cancel lease (9):       leaseId[32]
//! mass transfer (11):     u16 n ‖ n × (recipient[26] ‖ amount i64) ‖ u16 len ‖ attachment
//! data (12):              u16 n ‖ n × entry
//! anchor (15):            u16 n ‖ n × (u16 len ‖ bytes)
//! sponsorship (18), cancel sponsorship (19): recipient[26]
//! register (20):          u16 n ‖ n × (keyType u8 ‖ publicKey)
//! burn (21):              amount i64
//! mapped anchor (22):     u16 n ‖ n × (u16 len ‖ key ‖ u16 len ‖ value)
//! entry = u16 len ‖ key (UTF-8) ‖ type u8 ‖ value: 0 integer i64, 1 boolean u8,
//!         2 binary (u16 len ‖ bytes), 3 string (u16 len ‖ UTF-8)
//! bytes  = 0x00 ‖ body ‖ sponsor (0x00, or keyType ‖ publicKey) ‖ 0x01 ‖ u16 n ‖ n × (u16 len ‖ proof)
//! id     = BLAKE2b-256(body)
//! ```
//!
//! The sender's signature over the body is the first proof. Limits checked when decoding are
//! the layout's own (a key of its type's length, at most 8 proofs of at most 64 bytes); the
//! reference's validation rules (fees, anchor counts and sizes, timestamps) come with the
//! ledger's validation.

use accord_crypto::{KeyPair, KeyType, PublicKey, Signature, hash::blake2b256};

/// Type id of a transfer.
pub const TRANSFER: u8 = 4;
/// Type id of a lease.
pub const LEASE: u8 = 8;
/// Type id of a lease's cancellation.
pub const CANCEL_LEASE: u8 = 9;
/// Type id of a mass transfer.
pub const MASS_TRANSFER: u8 = 11;
/// Type id of a data transaction.
pub const DATA: u8 = 12;
/// Type id of an anchor.
pub const ANCHOR: u8 = 15;
/// Type id of a sponsorship.
pub const SPONSORSHIP: u8 = 18;
/// Type id of a sponsorship's cancellation.
pub const CANCEL_SPONSORSHIP: u8 = 19;
/// Type id of a key registration.
pub const REGISTER: u8 = 20;
/// Type id of a burn.
pub const BURN: u8 = 21;
/// Type id of a mapped anchor.
pub const MAPPED_ANCHOR: u8 = 22;

/// A data entry's value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// Type 0.
    Integer(i64),
    /// Type 1.
    Boolean(bool),
    /// Type 2.
    Binary(Vec<u8>),
    /// Type 3.
    String(String),
}

/// At most this many proofs.
pub const MAX_PROOFS: usize = 8;
/// A proof is at most this long.
pub const MAX_PROOF_LEN: usize = 64;

/// What every v3 transaction body starts with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// The layout version (3).
    pub version: u8,
    /// The network byte (`L` mainnet, `T` testnet, or a private network's).
    pub network: u8,
    /// Milliseconds since the epoch.
    pub timestamp: u64,
    /// Who sends it (and signs the first proof).
    pub sender: PublicKey,
    /// The fee, in units (10^8 a LTO).
    pub fee: u64,
}

/// The type's own fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Body {
    /// Type 15: hashes (or any short byte strings) put on the ledger.
    Anchor {
        /// The anchors, in order.
        anchors: Vec<Vec<u8>>,
    },
    /// Type 22: keys mapped to values (an event chain's state to its event's hash).
    MappedAnchor {
        /// The (key, value) pairs, in order.
        anchors: Vec<(Vec<u8>, Vec<u8>)>,
    },
    /// Type 8: units leased to an address (they stay the sender's, and count for its
    /// generating balance).
    Lease {
        /// The recipient's address bytes.
        recipient: [u8; 26],
        /// How many units.
        amount: u64,
    },
    /// Type 9: a lease ended.
    CancelLease {
        /// The lease transaction's id.
        lease: [u8; 32],
    },
    /// Type 11: units sent to many addresses.
    MassTransfer {
        /// (recipient address bytes, units), in order.
        transfers: Vec<([u8; 26], u64)>,
        /// Free bytes.
        attachment: Vec<u8>,
    },
    /// Type 12: entries of the sender's key-value store.
    Data {
        /// (key, value), in order.
        entries: Vec<(String, Value)>,
    },
    /// Type 18: the sender pays the recipient's fees from now on.
    Sponsorship {
        /// The sponsored address bytes.
        recipient: [u8; 26],
    },
    /// Type 19: a sponsorship ended.
    CancelSponsorship {
        /// The address bytes no longer sponsored.
        recipient: [u8; 26],
    },
    /// Type 20: public keys made known on the ledger.
    Register {
        /// The keys.
        keys: Vec<PublicKey>,
    },
    /// Type 21: units destroyed.
    Burn {
        /// How many units.
        amount: u64,
    },
    /// Type 4: units sent to an address.
    Transfer {
        /// The recipient's address bytes.
        recipient: [u8; 26],
        /// How many units.
        amount: u64,
        /// Free bytes.
        attachment: Vec<u8>,
    },
}

impl Body {
    /// The type id.
    pub fn type_id(&self) -> u8 {
        match self {
            Body::Anchor { .. } => ANCHOR,
            Body::MappedAnchor { .. } => MAPPED_ANCHOR,
            Body::Transfer { .. } => TRANSFER,
            Body::Lease { .. } => LEASE,
            Body::CancelLease { .. } => CANCEL_LEASE,
            Body::MassTransfer { .. } => MASS_TRANSFER,
            Body::Data { .. } => DATA,
            Body::Sponsorship { .. } => SPONSORSHIP,
            Body::CancelSponsorship { .. } => CANCEL_SPONSORSHIP,
            Body::Register { .. } => REGISTER,
            Body::Burn { .. } => BURN,
        }
    }
}

/// A transaction: its body, an optional sponsor who pays the fee, and its proofs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transaction {
    /// The common fields.
    pub header: Header,
    /// The type's fields.
    pub body: Body,
    /// Who pays the fee instead of the sender.
    pub sponsor: Option<PublicKey>,
    /// Signatures over the body: the sender's first.
    pub proofs: Vec<Vec<u8>>,
}

/// Why bytes are not a transaction; `at` is the offset where reading failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("byte {at}: {what}")]
pub struct DecodeError {
    /// The offset in the input.
    pub at: usize,
    /// What is wrong there.
    pub what: String,
}

/// Why a transaction cannot be written.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct EncodeError(pub String);

fn put_len(
    out: &mut Vec<u8>,
    len: usize,
    what: impl std::fmt::Display + Copy,
) -> Result<(), EncodeError> {
    let len = u16::try_from(len)
        .map_err(|_| EncodeError(format!("{what} is {len} long; at most 65,535 fit")))?;
    out.extend_from_slice(&len.to_be_bytes());
    Ok(())
}

fn put_bytes(
    out: &mut Vec<u8>,
    bytes: &[u8],
    what: impl std::fmt::Display + Copy,
) -> Result<(), EncodeError> {
    put_len(out, bytes.len(), what)?;
    out.extend_from_slice(bytes);
    Ok(())
}

fn put_key(out: &mut Vec<u8>, key: &PublicKey) {
    out.push(key.key_type().id());
    out.extend_from_slice(key.as_bytes());
}

impl Transaction {
    /// The body's bytes: what the id hashes and the proofs sign.
    pub fn body_bytes(&self) -> Result<Vec<u8>, EncodeError> {
        let h = &self.header;
        let mut out = Vec::with_capacity(128);
        out.push(self.body.type_id());
        out.push(h.version);
        out.push(h.network);
        out.extend_from_slice(&h.timestamp.to_be_bytes());
        put_key(&mut out, &h.sender);
        out.extend_from_slice(&h.fee.to_be_bytes());
        match &self.body {
            Body::Anchor { anchors } => {
                put_len(&mut out, anchors.len(), "the anchor list")?;
                for anchor in anchors {
                    put_len(&mut out, anchor.len(), "an anchor")?;
                    out.extend_from_slice(anchor);
                }
            }
            Body::MappedAnchor { anchors } => {
                put_len(&mut out, anchors.len(), "the anchor list")?;
                for (key, value) in anchors {
                    put_bytes(&mut out, key, "an anchor's key")?;
                    put_bytes(&mut out, value, "an anchor's value")?;
                }
            }
            Body::Transfer {
                recipient,
                amount,
                attachment,
            } => {
                out.extend_from_slice(recipient);
                out.extend_from_slice(&amount.to_be_bytes());
                put_bytes(&mut out, attachment, "the attachment")?;
            }
            Body::Lease { recipient, amount } => {
                out.extend_from_slice(recipient);
                out.extend_from_slice(&amount.to_be_bytes());
            }
            Body::CancelLease { lease } => out.extend_from_slice(lease),
            Body::MassTransfer {
                transfers,
                attachment,
            } => {
                put_len(&mut out, transfers.len(), "the transfer list")?;
                for (recipient, amount) in transfers {
                    out.extend_from_slice(recipient);
                    out.extend_from_slice(&amount.to_be_bytes());
                }
                put_bytes(&mut out, attachment, "the attachment")?;
            }
            Body::Data { entries } => {
                put_len(&mut out, entries.len(), "the entry list")?;
                for (key, value) in entries {
                    put_bytes(&mut out, key.as_bytes(), "an entry's key")?;
                    match value {
                        Value::Integer(n) => {
                            out.push(0);
                            out.extend_from_slice(&n.to_be_bytes());
                        }
                        Value::Boolean(b) => out.extend_from_slice(&[1, u8::from(*b)]),
                        Value::Binary(bytes) => {
                            out.push(2);
                            put_bytes(&mut out, bytes, "an entry's value")?;
                        }
                        Value::String(text) => {
                            out.push(3);
                            put_bytes(&mut out, text.as_bytes(), "an entry's value")?;
                        }
                    }
                }
            }
            Body::Sponsorship { recipient } | Body::CancelSponsorship { recipient } => {
                out.extend_from_slice(recipient);
            }
            Body::Register { keys } => {
                put_len(&mut out, keys.len(), "the key list")?;
                for key in keys {
                    put_key(&mut out, key);
                }
            }
            Body::Burn { amount } => out.extend_from_slice(&amount.to_be_bytes()),
        }
        Ok(out)
    }

    /// The id: BLAKE2b-256 of the body.
    pub fn id(&self) -> Result<[u8; 32], EncodeError> {
        Ok(blake2b256(&self.body_bytes()?))
    }

    /// The whole transaction's bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>, EncodeError> {
        if self.proofs.len() > MAX_PROOFS {
            return Err(EncodeError(format!(
                "{} proofs; at most {MAX_PROOFS}",
                self.proofs.len()
            )));
        }
        let mut out = vec![0];
        out.extend_from_slice(&self.body_bytes()?);
        match &self.sponsor {
            None => out.push(0),
            Some(key) => put_key(&mut out, key),
        }
        out.push(1);
        out.extend_from_slice(&(self.proofs.len() as u16).to_be_bytes());
        for proof in &self.proofs {
            if proof.len() > MAX_PROOF_LEN {
                return Err(EncodeError(format!(
                    "a proof of {} bytes; at most {MAX_PROOF_LEN}",
                    proof.len()
                )));
            }
            put_len(&mut out, proof.len(), "a proof")?;
            out.extend_from_slice(proof);
        }
        Ok(out)
    }

    /// Signs the body with `key` (the sender's, for the first proof) and appends the proof.
    pub fn sign(&mut self, key: &KeyPair) -> Result<(), EncodeError> {
        let signature = key.sign(&self.body_bytes()?);
        self.proofs.push(signature.as_bytes().to_vec());
        Ok(())
    }

    /// Whether the first proof is the sender's signature of the body (ed25519 by Accord's one
    /// rule; ECDSA keys as `accord_crypto` verifies them).
    pub fn verify_sender(&self) -> bool {
        let (Some(proof), Ok(body)) = (self.proofs.first(), self.body_bytes()) else {
            return false;
        };
        let Ok(signature) = Signature::from_slice(proof) else {
            return false;
        };
        self.header.sender.verify(&body, &signature)
    }

    /// Reads a whole transaction (`0x00 ‖ body ‖ sponsor ‖ proofs`), all of `bytes`.
    pub fn from_bytes(bytes: &[u8]) -> Result<Transaction, DecodeError> {
        let mut r = Reader { bytes, at: 0 };
        let marker = r.u8("the leading 0x00")?;
        if marker != 0 {
            return Err(r.fail_before(
                1,
                format!("a transaction starts with 0x00, not {marker:#04x}"),
            ));
        }
        let type_id = r.u8("the type")?;
        let version = r.u8("the version")?;
        if version != 3 {
            return Err(r.fail_before(
                1,
                format!("version {version}: only version 3 is read so far"),
            ));
        }
        let network = r.u8("the network byte")?;
        let timestamp = r.u64("the timestamp")?;
        let sender = r.key("the sender's key")?;
        let fee = r.u64("the fee")?;
        let body = match type_id {
            ANCHOR => {
                let n = r.u16("the anchor count")?;
                let mut anchors = Vec::with_capacity(usize::from(n).min(128));
                for i in 0..n {
                    let len = r.u16(format_args!("anchor {i}'s length"))?;
                    anchors.push(
                        r.take(usize::from(len), format_args!("anchor {i}"))?
                            .to_vec(),
                    );
                }
                Body::Anchor { anchors }
            }
            MAPPED_ANCHOR => {
                let n = r.u16("the anchor count")?;
                let mut anchors = Vec::with_capacity(usize::from(n).min(128));
                for i in 0..n {
                    let key = r.bytes(format_args!("anchor {i}'s key"))?;
                    let value = r.bytes(format_args!("anchor {i}'s value"))?;
                    anchors.push((key, value));
                }
                Body::MappedAnchor { anchors }
            }
            TRANSFER => Body::Transfer {
                recipient: r.array("the recipient")?,
                amount: r.u64("the amount")?,
                attachment: r.bytes("the attachment")?,
            },
            LEASE => Body::Lease {
                recipient: r.array("the recipient")?,
                amount: r.u64("the amount")?,
            },
            CANCEL_LEASE => Body::CancelLease {
                lease: r.array("the lease id")?,
            },
            MASS_TRANSFER => {
                let n = r.u16("the transfer count")?;
                let mut transfers = Vec::with_capacity(usize::from(n).min(128));
                for i in 0..n {
                    let recipient = r.array(format_args!("transfer {i}'s recipient"))?;
                    let amount = r.u64(format_args!("transfer {i}'s amount"))?;
                    transfers.push((recipient, amount));
                }
                Body::MassTransfer {
                    transfers,
                    attachment: r.bytes("the attachment")?,
                }
            }
            DATA => {
                let n = r.u16("the entry count")?;
                let mut entries = Vec::with_capacity(usize::from(n).min(128));
                for i in 0..n {
                    let key = r.text(format_args!("entry {i}'s key"))?;
                    let kind_at = r.at;
                    let value = match r.u8(format_args!("entry {i}'s value type"))? {
                        0 => Value::Integer(r.u64(format_args!("entry {i}'s integer"))? as i64),
                        1 => match r.u8(format_args!("entry {i}'s boolean"))? {
                            0 => Value::Boolean(false),
                            1 => Value::Boolean(true),
                            other => {
                                return Err(r.fail_before(
                                    1,
                                    format!("entry {i}'s boolean is {other}, not 0 or 1"),
                                ));
                            }
                        },
                        2 => Value::Binary(r.bytes(format_args!("entry {i}'s binary value"))?),
                        3 => Value::String(r.text(format_args!("entry {i}'s string value"))?),
                        other => {
                            return Err(DecodeError {
                                at: kind_at,
                                what: format!(
                                    "entry {i}'s value type is {other}: 0 integer, 1 boolean, 2 binary, 3 string"
                                ),
                            });
                        }
                    };
                    entries.push((key, value));
                }
                Body::Data { entries }
            }
            SPONSORSHIP => Body::Sponsorship {
                recipient: r.array("the recipient")?,
            },
            CANCEL_SPONSORSHIP => Body::CancelSponsorship {
                recipient: r.array("the recipient")?,
            },
            REGISTER => {
                let n = r.u16("the key count")?;
                let mut keys = Vec::with_capacity(usize::from(n).min(128));
                for i in 0..n {
                    keys.push(r.key(format_args!("key {i}"))?);
                }
                Body::Register { keys }
            }
            BURN => Body::Burn {
                amount: r.u64("the amount")?,
            },
            other => {
                return Err(DecodeError {
                    at: 1,
                    what: format!(
                        "transaction type {other} is not read so far (transfer 4, lease 8, cancel lease 9, mass transfer 11, data 12, anchor 15, sponsorship 18, cancel sponsorship 19, register 20, burn 21, mapped anchor 22)"
                    ),
                });
            }
        };
        let sponsor = match r.peek("the sponsor")? {
            0 => {
                r.at += 1;
                None
            }
            _ => Some(r.key("the sponsor's key")?),
        };
        let proofs_version = r.u8("the proofs' version")?;
        if proofs_version != 1 {
            return Err(r.fail_before(
                1,
                format!("proofs version {proofs_version}; 1 is the only one"),
            ));
        }
        let n = usize::from(r.u16("the proof count")?);
        if n > MAX_PROOFS {
            return Err(r.fail_before(2, format!("{n} proofs; at most {MAX_PROOFS}")));
        }
        let mut proofs = Vec::with_capacity(n);
        for i in 0..n {
            let len = usize::from(r.u16(format_args!("proof {i}'s length"))?);
            if len > MAX_PROOF_LEN {
                return Err(r.fail_before(
                    2,
                    format!("proof {i} is {len} bytes; at most {MAX_PROOF_LEN}"),
                ));
            }
            proofs.push(r.take(len, format_args!("proof {i}"))?.to_vec());
        }
        if r.at != bytes.len() {
            return Err(r.fail_before(0, format!("{} bytes after the proofs", bytes.len() - r.at)));
        }
        Ok(Transaction {
            header: Header {
                version,
                network,
                timestamp,
                sender,
                fee,
            },
            body,
            sponsor,
            proofs,
        })
    }
}

struct Reader<'b> {
    bytes: &'b [u8],
    at: usize,
}

/// `what` names the field for an error; it is only formatted when there is one (decoding
/// allocates nothing for it on the way).
impl<'b> Reader<'b> {
    fn fail_before(&self, back: usize, what: String) -> DecodeError {
        DecodeError {
            at: self.at.saturating_sub(back),
            what,
        }
    }

    fn take(
        &mut self,
        n: usize,
        what: impl std::fmt::Display + Copy,
    ) -> Result<&'b [u8], DecodeError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|end| *end <= self.bytes.len());
        let Some(end) = end else {
            return Err(DecodeError {
                at: self.at,
                what: format!(
                    "{what} needs {n} bytes; {} are left",
                    self.bytes.len() - self.at
                ),
            });
        };
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }

    fn array<const N: usize>(
        &mut self,
        what: impl std::fmt::Display + Copy,
    ) -> Result<[u8; N], DecodeError> {
        Ok(self.take(N, what)?.try_into().expect("took N bytes"))
    }

    /// `u16 len ‖ bytes`.
    fn bytes(&mut self, what: impl std::fmt::Display + Copy) -> Result<Vec<u8>, DecodeError> {
        let len = usize::from(self.u16(format_args!("{what}'s length"))?);
        Ok(self.take(len, what)?.to_vec())
    }

    /// `u16 len ‖ UTF-8`.
    fn text(&mut self, what: impl std::fmt::Display + Copy) -> Result<String, DecodeError> {
        let start = self.at + 2;
        let bytes = self.bytes(what)?;
        String::from_utf8(bytes).map_err(|e| DecodeError {
            at: start + e.utf8_error().valid_up_to(),
            what: format!("{what} is not UTF-8"),
        })
    }

    fn peek(&self, what: impl std::fmt::Display + Copy) -> Result<u8, DecodeError> {
        self.bytes.get(self.at).copied().ok_or_else(|| DecodeError {
            at: self.at,
            what: format!("{what} is missing"),
        })
    }

    fn u8(&mut self, what: impl std::fmt::Display + Copy) -> Result<u8, DecodeError> {
        Ok(self.take(1, what)?[0])
    }

    fn u16(&mut self, what: impl std::fmt::Display + Copy) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(
            self.take(2, what)?.try_into().expect("2 bytes"),
        ))
    }

    fn u64(&mut self, what: impl std::fmt::Display + Copy) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(
            self.take(8, what)?.try_into().expect("8 bytes"),
        ))
    }

    fn key(&mut self, what: impl std::fmt::Display + Copy) -> Result<PublicKey, DecodeError> {
        let start = self.at;
        let id = self.u8(what)?;
        let key_type = KeyType::from_id(id).map_err(|e| DecodeError {
            at: start,
            what: format!("{what}: {e}"),
        })?;
        let bytes = self.take(key_type.public_key_len(), what)?;
        PublicKey::new(key_type, bytes).map_err(|e| DecodeError {
            at: start + 1,
            what: format!("{what}: {e}"),
        })
    }
}
