//! ACME certificates: ordered in the background for every managed name,
//! saved in the state directory, served through the [`CertStore`] and
//! renewed by the sans-IO [`plan::RenewalPlan`].
//!
//! [`AcmeManager::new`] loads what is on disk (no network), so valid
//! certificates serve from the first handshake; [`AcmeManager::spawn`]
//! starts the driver on its own thread and runtime, off the data plane;
//! [`AcmeManager::set_hosts`] changes the managed names (start-up and
//! reload); [`AcmeManager::status`] is the status snapshot.

mod dns;
mod http;
mod order;
mod plan;
mod propagation;
mod storage;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use instant_acme::{Account, CertificateIdentifier, ExternalAccountKey, NewAccount};
use rustls_pki_types::CertificateDer;

pub use dns::{DnsError, Rfc2136, TsigAlgorithm, TsigKey};
use http::AcmeHttp;
use order::{order, OrderContext};
use plan::{Phase, RenewalPlan};
use storage::{AcmeDir, CertInfo};
use wingress_sync::lock;

use crate::status::{rfc3339 as rfc3339_signed, CertSource, CertState, CertificateStatus};
use crate::{ring_provider, CertStore, TlsError};

/// The driver looks at the plan at least this often (clock jumps, suspend).
const MAX_SLEEP: Duration = Duration::from_secs(600);
/// An order failing with badNonce after instant-acme's own retries is
/// retried at once this many times before it counts as a failure.
const BAD_NONCE_RETRIES: u32 = 3;

/// The challenge for names without a wildcard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcmeChallenge {
    Http01,
    TlsAlpn01,
    Dns01,
}

impl AcmeChallenge {
    pub fn as_str(self) -> &'static str {
        match self {
            AcmeChallenge::Http01 => "http-01",
            AcmeChallenge::TlsAlpn01 => "tls-alpn-01",
            AcmeChallenge::Dns01 => "dns-01",
        }
    }
}

/// Everything the manager needs, read and checked by the caller.
pub struct AcmeSettings {
    pub directory: String,
    /// Without `mailto:`.
    pub email: Option<String>,
    /// Trusted for the directory's TLS besides the web roots.
    pub ca_roots: Vec<CertificateDer<'static>>,
    pub challenge: AcmeChallenge,
    /// External account binding: key id and the decoded HMAC key.
    pub eab: Option<(String, Vec<u8>)>,
    pub dns: Option<Rfc2136>,
}

/// HTTP-01 tokens → key authorizations, while their orders run.
#[derive(Default)]
pub(crate) struct Http01Tokens(Mutex<HashMap<String, String>>);

impl Http01Tokens {
    fn insert(&self, token: &str, key_auth: &str) {
        lock(&self.0).insert(token.to_owned(), key_auth.to_owned());
    }
    fn remove(&self, token: &str) {
        lock(&self.0).remove(token);
    }
    fn get(&self, token: &str) -> Option<String> {
        lock(&self.0).get(token).cloned()
    }
}

/// The handle the daemon keeps; cheap to clone, usable from any thread.
#[derive(Clone)]
pub struct AcmeManager {
    shared: Arc<Shared>,
}

struct Shared {
    settings: AcmeSettings,
    store: Arc<CertStore>,
    dir: AcmeDir,
    http: AcmeHttp,
    tokens: Http01Tokens,
    state: Mutex<State>,
    wake: tokio::sync::Notify,
    started: AtomicBool,
    stopped: AtomicBool,
}

struct State {
    plan: RenewalPlan,
    certs: HashMap<String, CertInfo>,
}

impl AcmeManager {
    /// Checks `names` against the settings and serves every valid
    /// certificate saved in `state_dir`; nothing touches the network.
    pub fn new(
        settings: AcmeSettings,
        store: Arc<CertStore>,
        state_dir: &std::path::Path,
        names: &[String],
    ) -> Result<AcmeManager, TlsError> {
        let http = AcmeHttp::new(&settings.ca_roots)?;
        let manager = AcmeManager {
            shared: Arc::new(Shared {
                settings,
                store,
                dir: AcmeDir::new(state_dir),
                http,
                tokens: Http01Tokens::default(),
                state: Mutex::new(State {
                    plan: RenewalPlan::new(),
                    certs: HashMap::new(),
                }),
                wake: tokio::sync::Notify::new(),
                started: AtomicBool::new(false),
                stopped: AtomicBool::new(false),
            }),
        };
        manager.set_hosts(names)?;
        Ok(manager)
    }

