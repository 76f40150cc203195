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
///
/// This is the hot path of reading a chain (four fixed-size fields an event), so it works on
/// 32-bit limbs, five characters at a time (58⁵ < 2³²), rather than byte by byte; the tests
/// check it against [`decode`] on arbitrary input.
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
    let bytes = text.as_bytes();
    let ones = bytes.iter().take_while(|&&b| b == b'1').count();
    // Big-endian 32-bit limbs, with one spare limb to see a value that overflows N bytes.
    let mut storage = [0u32; 130 / 4 + 1];
    let width = N.div_ceil(4) + 1;
    if width > storage.len() {
        // No fixed-size field is this large; fall back to the general decoder.
        return fallback(text);
    }
    let limbs = &mut storage[..width];
    for (chunk_index, chunk) in bytes[ones..].chunks(5).enumerate() {
        let mut value: u64 = 0;
        let mut scale: u64 = 1;
        for (offset, &byte) in chunk.iter().enumerate() {
            let digit = DIGITS[usize::from(byte)];
            if digit == 0xff {
                return Err(invalid_at(text, ones + chunk_index * 5 + offset));
            }
            value = value * 58 + u64::from(digit);
            scale *= 58;
        }
        let mut carry = value;
        for limb in limbs.iter_mut().rev() {
            let product = u64::from(*limb) * scale + carry;
            *limb = product as u32;
            carry = product >> 32;
        }
        if carry != 0 {
            return fallback(text);
        }
    }
    let mut full = [0u8; (130 / 4 + 1) * 4];
    let full = &mut full[..width * 4];
    for (out, limb) in full.chunks_exact_mut(4).zip(limbs.iter()) {
        out.copy_from_slice(&limb.to_be_bytes());
    }
    let significant = full
        .iter()
        .position(|&b| b != 0)
        .map_or(0, |i| full.len() - i);
    let found = ones + significant;
    if found != N {
        return Err(Base58Error::WrongLength { expected: N, found });
    }
    let mut out = [0u8; N];
    out[ones..].copy_from_slice(&full[full.len() - significant..]);
    Ok(out)
}

/// The general decoder, for the rare paths of [`decode_array`] (values wider than their field).
fn fallback<const N: usize>(text: &str) -> Result<[u8; N], Base58Error> {
    let bytes = decode(text)?;
    <[u8; N]>::try_from(bytes.as_slice()).map_err(|_| Base58Error::WrongLength {
        expected: N,
        found: bytes.len(),
    })
}

const ALPHABET: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/// The value of each byte as a base58 digit, or 0xff.
const DIGITS: [u8; 256] = {
    let mut table = [0xffu8; 256];
    let mut i = 0;
    while i < 58 {
        table[ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    table
};

/// The error for the byte at `byte_index`, named by character and character position.
fn invalid_at(text: &str, byte_index: usize) -> Base58Error {
    // The byte may sit inside a multi-byte character: find the character that holds it.
    let (position, character) = text
        .char_indices()
        .enumerate()
        .take_while(|(_, (start, _))| *start <= byte_index)
        .last()
        .map_or((0, '\u{fffd}'), |(position, (_, character))| {
            (position, character)
        });
    Base58Error::InvalidCharacter {
        character,
        position,
    }
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
        fn fixed_size_decoding_agrees_with_the_general_decoder(
            bytes in proptest::collection::vec(any::<u8>(), 0..70),
            zeros in 0usize..4,
            noise in ".{0,3}",
        ) {
            let mut input = vec![0u8; zeros];
            input.extend_from_slice(&bytes);
            let mut text = encode(&input);
            for candidate in [text.clone(), { text.push_str(&noise); text }] {
                let general = decode(&candidate);
                let fixed32 = decode_array::<32>(&candidate);
                let fixed64 = decode_array::<64>(&candidate);
                let fixed26 = decode_array::<26>(&candidate);
                match &general {
                    Ok(bytes) => {
                        for (n, fixed) in [(32, fixed32.map(|a| a.to_vec())), (64, fixed64.map(|a| a.to_vec())), (26, fixed26.map(|a| a.to_vec()))] {
                            if bytes.len() == n {
                                prop_assert_eq!(fixed.unwrap(), bytes.clone());
                            } else if candidate.len() <= 2 * n + 2 {
                                prop_assert_eq!(fixed, Err(Base58Error::WrongLength { expected: n, found: bytes.len() }));
                            } else {
                                let too_long = matches!(fixed, Err(Base58Error::TooLong { .. }));
                                prop_assert!(too_long);
                            }
                        }
                    }
                    Err(err) => {
                        if candidate.len() <= 66 {
                            prop_assert_eq!(fixed32, Err(err.clone()));
                        }
                    }
                }
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
