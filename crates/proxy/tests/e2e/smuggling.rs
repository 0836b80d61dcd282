//! The request-smuggling corpus (`smuggling_corpus`) against the proxy
//! in process, on a plain HTTP/1.1 connection per case.

use std::io::Write;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use wingress_proxy::{BackendAddr, HostMatch, Proxy, ProxyOptions};

use crate::smuggling_corpus::{read_statuses, run_corpus, Recorder};
use crate::support::*;

#[test]
fn every_request_is_refused_or_framed_once_for_the_backend() {
    run(async {
        let recorder = Recorder::start();
        let mut all = route(HostMatch::Any, "/", &[]);
        all.backends = vec![BackendAddr {
            host: "127.0.0.1".into(),
            port: recorder.addr.port(),
            scheme: wingress_proxy::BackendScheme::Http,
        }];
        let proxy = Proxy::new(vec![all], ProxyOptions::default());
        let addr = listen(&proxy, host_client()).await;
        // The exchanges block: off the thread the proxy runs on.
        let failures = tokio::task::spawn_blocking(move || {
            run_corpus(&recorder, |request| {
                let mut stream = std::net::TcpStream::connect(addr).unwrap();
                stream.write_all(request).unwrap();
                stream
                    .set_read_timeout(Some(Duration::from_millis(300)))
                    .unwrap();
                read_statuses(&mut stream)
            })
        })
        .await
        .unwrap();
        assert!(failures.is_empty(), "{failures:#?}");
    });
}

#[test]
fn a_get_with_a_chunked_body_keeps_it() {
    run(async {
        let a = backend("a").await;
        let proxy = Proxy::new(
            vec![route(exact("app.example"), "/", &[&a])],
            ProxyOptions::default(),
        );
        let addr = listen(&proxy, host_client()).await;
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(
                b"GET /upload HTTP/1.1\r\nHost: app.example\r\nTransfer-Encoding: chunked\r\n\r\n\
                  5\r\nhello\r\n0\r\n\r\n",
            )
            .await
            .unwrap();
        let (head, body) = tokio::time::timeout(Duration::from_secs(5), read_response(&mut stream))
            .await
            .unwrap();
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert_eq!(body, "bytes 5");
    });
}
