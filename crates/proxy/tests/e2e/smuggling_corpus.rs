//! Request-smuggling corpus, shared by the proxy's in-process test and the
//! daemon's test (host and tunnel entrypoints, through TLS): raw requests
//! with conflicting or odd framing, the statuses the client must get, and
//! a raw TCP backend that records exactly what reaches it.
//!
//! The rule every entry pins: a request is refused, or the backend sees
//! each request with exactly one framing (one `Content-Length`, or
//! `Transfer-Encoding: chunked` alone, or none with no body), a body that
//! matches it, and nothing after it on the connection. Std only, so both
//! test crates can include it.

#![allow(
    dead_code,
    reason = "each test crate that includes this module uses a part of it"
)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One corpus entry: what the client sends, and the statuses it gets, in
/// order, before the proxy closes the connection or goes quiet.
pub(crate) struct Case {
    pub name: &'static str,
    pub request: &'static [u8],
    pub statuses: &'static [u16],
}

const fn case(name: &'static str, request: &'static [u8], statuses: &'static [u16]) -> Case {
    Case {
        name,
        request,
        statuses,
    }
}

pub(crate) const CORPUS: &[Case] = &[
    case(
        "plain body",
        b"POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello",
        &[200],
    ),
    // CL.TE and TE.CL: Transfer-Encoding wins and the connection closes
    // after the response (RFC 9112 section 6.3), so the rest is never read.
    case(
        "CL then TE",
        b"POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /admin HTTP/1.1\r\nHost: h\r\n\r\n",
        &[200],
    ),
    case(
        "TE then CL",
        b"POST /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\nGET /admin HTTP/1.1\r\nHost: h\r\n\r\n",
        &[200],
    ),
    case(
        "two different Content-Length",
        b"POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
        &[400],
    ),
    case(
        "two equal Content-Length",
        b"POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
        &[200],
    ),
    case(
        "Content-Length list",
        b"POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5\r\n\r\nhello",
        &[400],
    ),
    case(
        "Content-Length with a sign",
        b"POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: +5\r\n\r\nhello",
        &[400],
    ),
    case(
        "Content-Length in hex",
        b"POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 0x5\r\n\r\nhello",
        &[400],
    ),
    case(
        "negative Content-Length",
        b"POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n",
        &[400],
    ),
    case(
        "chunked, identity",
        b"POST /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, identity\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        &[400],
    ),
    case(
        "identity",
        b"POST /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: identity\r\nContent-Length: 5\r\n\r\nhello",
        &[400],
    ),
    case(
        "gzip, chunked",
        b"POST /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        &[501],
    ),
    case(
        "chunked twice",
        b"POST /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        &[501],
    ),
    case(
        "chunked then identity",
        b"POST /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        &[400],
    ),
    case(
        " chunked",
        b"POST /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:  chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        &[200],
    ),
    case(
        "Chunked",
        b"POST /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        &[200],
    ),
    case(
        "xchunked",
        b"POST /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: xchunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        &[400],
    ),
    case(
        "chunked with a vertical tab",
        b"POST /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\x0b\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        &[400],
    ),
    case(
        "space before the colon",
        b"POST /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding : chunked\r\nContent-Length: 5\r\n\r\nhello",
        &[400],
    ),
    case(
        "obs-fold",
        b"POST /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\r\n chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        &[400],
    ),
    case(
        "underscore spellings",
        b"POST /a HTTP/1.1\r\nHost: h\r\nTransfer_Encoding: chunked\r\nContent_Length: 99\r\nContent-Length: 5\r\n\r\nhello",
        &[200],
    ),
    case(
        "bare LF",
        b"POST /a HTTP/1.1\nHost: h\nContent-Length: 5\n\nhello",
        &[200],
    ),
    case(
        "bare CR",
        b"POST /a HTTP/1.1\rHost: h\r\nContent-Length: 5\r\n\r\nhello",
        &[400],
    ),
    case(
        "chunk extension",
        b"POST /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5;x=\"1\"\r\nhello\r\n0\r\n\r\n",
        &[200],
    ),
    case(
        "trailer claiming a length",
        b"POST /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nContent-Length: 50\r\n\r\n",
        &[200],
    ),
    case(
        "chunk size overflow",
        b"POST /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff1\r\nhello\r\n0\r\n\r\n",
        &[400],
    ),
    case(
        "Transfer-Encoding in HTTP/1.0",
        b"POST /a HTTP/1.0\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        &[400],
    ),
    case(
        "GET with a chunked body",
        b"GET /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        &[200],
    ),
    case(
        "GET with a Content-Length body",
        b"GET /a HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello",
        &[200],
    ),
    case(
        "pipelined after a sized body",
        b"POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhelloGET /b HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
        &[200, 200],
    ),
    case(
        "NUL in a header",
        b"POST /a HTTP/1.1\r\nHost: h\r\nX-A: a\x00b\r\nContent-Length: 5\r\n\r\nhello",
        &[400],
    ),
    case(
        "two spaces in the request line",
        b"POST  /a HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello",
        &[400],
    ),
];

