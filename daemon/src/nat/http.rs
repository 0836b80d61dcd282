//! The HTTP the UPnP IGD protocol needs: GET a device description, POST a
//! SOAP action. One connection per request (gateways close them anyway),
//! hyper's HTTP/1.1 client, bodies capped.

use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use wingress_nat::upnp::{HttpUrl, SoapRequest};
use wingress_nat::HttpResponse;

/// A description or SOAP reply larger than this is not a gateway's.
const MAX_BODY: usize = 256 * 1024;
const LIMIT: Duration = Duration::from_secs(5);

/// GET `url`, or POST `soap` to it.
pub(crate) async fn fetch(url: &HttpUrl, soap: Option<&SoapRequest>) -> Result<HttpResponse> {
    tokio::time::timeout(LIMIT, exchange(url, soap))
        .await
        .map_err(|_| anyhow!("no answer within {LIMIT:?}"))?
}

async fn exchange(url: &HttpUrl, soap: Option<&SoapRequest>) -> Result<HttpResponse> {
    let stream = TcpStream::connect(url.addr)
        .await
        .with_context(|| format!("cannot connect to {}", url.addr))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::task::spawn_local(async move {
        let _ = conn.await;
    });
    let builder = http::Request::builder()
        .uri(url.path.as_str())
        .header(http::header::HOST, url.addr.to_string())
        .header(http::header::CONNECTION, "close");
    let request = match soap {
        None => builder.method("GET").body(Full::new(Bytes::new()))?,
        Some(s) => builder
            .method("POST")
            .header(http::header::CONTENT_TYPE, "text/xml; charset=\"utf-8\"")
            .header("SOAPAction", s.soap_action.as_str())
            .body(Full::new(Bytes::from(s.body.clone())))?,
    };
    let response = sender.send_request(request).await?;
    let status = response.status().as_u16();
    let body = Limited::new(response.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(|e| anyhow!("reading the reply: {e}"))?
        .to_bytes();
    let Ok(body) = String::from_utf8(body.to_vec()) else {
        bail!("the reply is not UTF-8");
    };
    Ok(HttpResponse { status, body })
}