    /// Makes `names` (`app.example.com`, `*.example.com`) the managed set:
    /// new names load from disk or are ordered, removed names stop being
    /// served and renewed. Refuses (changing nothing) names the settings
    /// cannot get: a wildcard without DNS, a dns-01 name outside the zone.
    pub fn set_hosts(&self, names: &[String]) -> Result<(), TlsError> {
        let s = &self.shared;
        self.check_hosts(names)?;
        let mut names: Vec<String> = names.iter().map(|n| n.to_ascii_lowercase()).collect();
        names.sort();
        names.dedup();
        let now = unix_now();
        let provider = ring_provider();
        let mut state = lock(&s.state);
        let (added, removed) = state.plan.set_names(&names);
        for name in removed {
            state.certs.remove(&name);
            s.store.managed().remove(&name);
            tracing::info!(name, "no longer managing an ACME certificate for this name");
        }
        for name in added {
            match s.dir.load_cert(&provider, &name) {
                Some(stored) if stored.info.validity.not_after > now => {
                    tracing::info!(
                        name,
                        not_after = %rfc3339(stored.info.validity.not_after),
                        "serving the saved ACME certificate"
                    );
                    s.store.managed().serve(&name, stored.key);
                    state.plan.handle_loaded(&name, stored.info.validity, now);
                    state.certs.insert(name, stored.info);
                }
                _ => s
                    .store
                    .managed()
                    .set_pending(&name, "the first order has not completed yet".into()),
            }
        }
        drop(state);
        s.wake.notify_one();
        Ok(())
    }

    /// What [`AcmeManager::set_hosts`] would refuse, without changing
    /// anything (a reload checks before it applies).
    pub fn check_hosts(&self, names: &[String]) -> Result<(), TlsError> {
        names
            .iter()
            .try_for_each(|n| self.shared.check_name(&n.to_ascii_lowercase()))
    }

    /// Whether `other` is a handle to this same manager.
    pub fn same(&self, other: &AcmeManager) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }

    /// Stops the driver after the order under way, if any (its settings
    /// were replaced by a reload). Certificates already served stay.
    pub fn stop(&self) {
        self.shared.stopped.store(true, Ordering::Relaxed);
        self.shared.wake.notify_one();
    }

    /// Starts the driver on its own thread (with its own runtime, so
    /// orders never delay the data plane); later calls do nothing.
    pub fn spawn(&self) -> std::io::Result<()> {
        if self.shared.started.swap(true, Ordering::Relaxed) {
            return Ok(());
        }
        let shared = Arc::clone(&self.shared);
        std::thread::Builder::new()
            .name("wingress-acme".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(error) => {
                        tracing::error!(%error, "cannot start the ACME runtime; no certificates will be ordered");
                        return;
                    }
                };
                rt.block_on(shared.drive());
            })
            .map(drop)
    }

    /// The key authorization for an HTTP-01 token of a running order.
    pub fn http01_response(&self, token: &str) -> Option<String> {
        self.shared.tokens.get(token)
    }

    /// One entry per managed name, for the status document.
    pub fn status(&self) -> Vec<CertificateStatus> {
        let now = unix_now();
        let state = lock(&self.shared.state);
        state
            .plan
            .snapshot(now)
            .into_iter()
            .map(|s| {
                let info = state.certs.get(&s.name);
                let not_after = s
                    .cert
                    .map(|c| i64::try_from(c.not_after).unwrap_or(i64::MAX));
                let now = i64::try_from(now).unwrap_or(i64::MAX);
                CertificateStatus {
                    names: vec![s.name.clone()],
                    issuer: info.and_then(|i| i.issuer.clone()),
                    not_after: not_after.map(rfc3339_signed),
                    not_after_unix: not_after,
                    expires_in_secs: not_after.map(|t| t.saturating_sub(now)),
                    next_renewal: (s.next_order > 0).then(|| rfc3339(s.next_order)),
                    state: match s.phase {
                        Phase::Pending => CertState::Pending,
                        Phase::Valid => CertState::Valid,
                        Phase::Renewing => CertState::Renewing,
                        Phase::Expired => CertState::Expired,
                    },
                    last_error: s.last_error,
                    source: CertSource::Acme,
                    path: None,
                }
            })
            .collect()
    }
}

// === impl Shared: the driver ===

