//! Signed tokens: share links and session cookies are dot-separated fields followed by an
//! HMAC-SHA256 over them, keyed with a secret kept in the configuration directory (so
//! links and sessions outlive a restart of the streamer). The first field names the kind
//! of token, so one kind can never be passed off as another.

use std::path::Path;

use ring::hmac;

use super::AuthError;
use super::password::{hex, random};

pub struct Signer {
    key: hmac::Key,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer(..)")
    }
}

/// Whether `s` may be one field of a token (and of a cookie value, and of a URL query).
pub fn is_field(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl Signer {
    pub fn new(secret: &[u8]) -> Self {
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret),
        }
    }

    /// The key in `path` (32 random bytes, created 0600 on first use).
    pub fn load_or_create(path: &Path) -> Result<Self, AuthError> {
        match std::fs::read(path) {
            Ok(bytes) if bytes.len() >= 32 => return Ok(Self::new(&bytes)),
            Ok(_) => return Err(AuthError::BadFile(path.display().to_string())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(AuthError::io(path, e)),
        }
        let mut secret = [0u8; 32];
        random(&mut secret)?;
        super::write_private(path, &secret)?;
        Ok(Self::new(&secret))
    }

    /// `fields` (each [`is_field`]) joined by dots, then the signature.
    pub fn sign(&self, fields: &[&str]) -> String {
        let payload = fields.join(".");
        let tag = hmac::sign(&self.key, payload.as_bytes());
        format!("{payload}.{}", hex(tag.as_ref()))
    }

    /// The fields of a token whose signature is right, else `None`.
    pub fn verify<'a>(&self, token: &'a str) -> Option<Vec<&'a str>> {
        let (payload, sig) = token.rsplit_once('.')?;
        let sig = unhex(sig)?;
        hmac::verify(&self.key, payload.as_bytes(), &sig).ok()?;
        Some(payload.split('.').collect())
    }
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_fields_round_trip_and_tampering_fails() {
        let s = Signer::new(b"0123456789abcdef0123456789abcdef");
        let t = s.sign(&["l", "abc", "viewer", "1700000000"]);
        assert_eq!(s.verify(&t), Some(vec!["l", "abc", "viewer", "1700000000"]));
        let forged = t.replace("viewer", "controller");
        assert_eq!(
            s.verify(&forged),
            None,
            "a changed field breaks the signature"
        );
        let other = Signer::new(b"another key, another signature!!");
        assert_eq!(other.verify(&t), None);
        assert_eq!(s.verify("no-signature"), None);
        assert_eq!(s.verify("a.zz"), None);
        assert!(is_field("abc-DEF_09"));
        assert!(!is_field("a.b"));
        assert!(!is_field(""));
        assert!(!is_field("a;b"));
    }

    #[test]
    fn the_key_is_kept_private_and_reused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("key");
        let a = Signer::load_or_create(&path).expect("created");
        let b = Signer::load_or_create(&path).expect("loaded");
        let t = a.sign(&["s", "x"]);
        assert!(b.verify(&t).is_some(), "same key after a restart");
        let mode = std::fs::metadata(&path).expect("key").permissions();
        assert_eq!(std::os::unix::fs::PermissionsExt::mode(&mode) & 0o077, 0);
    }
}
