//! The HTTPS client instant-acme talks to the CA through: hyper with a
//! ring-only rustls config that trusts the web roots plus the configured
//! `ca_root`, a time limit per request, and a memory of the last
//! Retry-After the CA sent (instant-acme's errors drop it, and rate-limit
//! retries must honour it).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::header::RETRY_AFTER;
use http::Request;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use instant_acme::{BodyWrapper, BytesResponse, Error, HttpClient};
use rustls::RootCertStore;
use rustls_pki_types::CertificateDer;
use wingress_sync::lock;

use crate::{ring_provider, TlsError};

/// No request to the CA may take longer.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

type Hyper = Client<hyper_rustls::HttpsConnector<HttpConnector>, BodyWrapper<Bytes>>;

#[derive(Clone)]
pub(crate) struct AcmeHttp {
    client: Hyper,
    retry_after: Arc<Mutex<Option<SystemTime>>>,
}

impl AcmeHttp {
    pub(crate) fn new(extra_roots: &[CertificateDer<'static>]) -> Result<Self, TlsError> {
        let mut roots = RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        for root in extra_roots {
            roots.add(root.clone())?;
        }
        let tls = rustls::ClientConfig::builder_with_provider(ring_provider())
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_only()
            .enable_http1()
            .build();
        Ok(AcmeHttp {
            client: Client::builder(TokioExecutor::new()).build(connector),
            retry_after: Arc::new(Mutex::new(None)),
        })
    }

    /// The Retry-After of the last 429 or 503 answer, taken (so an old one
    /// is never applied to a later error).
    pub(crate) fn take_retry_after(&self) -> Option<SystemTime> {
        lock(&self.retry_after).take()
    }
}

impl HttpClient for AcmeHttp {
    fn request(
        &self,
        req: Request<BodyWrapper<Bytes>>,
    ) -> Pin<Box<dyn Future<Output = Result<BytesResponse, Error>> + Send>> {
        let fut = self.client.request(req);
        let retry_after = Arc::clone(&self.retry_after);
        Box::pin(async move {
            let rsp = match tokio::time::timeout(REQUEST_TIMEOUT, fut).await {
                Ok(Ok(rsp)) => rsp,
                Ok(Err(e)) => return Err(Error::Other(Box::new(e))),
                Err(_) => return Err(Error::Other("the CA did not answer within 30 s".into())),
            };
            let status = rsp.status().as_u16();
            if status == 429 || status == 503 {
                if let Some(at) = rsp
                    .headers()
                    .get(RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| parse_retry_after(v, SystemTime::now()))
                {
                    *lock(&retry_after) = Some(at);
                }
            }
            Ok(BytesResponse::from(rsp))
        })
    }
}

/// `Retry-After`: delay-seconds or an HTTP-date (RFC 9110, 10.2.3) in any
/// of its three forms (IMF-fixdate, RFC 850, asctime), which recipients
/// must all accept (§5.6.7).
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<SystemTime> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return now.checked_add(Duration::from_secs(secs));
    }
    httpdate::parse_http_date(value).ok()
}

#[cfg(test)]
#[path = "http_tests.rs"]
mod tests;