impl Shared {
    fn check_name(&self, name: &str) -> Result<(), TlsError> {
        let bad = |why: String| {
            Err(TlsError::AcmeName {
                name: name.to_owned(),
                why,
            })
        };
        let base = name.strip_prefix("*.").unwrap_or(name);
        if crate::hostname::HostName::parse(base).is_none()
            || base.parse::<std::net::IpAddr>().is_ok()
        {
            return bad("not a DNS name".into());
        }
        let uses_dns = name.starts_with("*.") || self.settings.challenge == AcmeChallenge::Dns01;
        match (&self.settings.dns, uses_dns) {
            (None, true) => {
                bad("wildcard names need the dns-01 challenge: add [tls.acme.dns]".into())
            }
            (Some(dns), true) if !dns.contains(base) => {
                bad(format!("not in the dns-01 zone {}", dns.zone()))
            }
            _ => Ok(()),
        }
    }

    async fn drive(self: Arc<Self>) {
        let mut account: Option<Account> = None;
        while !self.stopped.load(Ordering::Relaxed) {
            let now = unix_now();
            let (due, ari, next) = {
                let mut state = lock(&self.state);
                let due = state.plan.poll_due(now);
                let ari = if due.is_none() {
                    state.plan.poll_ari(now)
                } else {
                    None
                };
                (due, ari, state.plan.poll_timeout())
            };
            if let Some(name) = due {
                self.order_one(&mut account, &name).await;
                continue;
            }
            if let Some(name) = ari {
                self.check_renewal_window(&mut account, &name).await;
                continue;
            }
            let sleep = next.map_or(MAX_SLEEP, |t| Duration::from_secs(t.saturating_sub(now)));
            tokio::select! {
                () = tokio::time::sleep(sleep.min(MAX_SLEEP)) => {}
                () = self.wake.notified() => {}
            }
        }
    }

    /// The account, loaded from disk or created (and saved) on first use.
    async fn account(&self, cached: &mut Option<Account>) -> Result<Account, String> {
        if let Some(a) = cached {
            return Ok(a.clone());
        }
        let directory = &self.settings.directory;
        let mut attempt = 0;
        let account = loop {
            let builder = Account::builder_with_http(Box::new(self.http.clone()));
            let saved = self
                .dir
                .load_account(directory)
                .map_err(|e| e.to_string())?;
            let result = match saved {
                Some(creds) => builder.from_credentials(creds).await.map(|a| (a, None)),
                None => {
                    let contact: Vec<String> = self
                        .settings
                        .email
                        .iter()
                        .map(|e| format!("mailto:{e}"))
                        .collect();
                    let contact: Vec<&str> = contact.iter().map(String::as_str).collect();
                    let eab = self
                        .settings
                        .eab
                        .as_ref()
                        .map(|(kid, key)| ExternalAccountKey::new(kid.clone(), key));
                    let new = NewAccount {
                        contact: &contact,
                        terms_of_service_agreed: true,
                        only_return_existing: false,
                    };
                    builder
                        .create(&new, directory.clone(), eab.as_ref())
                        .await
                        .map(|(a, c)| (a, Some(c)))
                }
            };
            match result {
                Err(instant_acme::Error::Api(p))
                    if attempt < BAD_NONCE_RETRIES
                        && p.r#type
                            .as_deref()
                            .is_some_and(|t| t.ends_with(":badNonce")) =>
                {
                    attempt += 1;
                }
                Err(e) => return Err(format!("cannot reach the ACME account at {directory}: {e}")),
                Ok(ok) => break ok,
            }
        };
        let (account, created) = account;
        if let Some(creds) = created {
            self.dir
                .save_account(directory, creds)
                .map_err(|e| format!("cannot save the ACME account: {e}"))?;
            tracing::info!(directory, "created an ACME account");
        }
        *cached = Some(account.clone());
        Ok(account)
    }

