//! Base58 with the Bitcoin alphabet, as every LTO format uses it, with errors that say what is
//! wrong: the offending character and its position, or the length that was expected.

use thiserror::Error;

/// Why a base58 string could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Base58Error {
    /// A character outside the Bitcoin base58 alphabet (`0`, `O`, `I`, `l`, and anything
    /// that is not an ASCII letter or digit).
    #[error("invalid base58 character {character:?} at position {position}")]
    InvalidCharacter {
        /// The character found.
        character: char,
        /// Its index, counted in characters from 0.
        position: usize,
    },
    /// The string is far longer than any encoding of the expected number of bytes.
    #[error("expected {expected} bytes, but the text is {length} characters long")]
    TooLong {
        /// The number of bytes the field holds.
        expected: usize,
        /// The length of the text, in bytes.
        length: usize,
    },
    /// The string decoded, but not to the number of bytes this field holds.
    #[error("expected {expected} bytes, found {found}")]
    WrongLength {
        /// The number of bytes the field holds.
        expected: usize,
        /// The number of bytes the string decoded to.
        found: usize,
    },
}

/// Encodes bytes as base58.
pub fn encode(bytes: &[u8]) -> String {
    bs58::encode(bytes).into_string()
}

/// Decodes a base58 string of any length.
pub fn decode(text: &str) -> Result<Vec<u8>, Base58Error> {
    bs58::decode(text)
        .into_vec()
        .map_err(|err| map_error(text, err))
}

/// Decodes a base58 string that must hold exactly `N` bytes.
///
/// A string far longer than `N` bytes could need is refused before decoding: base58 decoding
/// takes time quadratic in the length, and a field of fixed size must not let a sender make
/// us spend it.
pub fn decode_array<const N: usize>(text: &str) -> Result<[u8; N], Base58Error> {
    // Each leading zero byte is one `1`; every other byte needs at most log(256)/log(58) ≈ 1.37
    // characters. Twice the byte count, plus slack, is a bound no valid encoding reaches.
    let bound = 2 * N + 2;
    if text.len() > bound {
        return Err(Base58Error::TooLong {
            expected: N,
            length: text.len(),
        });
    }
    let bytes = decode(text)?;
    <[u8; N]>::try_from(bytes.as_slice()).map_err(|_| Base58Error::WrongLength {
        expected: N,
        found: bytes.len(),
    })
}

fn map_error(text: &str, err: bs58::decode::Error) -> Base58Error {
    match err {
        bs58::decode::Error::InvalidCharacter { character, index } => {
            // bs58 reports a byte index; report the character index, which is what a person
            // counts when they look at the string.
            let position = text
                .char_indices()
                .position(|(byte_index, _)| byte_index == index)
                .unwrap_or(index);
            Base58Error::InvalidCharacter {
                character,
                position,
            }
        }
        bs58::decode::Error::NonAsciiCharacter { index } => {
            let position = text
                .char_indices()
                .position(|(byte_index, _)| byte_index == index)
                .unwrap_or(index);
            let character = text
                .get(index..)
                .and_then(|rest| rest.chars().next())
                .unwrap_or('\u{fffd}');
            Base58Error::InvalidCharacter {
                character,
                position,
            }
        }
        // `into_vec` grows its buffer as needed, so bs58 has no other error to give here;
        // its error type is non-exhaustive, so name the character position 0 rather than panic.
        _ => Base58Error::InvalidCharacter {
            character: text.chars().next().unwrap_or('\u{fffd}'),
            position: 0,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn names_the_bad_character_and_where_it_is() {
        assert_eq!(
            decode("abc0def"),
            Err(Base58Error::InvalidCharacter {
                character: '0',
                position: 3
            })
        );
        assert_eq!(
            decode("ab€c"),
            Err(Base58Error::InvalidCharacter {
                character: '€',
                position: 2
            })
        );
    }

    #[test]
    fn fixed_length_decoding_reports_the_length_found() {
        assert_eq!(
            decode_array::<32>("abc"),
            Err(Base58Error::WrongLength {
                expected: 32,
                found: 3
            })
        );
        let long = encode(&[7u8; 200]);
        assert_eq!(
            decode_array::<32>(&long),
            Err(Base58Error::TooLong {
                expected: 32,
                length: long.len()
            })
        );
        assert_eq!(
            decode_array::<32>(&encode(&[7u8; 33])),
            Err(Base58Error::WrongLength {
                expected: 32,
                found: 33
            })
        );
        let key = "FkU1XyfrCftc4pQKXCrrDyRLSnifX1SMvmx1CYiiyB3Y";
        assert_eq!(encode(&decode_array::<32>(key).unwrap()), key);
    }

    proptest! {
        #[test]
        fn round_trips(bytes in proptest::collection::vec(any::<u8>(), 0..100)) {
            prop_assert_eq!(decode(&encode(&bytes)).unwrap(), bytes.clone());
            if bytes.len() == 33 {
                prop_assert_eq!(decode_array::<33>(&encode(&bytes)).unwrap().to_vec(), bytes);
            }
        }

        #[test]
        fn never_panics(text in ".{0,120}") {
            let _ = decode(&text);
            let _ = decode_array::<32>(&text);
            let _ = decode_array::<64>(&text);
        }
    }
}