/// What the backend found on one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Seen {
    pub request_line: String,
    /// `None`: one clean framing; otherwise what was wrong.
    pub problem: Option<String>,
}

/// A raw HTTP/1.1 backend that parses strictly, answers each connection's
/// one request with 200 (`Connection: close`), and records what it saw,
/// including any byte after the request.
pub(crate) struct Recorder {
    pub addr: SocketAddr,
    pub seen: Arc<Mutex<Vec<Seen>>>,
}

impl Recorder {
    pub(crate) fn start() -> Recorder {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let record = record.clone();
                std::thread::spawn(move || {
                    if let Some(seen) = serve_one(stream) {
                        record.lock().unwrap().push(seen);
                    }
                });
            }
        });
        Recorder { addr, seen }
    }

    /// Takes what was recorded so far.
    pub(crate) fn take(&self) -> Vec<Seen> {
        std::mem::take(&mut *self.seen.lock().unwrap())
    }

    /// Waits (up to 2 s) until `n` connections are recorded (each once the
    /// proxy has closed it), then takes what was recorded. Blocks.
    pub(crate) fn wait_for(&self, n: usize) -> Vec<Seen> {
        for _ in 0..100 {
            if self.seen.lock().unwrap().len() >= n {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.take()
    }
}

/// Runs the corpus: `exchange` sends a case's bytes on a new connection
/// and returns the statuses (see [`read_statuses`]). Every failure, then
/// any backend request that arrived late.
pub(crate) fn run_corpus(
    recorder: &Recorder,
    mut exchange: impl FnMut(&[u8]) -> Vec<u16>,
) -> Vec<String> {
    let mut failures = Vec::new();
    for case in CORPUS {
        let statuses = exchange(case.request);
        let forwarded = statuses.iter().filter(|s| **s == 200).count();
        let seen = recorder.wait_for(forwarded);
        if let Err(e) = check(case, &statuses, &seen) {
            failures.push(e);
        }
    }
    std::thread::sleep(Duration::from_millis(300));
    let late = recorder.take();
    if !late.is_empty() {
        failures.push(format!("late backend requests: {late:?}"));
    }
    failures
}

fn serve_one(stream: TcpStream) -> Option<Seen> {
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut writer = stream.try_clone().ok()?;
    let mut reader = BufReader::new(stream);
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if line == "\r\n" {
            break;
        }
        lines.push(line);
    }
    let request_line = lines.first()?.trim_end().to_string();
    let problem = read_body(&mut reader, &lines[1..]).err();
    let text = format!("seen {request_line}");
    let _ = write!(
        writer,
        "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
        text.len()
    );
    // The proxy closes after a `Connection: close` response; anything it
    // sent after the request is a second request hidden in the first.
    let mut rest = Vec::new();
    let _ = reader.read_to_end(&mut rest);
    let problem = match problem {
        None if !rest.is_empty() => Some(format!(
            "{} bytes after the request: {:?}",
            rest.len(),
            String::from_utf8_lossy(&rest)
        )),
        other => other,
    };
    Some(Seen {
        request_line,
        problem,
    })
}