    async fn order_one(&self, account: &mut Option<Account>, name: &str) {
        let renewing = lock(&self.state).certs.get(name).map(|i| i.leaf.clone());
        tracing::info!(
            name,
            renewal = renewing.is_some(),
            "ordering an ACME certificate"
        );
        let result = match self.account(account).await {
            Err(e) => Err((e, None)),
            Ok(acct) => {
                // Naming the certificate replaced lets an ARI-capable CA
                // treat the order as a renewal (RFC 9773, section 5).
                let mut replaces = renewing
                    .as_ref()
                    .filter(|_| lock(&self.state).plan.ari_enabled())
                    .and_then(|leaf| CertificateIdentifier::try_from(leaf).ok())
                    .map(CertificateIdentifier::into_owned);
                let cx = OrderContext {
                    account: &acct,
                    challenge: self.settings.challenge,
                    dns: self.settings.dns.as_ref(),
                    store: &self.store,
                    tokens: &self.tokens,
                };
                let mut attempt = 0;
                loop {
                    match order(&cx, name, replaces.clone()).await {
                        Err(e) if e.is_bad_nonce() && attempt < BAD_NONCE_RETRIES => {
                            attempt += 1;
                            tracing::debug!(name, "badNonce after retries; ordering again");
                        }
                        Err(e) if e.is_unsupported() && replaces.is_some() => {
                            lock(&self.state).plan.disable_ari();
                            replaces = None;
                        }
                        Err(e) => {
                            let retry_after = e
                                .is_rate_limited()
                                .then(|| self.http.take_retry_after())
                                .flatten()
                                .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
                                .map(|d| d.as_secs());
                            break Err((e.to_string(), retry_after));
                        }
                        Ok(issued) => break Ok(issued),
                    }
                }
            }
        };
        let now = unix_now();
        let saved = result.and_then(|(chain, key)| {
            self.dir
                .save_cert(&ring_provider(), name, &chain, &key)
                .map_err(|e| (format!("cannot use the issued certificate: {e}"), None))
        });
        let mut state = lock(&self.state);
        match saved {
            Ok(stored) => {
                if !state.plan.names().any(|n| n == name) {
                    return;
                }
                tracing::info!(
                    name,
                    issuer = stored.info.issuer.as_deref().unwrap_or("-"),
                    not_after = %rfc3339(stored.info.validity.not_after),
                    "{}",
                    if renewing.is_some() { "renewed ACME certificate" } else { "issued ACME certificate" }
                );
                self.store.managed().serve(name, stored.key);
                state.plan.handle_issued(name, stored.info.validity, now);
                state.certs.insert(name.to_owned(), stored.info);
            }
            Err((error, retry_after)) => {
                let Some(at) = state
                    .plan
                    .handle_failed(name, error.clone(), retry_after, now)
                else {
                    return;
                };
                self.store.managed().set_pending(name, error.clone());
                tracing::warn!(
                    name,
                    error,
                    retry_in_secs = at.saturating_sub(now),
                    serving_previous = renewing.is_some(),
                    "ACME order failed; will retry"
                );
            }
        }
    }

    /// Asks the CA for `name`'s renewal window (RFC 9773), where offered.
    async fn check_renewal_window(&self, account: &mut Option<Account>, name: &str) {
        let Some(leaf) = lock(&self.state).certs.get(name).map(|i| i.leaf.clone()) else {
            return;
        };
        // Only with an account already on disk: a window is not worth a
        // new account.
        if account.is_none()
            && !matches!(self.dir.load_account(&self.settings.directory), Ok(Some(_)))
        {
            return;
        }
        let acct = match self.account(account).await {
            Ok(a) => a,
            Err(error) => {
                tracing::debug!(name, error, "cannot check the renewal window");
                return;
            }
        };
        let Ok(id) = CertificateIdentifier::try_from(&leaf) else {
            lock(&self.state).plan.disable_ari();
            return;
        };
        match acct.renewal_info(&id).await {
            Ok((info, recheck)) => {
                let secs = |t: time::OffsetDateTime| u64::try_from(t.unix_timestamp()).unwrap_or(0);
                let mut random = [0u8; 8];
                let _ =
                    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut random);
                let (start, end) = (
                    secs(info.suggested_window.start),
                    secs(info.suggested_window.end),
                );
                tracing::debug!(name, start = %rfc3339(start), end = %rfc3339(end), "CA renewal window");
                lock(&self.state).plan.handle_window(
                    name,
                    start,
                    end,
                    u64::from_be_bytes(random),
                    Some(recheck.as_secs()),
                    unix_now(),
                );
            }
            Err(instant_acme::Error::Unsupported(_)) => {
                tracing::debug!("the CA offers no renewal information; renewing by lifetime");
                lock(&self.state).plan.disable_ari();
            }
            Err(error) => tracing::debug!(name, %error, "cannot fetch the renewal window"),
        }
    }
}

pub(crate) fn rfc3339(secs: u64) -> String {
    rfc3339_signed(i64::try_from(secs).unwrap_or(i64::MAX))
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
