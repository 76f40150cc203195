//! LTO addresses: `0x01 ‖ network ‖ secureHash(publicKey)[0..20] ‖ checksum[4]`, with
//! `checksum = secureHash(first 22 bytes)[0..4]`, in base58.

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

use crate::base58::{self, Base58Error};
use crate::hash::secure_hash;
use crate::keys::PublicKey;

/// The address version byte.
pub const ADDRESS_VERSION: u8 = 1;

/// The mainnet network byte, `L`.
pub const MAINNET: u8 = b'L';
/// The testnet network byte, `T`.
pub const TESTNET: u8 = b'T';

/// A valid address: right length, version and checksum. Every `Address` value is one.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Address([u8; 26]);

/// Why text is not a valid address.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AddressError {
    /// Not base58, or not 26 bytes.
    #[error("not an address: {0}")]
    Base58(#[from] Base58Error),
    /// The first byte is not the address version, 1.
    #[error("not an address: version byte is {0}, expected 1")]
    Version(u8),
    /// The last four bytes are not the checksum of the rest (a mistyped address).
    #[error("address checksum does not match (mistyped?)")]
    Checksum,
    /// A valid address of another network.
    #[error("address is for network {found:?}, expected {expected:?}")]
    Network {
        /// The network asked for.
        expected: char,
        /// The network of the address.
        found: char,
    },
}

impl Address {
    /// The address of a public key on a network.
    pub fn from_public_key(public_key: &PublicKey, network: u8) -> Self {
        let mut bytes = [0u8; 26];
        bytes[0] = ADDRESS_VERSION;
        bytes[1] = network;
        bytes[2..22].copy_from_slice(&secure_hash(public_key.as_bytes())[..20]);
        let checksum = secure_hash(&bytes[..22]);
        bytes[22..].copy_from_slice(&checksum[..4]);
        Address(bytes)
    }

    /// Parses an address and checks that it is on `network`.
    pub fn parse_on(text: &str, network: u8) -> Result<Self, AddressError> {
        let address: Address = text.parse()?;
        if address.network() != network {
            return Err(AddressError::Network {
                expected: network as char,
                found: address.network() as char,
            });
        }
        Ok(address)
    }

    /// An address from its 26 bytes, checked.
    pub fn from_bytes(bytes: [u8; 26]) -> Result<Self, AddressError> {
        if bytes[0] != ADDRESS_VERSION {
            return Err(AddressError::Version(bytes[0]));
        }
        if secure_hash(&bytes[..22])[..4] != bytes[22..] {
            return Err(AddressError::Checksum);
        }
        Ok(Address(bytes))
    }

    /// The network byte.
    pub fn network(&self) -> u8 {
        self.0[1]
    }

    /// Whether this is the address of `public_key` (on this address's network).
    pub fn is_of(&self, public_key: &PublicKey) -> bool {
        Address::from_public_key(public_key, self.network()) == *self
    }

    /// The 26 bytes.
    pub fn as_bytes(&self) -> &[u8; 26] {
        &self.0
    }

    /// The address in base58.
    pub fn to_base58(&self) -> String {
        base58::encode(&self.0)
    }
}

impl FromStr for Address {
    type Err = AddressError;

    fn from_str(text: &str) -> Result<Self, AddressError> {
        Address::from_bytes(base58::decode_array::<26>(text)?)
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_base58())
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Address({})", self.to_base58())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_mistyped_address_is_caught() {
        let good = "3N4mZ1qTrjWKnzBwAxscf7kfkoCs2HGQhJG";
        let address: Address = good.parse().unwrap();
        assert_eq!(address.network(), TESTNET);
        assert_eq!(address.to_base58(), good);
        let typo = "3N4mZ1qTrjWKnzBwAxscf7kfkoCs2HGQhJH";
        assert_eq!(typo.parse::<Address>(), Err(AddressError::Checksum));
        assert_eq!(
            Address::parse_on(good, MAINNET),
            Err(AddressError::Network {
                expected: 'L',
                found: 'T'
            })
        );
        assert!(matches!(
            "3N4mZ".parse::<Address>(),
            Err(AddressError::Base58(Base58Error::WrongLength { .. }))
        ));
    }

    proptest! {
        #[test]
        fn every_network_byte_round_trips(key in any::<[u8; 32]>(), network in any::<u8>()) {
            let public_key = PublicKey::ed25519(key);
            let address = Address::from_public_key(&public_key, network);
            let parsed: Address = address.to_base58().parse().unwrap();
            prop_assert_eq!(parsed, address);
            prop_assert_eq!(parsed.network(), network);
            prop_assert!(parsed.is_of(&public_key));
        }
    }
}
