//! `<hash>`: message digests and HMACs, printed as lowercase hex.
//!
//! Behaves like PHP's `hash()` / `hash_hmac()` for the algorithms the
//! data-enricher exposes: `md5`, `sha1`, `sha256`, `sha512` and `crc32`.
//!
//! PHP's `crc32` hash algorithm (not the `crc32()` function, and not `crc32b`)
//! is CRC-32/BZIP2: polynomial 0x04C11DB7 fed most-significant bit first,
//! initial value 0xFFFFFFFF, final xor 0xFFFFFFFF, and its four result bytes
//! printed in little-endian order. HMAC over it uses a 4-byte block, which is
//! what PHP before 7.2 did (7.2 and later refuse `hash_hmac('crc32', ...)`);
//! we follow the older behaviour so the reference test values hold.
//!
//! HMAC (RFC 2104) is implemented here, generically over the block size.

use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};

/// The algorithm names accepted by [`hash`], in the order shown in errors.
pub const ALGORITHMS: [&str; 5] = ["md5", "sha1", "sha256", "sha512", "crc32"];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Algo {
    Md5,
    Sha1,
    Sha256,
    Sha512,
    Crc32,
}

impl Algo {
    fn from_name(name: &str) -> Option<Algo> {
        match name {
            "md5" => Some(Algo::Md5),
            "sha1" => Some(Algo::Sha1),
            "sha256" => Some(Algo::Sha256),
            "sha512" => Some(Algo::Sha512),
            "crc32" => Some(Algo::Crc32),
            _ => None,
        }
    }

    /// The input block size in bytes, as HMAC needs it.
    fn block_size(self) -> usize {
        match self {
            Algo::Md5 | Algo::Sha1 | Algo::Sha256 => 64,
            Algo::Sha512 => 128,
            Algo::Crc32 => 4,
        }
    }

    /// The digest of the concatenation of `parts`.
    fn digest(self, parts: &[&[u8]]) -> Vec<u8> {
        fn run<D: Digest>(parts: &[&[u8]]) -> Vec<u8> {
            let mut d = D::new();
            for p in parts {
                d.update(p);
            }
            d.finalize().to_vec()
        }
        match self {
            Algo::Md5 => run::<Md5>(parts),
            Algo::Sha1 => run::<Sha1>(parts),
            Algo::Sha256 => run::<Sha256>(parts),
            Algo::Sha512 => run::<Sha512>(parts),
            Algo::Crc32 => {
                let mut crc = Crc32Bzip2::new();
                for p in parts {
                    crc.update(p);
                }
                crc.finish().to_vec()
            }
        }
    }
}

/// CRC-32/BZIP2, bit by bit through a 256-entry table built at compile time.
struct Crc32Bzip2 {
    state: u32,
}

const CRC_POLY: u32 = 0x04C1_1DB7;

const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = (i as u32) << 24;
        let mut bit = 0;
        while bit < 8 {
            c = if c & 0x8000_0000 != 0 {
                (c << 1) ^ CRC_POLY
            } else {
                c << 1
            };
            bit += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
};

impl Crc32Bzip2 {
    fn new() -> Self {
        Crc32Bzip2 { state: 0xFFFF_FFFF }
    }

    fn update(&mut self, data: &[u8]) {
        for &b in data {
            // The top byte of the state, xor the input byte: always < 256.
            let idx = self.state.to_be_bytes()[0] ^ b;
            self.state = (self.state << 8) ^ CRC_TABLE[usize::from(idx)];
        }
    }

    /// The final value, as PHP prints it: little-endian bytes.
    fn finish(&self) -> [u8; 4] {
        (self.state ^ 0xFFFF_FFFF).to_le_bytes()
    }
}

/// HMAC (RFC 2104) of `message` under `key`, for any algorithm in [`Algo`].
fn hmac(algo: Algo, key: &[u8], message: &[u8]) -> Vec<u8> {
    let block = algo.block_size();
    let mut k: Vec<u8> = if key.len() > block {
        algo.digest(&[key])
    } else {
        key.to_vec()
    };
    k.resize(block.max(k.len()), 0);
    let ipad: Vec<u8> = k.iter().map(|b| b ^ 0x36).collect();
    let opad: Vec<u8> = k.iter().map(|b| b ^ 0x5C).collect();
    let inner = algo.digest(&[&ipad, message]);
    algo.digest(&[&opad, &inner])
}

fn to_hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0x0F)]));
    }
    out
}