/// Reads the body the headers frame; `Err` when the framing is not exactly
/// one of the three clean forms or the body breaks it.
fn read_body(reader: &mut impl BufRead, headers: &[String]) -> Result<(), String> {
    let values = |name: &str| -> Vec<String> {
        headers
            .iter()
            .filter_map(|h| h.split_once(':'))
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_string())
            .collect()
    };
    let (lengths, codings) = (values("content-length"), values("transfer-encoding"));
    for h in headers {
        if !h.ends_with("\r\n") || h.contains('\0') || h.starts_with([' ', '\t']) {
            return Err(format!("malformed header line {h:?}"));
        }
        let name = h
            .split_once(':')
            .map_or("", |(n, _)| n)
            .to_ascii_lowercase();
        if name.contains('_')
            && matches!(
                name.replace('_', "-").as_str(),
                "content-length" | "transfer-encoding"
            )
        {
            return Err(format!("a framing header spelled with `_`: {h:?}"));
        }
    }
    match (lengths.as_slice(), codings.as_slice()) {
        ([], []) => Ok(()),
        ([n], []) => {
            let n: usize = n
                .parse()
                .ok()
                .filter(|_| n.bytes().all(|b| b.is_ascii_digit()))
                .ok_or_else(|| format!("bad Content-Length {n:?}"))?;
            let mut body = vec![0u8; n];
            reader
                .read_exact(&mut body)
                .map_err(|e| format!("body shorter than its length: {e}"))
        }
        ([], [te]) if te == "chunked" => read_chunked(reader),
        _ => Err(format!("framing: lengths {lengths:?}, codings {codings:?}")),
    }
}

fn read_chunked(reader: &mut impl BufRead) -> Result<(), String> {
    loop {
        let mut size = String::new();
        reader.read_line(&mut size).map_err(|e| e.to_string())?;
        let hex = size
            .strip_suffix("\r\n")
            .ok_or_else(|| format!("chunk size line {size:?}"))?;
        let n = usize::from_str_radix(hex, 16).map_err(|_| format!("chunk size {hex:?}"))?;
        let mut chunk = vec![0u8; n + 2];
        reader.read_exact(&mut chunk).map_err(|e| e.to_string())?;
        if !chunk.ends_with(b"\r\n") {
            return Err("chunk not followed by CRLF".into());
        }
        if n == 0 {
            // No trailers from the proxy: the CRLF just read ended it.
            return if chunk == b"\r\n" {
                Ok(())
            } else {
                Err("trailer section".into())
            };
        }
    }
}

/// Reads the responses of one corpus exchange: their statuses, until the
/// proxy closes the connection or sends nothing more for a moment.
pub(crate) fn read_statuses(stream: &mut impl Read) -> Vec<u16> {
    let mut buf = Vec::new();
    let mut statuses = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        // Complete responses in `buf`: each has a Content-Length.
        while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if buf.len() < end + 4 + length {
                break;
            }
            if let Some(status) = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()) {
                statuses.push(status);
            }
            buf.drain(..end + 4 + length);
        }
        match stream.read(&mut chunk) {
            // A signal, not the stream: read again.
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Ok(0) | Err(_) => return statuses,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// Checks one exchange: the statuses, and that every request the backend
/// saw had one clean framing; one backend request per 200.
pub(crate) fn check(case: &Case, statuses: &[u16], seen: &[Seen]) -> Result<(), String> {
    if statuses != case.statuses {
        return Err(format!(
            "{}: statuses {statuses:?}, expected {:?}",
            case.name, case.statuses
        ));
    }
    if let Some(bad) = seen.iter().find(|s| s.problem.is_some()) {
        return Err(format!("{}: the backend saw {bad:?}", case.name));
    }
    let forwarded = statuses.iter().filter(|s| **s == 200).count();
    if seen.len() != forwarded {
        return Err(format!(
            "{}: {} requests reached the backend for {forwarded} answered: {seen:?}",
            case.name,
            seen.len()
        ));
    }
    Ok(())
}
