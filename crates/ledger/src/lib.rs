//! The public ledger's pure core: LTO Network transactions (and, as the ledger issue goes on,
//! blocks, the state transition and Fair Proof-of-Stake), byte for byte as the reference chain
//! (ltonetwork/lto-public-chain) and its clients write them.
//!
//! A tour:
//! - [`tx`]: transactions in the v3 layout: a body (type, version, network, timestamp, sender,
//!   fee, then the type's fields), a sponsor and proofs; the id is BLAKE2b-256 of the body,
//!   which is what the sender (and a sponsor) sign. Built so far, in v3: transfer (4), lease
//!   (8), cancel lease (9), mass transfer (11), data (12), anchor (15), sponsorship (18),
//!   cancel sponsorship (19), register (20), burn (21), mapped anchor (22).
//!
//! Rule: no I/O, no clock, no randomness; decoding never panics and names the byte where
//! the input goes wrong.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod tx;

pub use tx::{Body, DecodeError, Header, Transaction, Value};
