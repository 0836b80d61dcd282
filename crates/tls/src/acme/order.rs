//! One ACME order, start to finish: authorizations, the chosen challenge
//! provisioned (HTTP-01 token, TLS-ALPN-01 certificate, DNS-01 TXT record),
//! validation, finalization with a fresh P-256 key, and the clean-up of
//! everything provisioned, whatever the outcome.

use std::sync::Arc;
use std::time::Duration;

use instant_acme::{
    Account, AuthorizationStatus, CertificateIdentifier, ChallengeType, Identifier, NewOrder,
    OrderStatus, Problem, RetryPolicy,
};
use rcgen::{
    CertificateParams, CustomExtension, DistinguishedName, KeyPair, PKCS_ECDSA_P256_SHA256,
};
use rustls::sign::CertifiedKey;
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

use super::dns::{DnsError, Rfc2136};
use super::propagation;
use super::{AcmeChallenge, Http01Tokens};
use crate::{ring_provider, CertStore, TlsError};

/// The TXT record must be visible on every authoritative server within
/// this long.
const PROPAGATION_TIMEOUT: Duration = Duration::from_secs(120);

/// How validation and certificate issuance are polled.
fn poll_policy() -> RetryPolicy {
    RetryPolicy::new()
        .initial_delay(Duration::from_millis(250))
        .backoff(1.5)
        .timeout(Duration::from_secs(120))
}