/// The `algo` digest of `input` (or its HMAC under `hmac_key`), in lowercase hex.
///
/// An empty key is used as given (an HMAC under the empty key); callers that
/// follow PHP's truthiness should pass `None` for `""` and `"0"`.
pub fn hash(input: &str, algo: &str, hmac_key: Option<&str>) -> Result<String, String> {
    let a = Algo::from_name(algo).ok_or_else(|| {
        format!(
            "unknown hash algorithm `{algo}`; supported: {}",
            ALGORITHMS.join(", ")
        )
    })?;
    let bytes = match hmac_key {
        Some(key) => hmac(a, key.as_bytes(), input.as_bytes()),
        None => a.digest(&[input.as_bytes()]),
    };
    Ok(to_hex(&bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(algo: &str, key: Option<&str>) -> String {
        hash("foo", algo, key).unwrap()
    }

    #[test]
    fn spec_vectors() {
        assert_eq!(h("md5", None), "acbd18db4cc2f85cedef654fccc4a4d8");
        assert_eq!(h("md5", Some("bar")), "31b6db9e5eb4addb42f1a6ca07367adc");
        assert_eq!(h("sha1", None), "0beec7b5ea3f0fdbc95d0dd47f3c5bc275da8a33");
        assert_eq!(
            h("sha1", Some("bar")),
            "85d155c55ed286a300bd1cf124de08d87e914f3a"
        );
        assert_eq!(
            h("sha256", None),
            "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"
        );
        assert_eq!(
            h("sha256", Some("bar")),
            "147933218aaabc0b8b10a2b3a5c34684c8d94341bcf10a4736dc7270f7741851"
        );
        assert_eq!(
            h("sha512", None),
            "f7fbba6e0636f890e56fbbf3283e524c6fa3204ae298382d624741d0dc6638326e282c41be5e4254d8820772c5518a2c5a8c0c7f7eda19594a7eb539453e1ed7"
        );
        assert_eq!(
            h("sha512", Some("bar")),
            "24257d7210582a65c731ec55159c8184cc24c02489453e58587f71f44c23a2d61b4b72154a89d17b2d49448a8452ea066f4fc56a2bcead45c088572ffccdb3d8"
        );
        assert_eq!(h("crc32", None), "a5c4fe49");
        assert_eq!(h("crc32", Some("bar")), "fb231313");
    }

    #[test]
    fn crc32_check_value() {
        // The catalogued check value of CRC-32/BZIP2 over "123456789" is
        // 0xFC891918; PHP prints it little-endian.
        assert_eq!(hash("123456789", "crc32", None).unwrap(), "181989fc");
        // Empty input: 0xFFFFFFFF ^ 0xFFFFFFFF = 0.
        assert_eq!(hash("", "crc32", None).unwrap(), "00000000");
    }

    #[test]
    fn rfc_4231_and_2202_vectors() {
        // RFC 4231 test case 2.
        assert_eq!(
            hash("what do ya want for nothing?", "sha256", Some("Jefe")).unwrap(),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // RFC 2202 test case 2 (MD5 and SHA-1).
        assert_eq!(
            hash("what do ya want for nothing?", "md5", Some("Jefe")).unwrap(),
            "750c783e6ab0b503eaa86e310a5db738"
        );
        assert_eq!(
            hash("what do ya want for nothing?", "sha1", Some("Jefe")).unwrap(),
            "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"
        );
        // A key longer than the block is hashed first (values from Python's hmac).
        let long_key = "k".repeat(200);
        assert_eq!(
            hash("msg", "sha512", Some(&long_key)).unwrap(),
            "b5245971beb52a5a986812c4666a05c735bf5bb7aba32eae2192adad605df4112d6c285d1c46cf81ccb7ab8c2c3b7b3c6793216909b5add05223ed21f24cdb1e"
        );
        assert_eq!(
            hash("msg", "md5", Some(&long_key)).unwrap(),
            "d318fd033415c0f938b087d5645e0045"
        );
        // crc32 with a key longer than its 4-byte block.
        // (value from an independent Python model of PHP's HMAC-crc32).
        assert_eq!(hash("msg", "crc32", Some(&long_key)).unwrap(), "3f49663c");
    }

    #[test]
    fn unknown_algorithm() {
        let e = hash("foo", "sha3", None).unwrap_err();
        assert!(e.contains("sha3"), "{e}");
        assert!(e.contains("md5, sha1, sha256, sha512, crc32"), "{e}");
        assert!(hash("foo", "MD5", None).is_err());
        assert!(hash("foo", "", None).is_err());
    }

    #[test]
    fn empty_key_and_empty_input() {
        assert_eq!(
            hash("", "md5", None).unwrap(),
            "d41d8cd98f00b204e9800998ecf8427e"
        );
        // HMAC-MD5 with an empty key and empty message.
        assert_eq!(
            hash("", "md5", Some("")).unwrap(),
            "74e6f7298a9c2d168935f58c001bad88"
        );
    }
}
