//! Human intent (flow 2, docs/authz.md): a simulated secure element per device. It holds a
//! P-256 key bound to one eUICC's EID and, after a confirmation step, signs what the person
//! confirmed: (EID, operation, ICCID, card nonce) as [`rsp::authz::intent_data`]. The eUICC
//! verifies the signature with the SE's public key registered in its policy.
//!
//! The key file (mode 0600) is a PKCS #8 PEM block preceded by one line naming the EID it is
//! bound to (format version 1):
//!
//! ```text
//! veuicc-se v1 EID 89049032000000000000000000000077
//! -----BEGIN PRIVATE KEY-----
//! …
//! ```
//!
//! `KEY.pub` beside it holds the public key in hex (what `veuicc authz-policy --intent-key`
//! takes). The SE refuses to sign for another EID. The confirmation is a [`Confirmer`]: scripted
//! ([`Confirm::Yes`] / [`Confirm::No`]) or a question on the terminal ([`Confirm::Ask`]).

use std::fmt;
use std::io::{BufRead, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rsp::authz::{intent_data, Operation};
use rsp::keys::EcKey;
use veuicc::euicc::records::iccid_digits;

/// First line of a key file, before the EID.
pub const HEADER: &str = "veuicc-se v1 EID ";

/// Secure-element failures. They never carry key material.
#[derive(Debug, thiserror::Error)]
pub enum IntentError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: not a secure-element key file ({reason})", path.display())]
    Format { path: PathBuf, reason: String },
    #[error("the secure element in {} is bound to EID {bound}, not {asked}", path.display())]
    WrongEid {
        path: PathBuf,
        bound: String,
        asked: String,
    },
    #[error("the user declined {0} on the secure element")]
    Declined(String),
}

/// What the person is asked to confirm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    pub eid: [u8; 16],
    pub operation: Operation,
    /// EF.ICCID form, empty for eUICC-wide operations.
    pub iccid: Vec<u8>,
}

impl fmt::Display for Prompt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.operation {
            Operation::Install => "install a new profile".to_string(),
            Operation::MemoryReset => "erase the profiles (eUICC memory reset)".to_string(),
            Operation::Firmware => "update the eUICC firmware".to_string(),
            Operation::Policy => "change the eUICC's admin policy".to_string(),
            op => format!("{op} profile {}", iccid_digits(&self.iccid)),
        };
        write!(f, "{what} on eUICC {}", hex::encode_upper(self.eid))
    }
}

/// The confirmation step.
pub trait Confirmer {
    /// Whether the person confirms `prompt`.
    fn confirm(&mut self, prompt: &Prompt) -> bool;
}

/// Scripted or interactive confirmation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirm {
    /// Confirmed (scripted: `--confirm yes`).
    Yes,
    /// Declined (scripted: `--confirm no`).
    No,
    /// Ask on the terminal (`/dev/tty`, else stdin): `y` or `yes` confirms.
    Ask,
}

impl std::str::FromStr for Confirm {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "yes" | "y" | "true" => Ok(Confirm::Yes),
            "no" | "n" | "false" => Ok(Confirm::No),
            "ask" | "prompt" => Ok(Confirm::Ask),
            _ => Err(format!("--confirm takes yes, no or ask, not {s:?}")),
        }
    }
}

impl Confirmer for Confirm {
    fn confirm(&mut self, prompt: &Prompt) -> bool {
        match self {
            Confirm::Yes => true,
            Confirm::No => false,
            Confirm::Ask => {
                eprint!("Secure element: {prompt}? Type yes to confirm: ");
                let _ = std::io::stderr().flush();
                let mut line = String::new();
                let read = match std::fs::File::open("/dev/tty") {
                    Ok(tty) => std::io::BufReader::new(tty).read_line(&mut line),
                    Err(_) => std::io::stdin().lock().read_line(&mut line),
                };
                read.is_ok() && matches!(line.trim().to_ascii_lowercase().as_str(), "y" | "yes")
            }
        }
    }
}

/// A simulated secure element.
pub struct SecureElement {
    key: EcKey,
    eid: [u8; 16],
    path: PathBuf,
}

