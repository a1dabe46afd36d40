//! The key connection secrets are encrypted under: read from `JUNCTION_SECRET_KEY`, or
//! from the file generated in the data directory at first start. Each value is sealed
//! with AES-256-GCM (the RustCrypto `aes-gcm` crate) under a fresh random nonce, so
//! equal secrets give unequal ciphertexts, and a value sealed under another key, or
//! changed in the database, does not open at all.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use rand::RngCore;
use std::path::{Path, PathBuf};

/// What a sealed value starts with: the format, so that a later one can be told apart.
const SEALED_PREFIX: &str = "v1:";
const NONCE_BYTES: usize = 12;
/// The file a generated key is kept in, inside the data directory.
pub const KEY_FILE: &str = "secret.key";

/// An encryption key for secrets at rest.
#[derive(Clone)]
pub struct SecretKey {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(..)")
    }
}

/// A sealed value that does not open: another key sealed it, or it was changed.
#[derive(Debug, thiserror::Error)]
#[error("a stored secret does not decrypt with this key")]
pub struct WrongKey;

/// Where the key came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeySource {
    /// `JUNCTION_SECRET_KEY`.
    Environment,
    /// The key file in the data directory, generated now or at an earlier start.
    File { path: PathBuf, generated: bool },
}

impl SecretKey {
    /// A new random key (the operating system's generator, through `rand`).
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        Self::from_bytes(&bytes)
    }

    fn from_bytes(bytes: &[u8; 32]) -> Self {
        Self {
            cipher: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(bytes)),
        }
    }

    /// Reads a key as written: 64 hexadecimal digits, or 32 bytes in base64.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let bytes: Option<Vec<u8>> = if text.len() == 64 {
            (0..64)
                .step_by(2)
                .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
                .collect()
        } else {
            BASE64.decode(text).ok()
        };
        match bytes.as_deref().map(<[u8; 32]>::try_from) {
            Some(Ok(bytes)) => Ok(Self::from_bytes(&bytes)),
            _ => Err(
                "a secret key is 64 hexadecimal digits (32 bytes; base64 is accepted too)".into(),
            ),
        }
    }

    /// The key from `configured` (the environment variable) or from the key file in
    /// `data_dir`; with neither, a new key is written to the file when `may_generate`
    /// (nothing is encrypted yet), and otherwise it is an error saying what to do.
    pub fn load(
        configured: Option<&str>,
        data_dir: &Path,
        may_generate: bool,
    ) -> Result<(Self, KeySource), String> {
        if let Some(text) = configured.filter(|text| !text.trim().is_empty()) {
            let key = Self::parse(text).map_err(|why| format!("JUNCTION_SECRET_KEY: {why}"))?;
            return Ok((key, KeySource::Environment));
        }
        let path = data_dir.join(KEY_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let key = Self::parse(&text).map_err(|why| format!("{}: {why}", path.display()))?;
                Ok((
                    key,
                    KeySource::File {
                        path,
                        generated: false,
                    },
                ))
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound && may_generate => {
                let mut bytes = [0u8; 32];
                rand::rng().fill_bytes(&mut bytes);
                write_key_file(&path, &bytes)?;
                Ok((
                    Self::from_bytes(&bytes),
                    KeySource::File {
                        path,
                        generated: true,
                    },
                ))
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Err(format!(
                "this database holds encrypted secrets, and there is no key to read them: set \
                 JUNCTION_SECRET_KEY, or put back {}",
                path.display()
            )),
            Err(err) => Err(format!("cannot read {}: {err}", path.display())),
        }
    }

    /// Encrypts `plain` under a fresh nonce: `v1:` and the nonce and ciphertext in base64.
    pub fn seal(&self, plain: &[u8]) -> String {
        let mut nonce = [0u8; NONCE_BYTES];
        rand::rng().fill_bytes(&mut nonce);
        // Encryption with AES-GCM fails only for inputs of gigabytes, which a secret
        // (at most a few kilobytes) never is.
        let sealed = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), plain)
            .unwrap_or_default();
        let mut bytes = nonce.to_vec();
        bytes.extend(sealed);
        format!("{SEALED_PREFIX}{}", BASE64.encode(bytes))
    }

    /// Decrypts what [`SecretKey::seal`] made with this key.
    pub fn open(&self, sealed: &str) -> Result<Vec<u8>, WrongKey> {
        let bytes = sealed
            .strip_prefix(SEALED_PREFIX)
            .and_then(|text| BASE64.decode(text).ok())
            .ok_or(WrongKey)?;
        if bytes.len() < NONCE_BYTES {
            return Err(WrongKey);
        }
        let (nonce, sealed) = bytes.split_at(NONCE_BYTES);
        self.cipher
            .decrypt(Nonce::from_slice(nonce), sealed)
            .map_err(|_| WrongKey)
    }

    /// The key as written to a key file.
    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// Writes a key file readable by its owner only, whole or not at all.
pub fn write_key_file(path: &Path, bytes: &[u8; 32]) -> Result<(), String> {
    let partial = path.with_extension("key.partial");
    let write = || -> std::io::Result<()> {
        use std::io::Write;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&partial)?;
        file.write_all(format!("{}\n", SecretKey::hex(bytes)).as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&partial, path)
    };
    write().map_err(|err| format!("cannot write the secret key to {}: {err}", path.display()))
}

/// A new key's bytes, for rotation (written to a file before the database changes).
pub fn new_key_bytes() -> [u8; 32] {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    bytes
}

impl From<&[u8; 32]> for SecretKey {
    fn from(bytes: &[u8; 32]) -> Self {
        Self::from_bytes(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_value_opens_with_its_key_and_no_other() {
        let key = SecretKey::generate();
        let sealed = key.seal(b"hunter2");
        assert!(!sealed.contains("hunter2"));
        assert_eq!(key.open(&sealed).unwrap(), b"hunter2");
        assert!(SecretKey::generate().open(&sealed).is_err());
    }

    #[test]
    fn equal_secrets_seal_to_unequal_text() {
        let key = SecretKey::generate();
        assert_ne!(key.seal(b"same"), key.seal(b"same"));
    }

    #[test]
    fn a_changed_ciphertext_does_not_open() {
        let key = SecretKey::generate();
        let mut sealed = key.seal(b"value").into_bytes();
        let last = sealed.len() - 3;
        sealed[last] = if sealed[last] == b'A' { b'B' } else { b'A' };
        assert!(key.open(&String::from_utf8(sealed).unwrap()).is_err());
    }

    #[test]
    fn a_key_is_64_hex_digits_or_32_bytes_of_base64() {
        assert!(SecretKey::parse(&"ab".repeat(32)).is_ok());
        assert!(SecretKey::parse(&BASE64.encode([7u8; 32])).is_ok());
        assert!(SecretKey::parse("short").is_err());
        assert!(SecretKey::parse(&"zz".repeat(32)).is_err());
    }

    #[test]
    fn a_key_is_generated_once_into_the_data_directory_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let (key, source) = SecretKey::load(None, dir.path(), true).unwrap();
        assert!(matches!(
            source,
            KeySource::File {
                generated: true,
                ..
            }
        ));
        let sealed = key.seal(b"x");
        let (again, source) = SecretKey::load(None, dir.path(), true).unwrap();
        assert!(matches!(
            source,
            KeySource::File {
                generated: false,
                ..
            }
        ));
        assert_eq!(again.open(&sealed).unwrap(), b"x");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn without_a_key_where_secrets_exist_loading_says_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let err = SecretKey::load(None, dir.path(), false).unwrap_err();
        assert!(err.contains("JUNCTION_SECRET_KEY"), "{err}");
    }
}
