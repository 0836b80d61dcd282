//! The request-smuggling corpus (`smuggling_corpus`) against the proxy
//! in process, on a plain HTTP/1.1 connection per case.

use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use wingress_proxy::{BackendAddr, HostMatch, Proxy, ProxyOptions};

use crate::smuggling_corpus::{check, read_statuses, Recorder, Seen, CORPUS};
use crate::support::*;

/// Waits until the recorder has `n` connections (it records one once the
/// proxy has closed it), then takes them.
async fn seen(recorder: &Recorder, n: usize) -> Vec<Seen> {
    for _ in 0..100 {
        if recorder.seen.lock().unwrap().len() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    recorder.take()
}

#[test]
fn every_request_is_refused_or_framed_once_for_the_backend() {
    run(async {
        let recorder = Recorder::start();
        let mut all = route(HostMatch::Any, "/", &[]);
        all.backends = vec![BackendAddr {
            host: "127.0.0.1".into(),
            port: recorder.addr.port(),
        }];
        let proxy = Proxy::new(vec![all], ProxyOptions::default());
        let addr = listen(&proxy, host_client()).await;
        let mut failures = Vec::new();
        for case in CORPUS {
            let mut stream = TcpStream::connect(addr).await.unwrap();
            stream.write_all(case.request).await.unwrap();
            let std = stream.into_std().unwrap();
            std.set_nonblocking(false).unwrap();
            std.set_read_timeout(Some(Duration::from_millis(300)))
                .unwrap();
            // Blocking reads on the test's thread would stall the proxy,
            // which runs there too.
            let statuses = tokio::task::spawn_blocking(move || {
                let mut std = std;
                read_statuses(&mut std)
            })
            .await
            .unwrap();
            let forwarded = statuses.iter().filter(|s| **s == 200).count();
            let seen = seen(&recorder, forwarded).await;
            if let Err(e) = check(case, &statuses, &seen) {
                failures.push(e);
            }
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        let late = recorder.take();
        assert!(late.is_empty(), "late backend requests: {late:?}");
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
