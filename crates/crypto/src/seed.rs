//! Seed phrases: the LTO way (any text; new ones are 15 words of the BIP-39 English list, each
//! chosen by a random 32-bit number modulo 2048, as the reference client does) and BIP-39
//! mnemonics for secp256k1.

use std::fmt;

use zeroize::Zeroizing;

/// A seed phrase. Zeroized on drop; `Debug` shows only how many words it has.
#[derive(Clone, PartialEq, Eq)]
pub struct SeedPhrase(Zeroizing<String>);

/// The number of words in a new LTO seed phrase (about 165 bits of entropy).
pub const DEFAULT_WORDS: usize = 15;

impl SeedPhrase {
    /// Wraps a phrase. Any text is a phrase: the ed25519 derivation hashes it as it is.
    pub fn new(phrase: impl Into<String>) -> Self {
        SeedPhrase(Zeroizing::new(phrase.into()))
    }

    /// A new phrase of `words` words from the BIP-39 English list, each picked by 32 bits of
    /// `random` (which must hold `4 × words` bytes) modulo 2048, as the reference client does.
    /// 2³² is a multiple of 2048, so every word is equally likely.
    ///
    /// # Panics
    /// If `random` holds fewer than `4 × words` bytes (a programming error, not an input one).
    pub fn from_random(words: usize, random: &[u8]) -> Self {
        assert!(random.len() >= 4 * words, "need 4 random bytes a word");
        let list = bip39::Language::English.word_list();
        let mut phrase = Zeroizing::new(String::with_capacity(words * 9));
        for (index, chunk) in random.chunks_exact(4).take(words).enumerate() {
            let number = u32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
            if index > 0 {
                phrase.push(' ');
            }
            phrase.push_str(list[(number % 2048) as usize]);
        }
        SeedPhrase(phrase)
    }

    /// A new phrase of `words` words, drawn from the operating system's random source.
    pub fn generate(words: usize) -> Result<Self, getrandom::Error> {
        let mut random = Zeroizing::new(vec![0u8; 4 * words]);
        getrandom::fill(&mut random)?;
        Ok(Self::from_random(words, &random))
    }

    /// A new 12-word BIP-39 mnemonic (128 bits of entropy with its checksum), the kind the
    /// reference client makes for secp256k1 keys.
    pub fn generate_mnemonic() -> Result<Self, getrandom::Error> {
        let mut entropy = Zeroizing::new([0u8; 16]);
        getrandom::fill(entropy.as_mut())?;
        // 16 bytes is a valid BIP-39 entropy length, so this cannot fail.
        match bip39::Mnemonic::from_entropy(entropy.as_ref()) {
            Ok(mnemonic) => Ok(SeedPhrase::new(mnemonic.to_string())),
            Err(_) => unreachable!("16 bytes is a valid BIP-39 entropy length"),
        }
    }

    /// The phrase.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The number of words.
    pub fn word_count(&self) -> usize {
        self.0.split_whitespace().count()
    }
}

impl fmt::Debug for SeedPhrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SeedPhrase({} words, hidden)", self.word_count())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_come_from_the_list_by_modulo() {
        // 0 → "abandon", 2047 → "zoo", 2048 wraps to "abandon", 2049 → "ability".
        let random: Vec<u8> = [0u32, 2047, 2048, 2049]
            .iter()
            .flat_map(|n| n.to_be_bytes())
            .collect();
        let phrase = SeedPhrase::from_random(4, &random);
        assert_eq!(phrase.as_str(), "abandon zoo abandon ability");
        assert_eq!(format!("{phrase:?}"), "SeedPhrase(4 words, hidden)");
    }

    #[test]
    fn generated_phrases_differ_and_have_the_asked_length() {
        let a = SeedPhrase::generate(DEFAULT_WORDS).unwrap();
        let b = SeedPhrase::generate(DEFAULT_WORDS).unwrap();
        assert_eq!(a.word_count(), 15);
        assert_ne!(a, b);
        let m = SeedPhrase::generate_mnemonic().unwrap();
        assert_eq!(m.word_count(), 12);
        assert!(bip39::Mnemonic::parse(m.as_str()).is_ok());
    }
}
