//! The owner's password: Argon2id hashes only (the generated password is shown once in the
//! log and never written down in clear), and a generator for that first password.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use ring::rand::{SecureRandom, SystemRandom};

use super::AuthError;

/// Characters of generated passwords: no look-alikes (0/O, 1/l/I).
const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// A PHC-format Argon2id hash of `password` with a fresh random salt.
pub fn hash(password: &str) -> Result<String, AuthError> {
    let mut salt = [0u8; 16];
    random(&mut salt)?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| AuthError::Hash(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AuthError::Hash(e.to_string()))
}

/// Whether `password` matches the PHC `hash` (constant time in the hash comparison).
pub fn verify(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// Whether `hash` is a PHC string this module can check.
pub fn is_valid_hash(hash: &str) -> bool {
    PasswordHash::new(hash).is_ok()
}

/// A fresh password of `len` characters (about 5.8 bits each).
pub fn generate(len: usize) -> Result<String, AuthError> {
    let mut bytes = vec![0u8; len];
    let mut out = String::with_capacity(len);
    // Rejection sampling keeps every character equally likely.
    while out.len() < len {
        random(&mut bytes)?;
        for b in &bytes {
            let limit = 256 - 256 % ALPHABET.len();
            if usize::from(*b) < limit && out.len() < len {
                out.push(char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]));
            }
        }
    }
    Ok(out)
}

/// A short digest of the stored hash: owner sessions carry it, so changing the password
/// ends every owner session made with the old one.
pub fn fingerprint(hash: &str) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, hash.as_bytes());
    hex(&d.as_ref()[..8])
}

pub fn random(buf: &mut [u8]) -> Result<(), AuthError> {
    SystemRandom::new().fill(buf).map_err(|_| AuthError::Random)
}

pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// `n` random bytes as hex: session and link ids.
pub fn random_id(n: usize) -> Result<String, AuthError> {
    let mut b = vec![0u8; n];
    random(&mut b)?;
    Ok(hex(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_only_their_password() {
        let h = hash("correct horse").expect("hash");
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(is_valid_hash(&h));
        assert!(verify("correct horse", &h));
        assert!(!verify("correct horse ", &h));
        assert!(!verify("", &h));
        assert!(!verify("correct horse", "not a hash"));
        // A fresh salt each time: the same password hashes differently.
        let again = hash("correct horse").expect("hash");
        assert_ne!(h, again);
        assert_ne!(fingerprint(&h), fingerprint(&again));
        assert_eq!(fingerprint(&h).len(), 16);
    }

    #[test]
    fn generated_passwords_are_long_and_differ() {
        let a = generate(20).expect("password");
        let b = generate(20).expect("password");
        assert_eq!(a.len(), 20);
        assert_ne!(a, b);
        assert!(a.bytes().all(|c| ALPHABET.contains(&c)), "{a}");
        assert_eq!(random_id(16).expect("id").len(), 32);
    }
}