impl fmt::Debug for SecureElement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecureElement")
            .field("eid", &hex::encode_upper(self.eid))
            .field("path", &self.path)
            .field("key", &"<redacted>")
            .finish()
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> IntentError + '_ {
    move |source| IntentError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The `.pub` file beside a key file.
pub fn pub_path(key_path: &Path) -> PathBuf {
    let mut p = key_path.as_os_str().to_owned();
    p.push(".pub");
    PathBuf::from(p)
}

impl SecureElement {
    /// A new key bound to `eid` in `path` (0600), with `path.pub`. An existing file bound to
    /// the same EID is opened instead; one bound to another EID is an error.
    pub fn create(path: &Path, eid: [u8; 16]) -> Result<SecureElement, IntentError> {
        if path.exists() {
            let se = SecureElement::open(path)?;
            if se.eid != eid {
                return Err(IntentError::WrongEid {
                    path: path.to_path_buf(),
                    bound: hex::encode_upper(se.eid),
                    asked: hex::encode_upper(eid),
                });
            }
            se.write_pub()?;
            return Ok(se);
        }
        let key = EcKey::generate_os().map_err(|e| IntentError::Format {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        let pem = key.to_pkcs8_pem().map_err(|e| IntentError::Format {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        let mut text = zeroize::Zeroizing::new(format!("{HEADER}{}\n", hex::encode_upper(eid)));
        text.push_str(&pem);
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io(dir))?;
        }
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(io(path))?;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(io(path))?;
        f.write_all(text.as_bytes()).map_err(io(path))?;
        f.sync_all().map_err(io(path))?;
        let se = SecureElement {
            key,
            eid,
            path: path.to_path_buf(),
        };
        se.write_pub()?;
        Ok(se)
    }

    /// Opens a key file.
    pub fn open(path: &Path) -> Result<SecureElement, IntentError> {
        let bytes = zeroize::Zeroizing::new(std::fs::read(path).map_err(io(path))?);
        let bad = |reason: &str| IntentError::Format {
            path: path.to_path_buf(),
            reason: reason.to_string(),
        };
        let text = std::str::from_utf8(&bytes).map_err(|_| bad("not text"))?;
        let first = text.lines().next().unwrap_or_default();
        let eid_hex = first
            .strip_prefix(HEADER)
            .ok_or_else(|| bad("no \"veuicc-se v1 EID\" line"))?;
        let eid: [u8; 16] = hex::decode(eid_hex.trim())
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| bad("the EID is not 32 hex digits"))?;
        let key = EcKey::from_pem(text).map_err(|e| bad(&e.to_string()))?;
        Ok(SecureElement {
            key,
            eid,
            path: path.to_path_buf(),
        })
    }

    fn write_pub(&self) -> Result<(), IntentError> {
        let p = pub_path(&self.path);
        std::fs::write(&p, format!("{}\n", hex::encode_upper(self.public_key()))).map_err(io(&p))
    }

    /// The EID the key is bound to.
    pub fn eid(&self) -> [u8; 16] {
        self.eid
    }

    /// The public key (uncompressed point).
    pub fn public_key(&self) -> [u8; 65] {
        self.key.public_key_uncompressed()
    }

    /// Asks `confirmer`, then signs (EID, operation, ICCID, nonce).
    pub fn confirm_and_sign(
        &self,
        eid: &[u8; 16],
        operation: Operation,
        iccid: &[u8],
        nonce: &[u8; 16],
        confirmer: &mut dyn Confirmer,
    ) -> Result<[u8; 64], IntentError> {
        if *eid != self.eid {
            return Err(IntentError::WrongEid {
                path: self.path.clone(),
                bound: hex::encode_upper(self.eid),
                asked: hex::encode_upper(eid),
            });
        }
        let prompt = Prompt {
            eid: *eid,
            operation,
            iccid: iccid.to_vec(),
        };
        if !confirmer.confirm(&prompt) {
            return Err(IntentError::Declined(prompt.to_string()));
        }
        Ok(self
            .key
            .sign_raw(&intent_data(eid, operation, iccid, nonce)))
    }
}