/// Why an order failed. Messages name the domain and challenge where there
/// is one; they end up in logs and in `wingress status`.
#[derive(Debug, thiserror::Error)]
pub(crate) enum OrderError {
    #[error("{}", describe_acme(.0))]
    Acme(#[from] instant_acme::Error),
    #[error("authorization for {domain} failed ({challenge}): {detail}")]
    Authorization {
        domain: String,
        challenge: &'static str,
        detail: String,
    },
    #[error("the CA offers no {challenge} challenge for {domain}")]
    NoChallenge {
        domain: String,
        challenge: &'static str,
    },
    #[error("authorization for {domain} is {status:?}")]
    AuthorizationState {
        domain: String,
        status: AuthorizationStatus,
    },
    #[error("dns-01 for {domain}: {source}")]
    Dns {
        domain: String,
        #[source]
        source: Box<DnsError>,
    },
    #[error("dns-01 for {domain}: the TXT record at {record} did not appear within {}s on {waiting}", PROPAGATION_TIMEOUT.as_secs())]
    Propagation {
        domain: String,
        record: String,
        /// The authoritative servers without it, with their last answers.
        waiting: String,
    },
    #[error("the order ended {0:?} instead of ready")]
    OrderState(OrderStatus),
    #[error("{0}")]
    Tls(#[from] TlsError),
    #[error("cannot generate the key or request: {0}")]
    Generate(#[from] rcgen::Error),
}

impl OrderError {
    fn problem_type(&self) -> Option<&str> {
        match self {
            OrderError::Acme(instant_acme::Error::Api(p)) => p.r#type.as_deref(),
            _ => None,
        }
    }

    /// A rejected nonce survived instant-acme's own retries: the order is
    /// tried again at once.
    pub(crate) fn is_bad_nonce(&self) -> bool {
        self.problem_type()
            .is_some_and(|t| t.ends_with(":badNonce"))
    }

    /// The CA lacks a feature asked for (`replaces` without ARI).
    pub(crate) fn is_unsupported(&self) -> bool {
        matches!(self, OrderError::Acme(instant_acme::Error::Unsupported(_)))
    }

    pub(crate) fn is_rate_limited(&self) -> bool {
        self.problem_type()
            .is_some_and(|t| t.ends_with(":rateLimited"))
    }
}

fn describe_problem(p: &Problem) -> String {
    let mut s = p.detail.clone().unwrap_or_else(|| "no detail".into());
    if let Some(t) = &p.r#type {
        s.push_str(&format!(" ({t})"));
    }
    for sub in &p.subproblems {
        if let Some(d) = &sub.detail {
            s.push_str(&format!("; {d}"));
        }
    }
    s
}

fn describe_acme(e: &instant_acme::Error) -> String {
    match e {
        instant_acme::Error::Api(p) => format!("the CA refused: {}", describe_problem(p)),
        other => format!("acme: {other}"),
    }
}

/// What one order needs from the manager.
pub(crate) struct OrderContext<'a> {
    pub(crate) account: &'a Account,
    pub(crate) challenge: AcmeChallenge,
    pub(crate) dns: Option<&'a Rfc2136>,
    pub(crate) store: &'a CertStore,
    pub(crate) tokens: &'a Http01Tokens,
}

/// What was set up for the CA to look at, undone after the order.
enum Provisioned {
    Token(String),
    Alpn(String),
    Txt { record: String, value: String },
}

/// Orders a certificate for `name` (`app.example.com` or `*.example.com`);
/// returns the chain and the new key, both PEM.
pub(crate) async fn order(
    cx: &OrderContext<'_>,
    name: &str,
    replaces: Option<CertificateIdentifier<'static>>,
) -> Result<(String, String), OrderError> {
    let mut provisioned = Vec::new();
    let result = run(cx, name, replaces, &mut provisioned).await;
    for p in provisioned {
        match p {
            Provisioned::Token(token) => cx.tokens.remove(&token),
            Provisioned::Alpn(domain) => cx.store.managed().set_challenge(&domain, None),
            Provisioned::Txt { record, value } => {
                if let Some(dns) = cx.dns {
                    match dns.delete_txt(&record, &value).await {
                        Ok(()) => tracing::debug!(record, "removed the dns-01 TXT record"),
                        Err(error) => {
                            tracing::warn!(record, %error, "cannot remove the dns-01 TXT record")
                        }
                    }
                }
            }
        }
    }
    result
}

async fn run(
    cx: &OrderContext<'_>,
    name: &str,
    replaces: Option<CertificateIdentifier<'static>>,
    provisioned: &mut Vec<Provisioned>,
) -> Result<(String, String), OrderError> {
    let identifiers = [Identifier::Dns(name.to_owned())];
    let mut new_order = NewOrder::new(&identifiers);
    if let Some(id) = replaces {
        new_order = new_order.replaces(id);
    }
    let mut order = cx.account.new_order(&new_order).await?;

    let mut authorizations = order.authorizations();
    while let Some(authz) = authorizations.next().await {
        let mut authz = authz?;
        let ident = authz.identifier();
        let domain = ident.identifier_dns().to_owned();
        let wildcard = ident.wildcard;
        match authz.status {
            AuthorizationStatus::Pending => {}
            // Reused from an earlier order.
            AuthorizationStatus::Valid => continue,
            status => return Err(OrderError::AuthorizationState { domain, status }),
        }
        let kind = if wildcard {
            AcmeChallenge::Dns01
        } else {
            cx.challenge
        };
        let Some(mut challenge) = authz.challenge(challenge_type(kind)) else {
            return Err(OrderError::NoChallenge {
                domain,
                challenge: kind.as_str(),
            });
        };
        let key_auth = challenge.key_authorization();
        match kind {
            AcmeChallenge::Http01 => {
                cx.tokens.insert(&challenge.token, key_auth.as_str());
                provisioned.push(Provisioned::Token(challenge.token.clone()));
            }
            AcmeChallenge::TlsAlpn01 => {
                let cert = alpn_certificate(&domain, key_auth.digest().as_ref())?;
                cx.store.managed().set_challenge(&domain, Some(cert));
                provisioned.push(Provisioned::Alpn(domain.clone()));
            }
            AcmeChallenge::Dns01 => {
                let dns = cx.dns.ok_or_else(|| OrderError::NoChallenge {
                    domain: domain.clone(),
                    challenge: "dns-01 (no [tls.acme.dns])",
                })?;
                let record = format!("_acme-challenge.{domain}.");
                let value = key_auth.dns_value();
                let dns_error = |source| OrderError::Dns {
                    domain: domain.clone(),
                    source: Box::new(source),
                };
                dns.add_txt(&record, &value).await.map_err(dns_error)?;
                provisioned.push(Provisioned::Txt {
                    record: record.clone(),
                    value: value.clone(),
                });
                tracing::debug!(record, "published the dns-01 TXT record");
                wait_for_txt(dns, &domain, &record, &value).await?;
            }
        }
        challenge.set_ready().await?;
    }

    let status = match order.poll_ready(&poll_policy()).await {
        Ok(status) => status,
        Err(e) => return Err(explain_invalid(&mut order, e.into()).await),
    };
    if status != OrderStatus::Ready {
        return Err(explain_invalid(&mut order, OrderError::OrderState(status)).await);
    }

    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
    let mut params = CertificateParams::new(vec![name.to_owned()])?;
    params.distinguished_name = DistinguishedName::new();
    let csr = params.serialize_request(&key)?;
    order.finalize_csr(csr.der()).await?;
    let chain = order.poll_certificate(&poll_policy()).await?;
    Ok((chain, key.serialize_pem()))
}

/// After a failed validation: the first invalid authorization's domain,
/// challenge and the CA's problem detail, else `fallback`.
async fn explain_invalid(order: &mut instant_acme::Order, fallback: OrderError) -> OrderError {
    let mut authorizations = order.authorizations();
    while let Some(Ok(mut authz)) = authorizations.next().await {
        let Ok(state) = authz.refresh().await else {
            continue;
        };
        if state.status != AuthorizationStatus::Invalid {
            continue;
        }
        let domain = state.identifier().to_string();
        let failed = state.challenges.iter().find(|c| c.error.is_some());
        if let Some(c) = failed {
            return OrderError::Authorization {
                domain,
                challenge: challenge_name(&c.r#type),
                detail: c.error.as_ref().map(describe_problem).unwrap_or_default(),
            };
        }
    }
    fallback
}

/// Waits until every authoritative server of the zone serves `value` at
/// `record` (see [`propagation`]).
async fn wait_for_txt(
    dns: &Rfc2136,
    domain: &str,
    record: &str,
    value: &str,
) -> Result<(), OrderError> {
    let deadline = tokio::time::Instant::now() + PROPAGATION_TIMEOUT;
    let servers = propagation::authoritative_servers(dns).await;
    tracing::info!(
        record,
        servers = %propagation::list(&servers),
        "waiting for the dns-01 TXT record on the zone's authoritative servers"
    );
    match propagation::wait_for_txt(servers, record, value, deadline).await {
        Ok(()) => {
            tracing::debug!(
                record,
                "the dns-01 TXT record is on every authoritative server"
            );
            Ok(())
        }
        Err(waiting) => Err(OrderError::Propagation {
            domain: domain.to_owned(),
            record: record.to_owned(),
            waiting: propagation::describe(&waiting),
        }),
    }
}

/// The self-signed certificate RFC 8737 asks for: the domain as its only
/// SAN and the critical acmeIdentifier extension holding SHA-256 of the
/// key authorization.
pub(crate) fn alpn_certificate(
    domain: &str,
    digest: &[u8],
) -> Result<Arc<CertifiedKey>, OrderError> {
    let mut params = CertificateParams::new(vec![domain.to_owned()])?;
    params.distinguished_name = DistinguishedName::new();
    params.custom_extensions = vec![CustomExtension::new_acme_identifier(digest)];
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
    let cert = params.self_signed(&key)?;
    let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let signer = ring_provider()
        .key_provider
        .load_private_key(der)
        .map_err(TlsError::from)?;
    Ok(Arc::new(CertifiedKey::new(
        vec![cert.der().clone()],
        signer,
    )))
}

fn challenge_type(kind: AcmeChallenge) -> ChallengeType {
    match kind {
        AcmeChallenge::Http01 => ChallengeType::Http01,
        AcmeChallenge::TlsAlpn01 => ChallengeType::TlsAlpn01,
        AcmeChallenge::Dns01 => ChallengeType::Dns01,
    }
}

fn challenge_name(t: &ChallengeType) -> &'static str {
    match t {
        ChallengeType::Http01 => "http-01",
        ChallengeType::TlsAlpn01 => "tls-alpn-01",
        ChallengeType::Dns01 => "dns-01",
        _ => "other challenge",
    }
}

/// The DNS name of an authorization's identifier, without `*.`.
trait IdentifierDns {
    fn identifier_dns(&self) -> &str;
}

impl IdentifierDns for instant_acme::AuthorizedIdentifier<'_> {
    fn identifier_dns(&self) -> &str {
        match self.identifier {
            Identifier::Dns(d) => d,
            _ => "",
        }
    }
}
