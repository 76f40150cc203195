//! Base58 with the Bitcoin alphabet, as every LTO format uses it, with errors that say what is
//! wrong: the offending character and its position, or the length that was expected.
//!
//! Base58 is a change of radix, so both directions take time quadratic in the length. Reading a
//! chain decodes four fixed-size fields an event, so this works on 32-bit limbs, five base58
//! digits at a time (58⁵ < 2³²), growing the number only as far as it reaches: about twenty
//! times fewer steps than the byte-by-byte method. Fixed-size fields refuse text longer than any
//! encoding of their size before decoding. The tests check both directions against the `bs58`
//! crate on arbitrary input.

use thiserror::Error;
use zeroize::Zeroize;

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

/// 58⁵, the largest power of 58 below 2³².
const RADIX5: u64 = 58 * 58 * 58 * 58 * 58;

/// Encodes bytes as base58.
pub fn encode(bytes: &[u8]) -> String {
    let zeros = bytes.iter().take_while(|&&b| b == 0).count();
    let rest = &bytes[zeros..];
    // The number, as little-endian base-58⁵ limbs, built up byte by byte.
    let mut limbs: Vec<u32> = Vec::with_capacity(rest.len() / 3 + 1);
    for &byte in rest {
        let mut carry = u64::from(byte);
        for limb in limbs.iter_mut() {
            let value = (u64::from(*limb) << 8) | carry;
            *limb = (value % RADIX5) as u32;
            carry = value / RADIX5;
        }
        while carry > 0 {
            limbs.push((carry % RADIX5) as u32);
            carry /= RADIX5;
        }
    }
    let mut digits: Vec<u8> = Vec::with_capacity(limbs.len() * 5 + zeros);
    for (n, limb) in limbs.iter().enumerate() {
        let mut limb = *limb;
        for _ in 0..5 {
            // The top limb's leading zero digits are not part of the number.
            if n + 1 == limbs.len() && limb == 0 {
                break;
            }
            digits.push(ALPHABET[(limb % 58) as usize]);
            limb /= 58;
        }
    }
    digits.extend(std::iter::repeat_n(b'1', zeros));
    digits.reverse();
    // Every byte pushed comes from the ASCII alphabet.
    String::from_utf8(digits).unwrap_or_default()
}

/// Decodes a base58 string of any length.
pub fn decode(text: &str) -> Result<Vec<u8>, Base58Error> {
    let bytes = text.as_bytes();
    let ones = bytes.iter().take_while(|&&b| b == b'1').count();
    // The number, as little-endian 32-bit limbs, grown as it needs.
    let mut limbs: Vec<u32> = Vec::with_capacity((bytes.len() - ones) * 6 / 32 + 1);
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
        for limb in limbs.iter_mut() {
            let product = u64::from(*limb) * scale + carry;
            *limb = product as u32;
            carry = product >> 32;
        }
        if carry > 0 {
            limbs.push(carry as u32);
        }
    }
    // Sized once, so that no reallocation leaves a copy of the bytes (which may be a private
    // key) behind; the limbs are wiped for the same reason.
    let mut out = Vec::with_capacity(ones + limbs.len() * 4);
    out.resize(ones, 0u8);
    let mut significant = false;
    for limb in limbs.iter().rev() {
        for byte in limb.to_be_bytes() {
            significant |= byte != 0;
            if significant {
                out.push(byte);
            }
        }
    }
    limbs.zeroize();
    Ok(out)
}

/// Decodes a base58 string that must hold exactly `N` bytes.
///
/// A string far longer than `N` bytes could need is refused before decoding, so that a field of
/// fixed size cannot make us spend quadratic time.
pub fn decode_array<const N: usize>(text: &str) -> Result<[u8; N], Base58Error> {
    // Each leading zero byte is one `1`; every other byte needs at most log(256)/log(58) ≈ 1.37
    // characters. Twice the byte count, plus slack, is a bound no valid encoding reaches.
    if text.len() > 2 * N + 2 {
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
        fn agrees_with_the_bs58_crate(bytes in proptest::collection::vec(any::<u8>(), 0..120), zeros in 0usize..4) {
            let mut input = vec![0u8; zeros];
            input.extend_from_slice(&bytes);
            let ours = encode(&input);
            prop_assert_eq!(&ours, &bs58::encode(&input).into_string());
            prop_assert_eq!(decode(&ours).unwrap(), input);
        }

        #[test]
        fn decodes_any_text_as_the_bs58_crate_does(text in "[1-9A-HJ-NP-Za-km-z]{0,90}|.{0,20}") {
            match bs58::decode(&text).into_vec() {
                Ok(theirs) => prop_assert_eq!(decode(&text).unwrap(), theirs),
                Err(_) => {
                    let is_invalid = matches!(decode(&text), Err(Base58Error::InvalidCharacter { .. }));
                    prop_assert!(is_invalid);
                }
            }
        }

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
