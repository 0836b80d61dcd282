//! The crate's one error type.

use std::fmt;
use std::path::PathBuf;

/// Everything that can go wrong loading, issuing or serving certificates.
///
/// File errors name the file; messages are lowercase and say what happened.
#[derive(thiserror::Error, Debug)]
#[non_exhaustive]
pub enum TlsError {
    /// Reading, writing or creating a file or directory failed.
    #[error("cannot access {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The file is not well-formed PEM.
    #[error("cannot parse PEM in {}: {message}", path.display())]
    Pem { path: PathBuf, message: String },

    /// The file holds no `CERTIFICATE` section.
    #[error("no certificate found in {}", path.display())]
    NoCertInPem { path: PathBuf },

    /// The file holds no PKCS#8, SEC1 or PKCS#1 private key.
    #[error("no private key found in {}", path.display())]
    NoKeyInPem { path: PathBuf },

    /// The certificate's DER is not a certificate webpki can use.
    #[error("invalid certificate in {}: {source}", path.display())]
    BadCertificate {
        path: PathBuf,
        #[source]
        source: webpki::Error,
    },

    /// The private key parsed but the crypto provider cannot sign with it.
    #[error("unusable private key in {}: {source}", path.display())]
    BadKey {
        path: PathBuf,
        #[source]
        source: rustls::Error,
    },

    /// The private key is not the one the certificate was issued for.
    #[error("private key {} does not match certificate {}", key.display(), cert.display())]
    KeyMismatch { cert: PathBuf, key: PathBuf },

    /// The internal CA is disabled and none exists on disk.
    #[error("internal ca is disabled and none exists in the state directory")]
    NoInternalCa,

    /// A leaf the internal CA just issued does not verify against the CA,
    /// typically because the CA itself has expired.
    #[error("internal ca issued a certificate that does not verify (is the ca expired?): {0}")]
    IssuedCertRejected(#[source] webpki::Error),

    /// Certificate or key generation failed.
    #[error("cannot generate certificate: {0}")]
    Generate(#[from] rcgen::Error),

    /// rustls rejected the configuration (or the system RNG failed).
    #[error("tls error: {0}")]
    Rustls(#[from] rustls::Error),

    /// The client-certificate verifier could not be built.
    #[error("cannot build client certificate verifier: {0}")]
    ClientVerifier(#[from] rustls::server::VerifierBuilderError),

    /// A secret file (TSIG, EAB key) that group or others can read.
    #[error("permissions {mode:04o} for secret {} are too open: it must not be readable by group or others.\nFix with: chmod 600 {}", path.display(), path.display())]
    SecretExposed { path: PathBuf, mode: u32 },

    /// A secret file whose contents are not what it should hold.
    #[error("secret {}: {why}", path.display())]
    BadSecret { path: PathBuf, why: &'static str },

    /// A name ACME cannot get a certificate for with these settings.
    #[error("no ACME certificate possible for `{name}`: {why}")]
    AcmeName { name: String, why: String },

    /// A name a certificate from memory is to be served for is neither a
    /// DNS name nor `*.` and one.
    #[error("`{name}` is not a server name a certificate can be chosen for")]
    BadServerName { name: String },

    /// Several independent files failed (one entry each), so all are reported at once.
    #[error("{}", Joined(.0))]
    Multiple(Vec<TlsError>),
}

impl TlsError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| TlsError::Io { path, source }
    }

    /// One error stays itself; several become [`TlsError::Multiple`].
    pub(crate) fn from_many(mut errors: Vec<TlsError>) -> Option<TlsError> {
        match errors.len() {
            0 => None,
            1 => errors.pop(),
            _ => Some(TlsError::Multiple(errors)),
        }
    }
}

struct Joined<'a>(&'a [TlsError]);

impl fmt::Display for Joined<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}
