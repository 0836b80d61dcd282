//! What the admin thread asks the data plane: the status document, the
//! metrics, a reload. Both live on the data-plane thread (`Rc`, `RefCell`),
//! so the admin thread sends a [`Query`] over a bounded channel and waits
//! for the [`Reply`] a task there sends back, for at most a few seconds:
//! a busy data plane delays these answers and nothing else the admin API
//! does.

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

/// Queries waiting for the data plane; the admin connection cap bounds
/// how many can be in flight anyway.
const QUEUE: usize = 64;
/// Status and metrics are built in microseconds; this long means the data
/// plane is stuck.
const ANSWER_WITHIN: Duration = Duration::from_secs(10);
/// A reload reads and checks the whole config, certificates included
/// (the CLI waits 30 s).
const RELOAD_WITHIN: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Query {
    Status,
    Metrics,
    Reload,
}

/// An HTTP answer: status, content type, body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) content_type: &'static str,
    pub(crate) body: String,
}

impl Reply {
    pub(crate) fn json(status: u16, value: &serde_json::Value) -> Reply {
        let mut body = serde_json::to_string_pretty(value).unwrap_or_default();
        body.push('\n');
        Reply {
            status,
            content_type: "application/json",
            body,
        }
    }

    pub(crate) fn text(status: u16, body: &str) -> Reply {
        Reply {
            status,
            content_type: "text/plain",
            body: body.to_string(),
        }
    }
}

/// A query and where its answer goes: an HTTP reply, or the status
/// document as a value (for the dashboard, which renders it itself and
/// must not pay for JSON text both ways every second).
enum Asked {
    Http(Query, oneshot::Sender<Reply>),
    Status(oneshot::Sender<serde_json::Value>),
}

/// The admin thread's way to the data plane. Cheap to clone.
#[derive(Clone)]
pub(crate) struct DataPlane {
    tx: mpsc::Sender<Asked>,
}

impl DataPlane {
    /// The answer to `query`, or a 503 when the data plane does not answer
    /// in time.
    pub(crate) async fn ask(&self, query: Query) -> Reply {
        let within = match query {
            Query::Reload => RELOAD_WITHIN,
            Query::Status | Query::Metrics => ANSWER_WITHIN,
        };
        let (done, answer) = oneshot::channel();
        let asked = async {
            self.tx.send(Asked::Http(query, done)).await.ok()?;
            answer.await.ok()
        };
        match tokio::time::timeout(within, asked).await {
            Ok(Some(reply)) => reply,
            Ok(None) => Reply::text(503, "the daemon is stopping\n"),
            Err(_) => Reply::text(
                503,
                &format!(
                    "the data plane did not answer within {}s\n",
                    within.as_secs()
                ),
            ),
        }
    }
}

impl DataPlane {
    /// The status document, or `None` when the data plane does not answer
    /// in time (or is stopping).
    pub(crate) async fn status(&self) -> Option<serde_json::Value> {
        let (done, answer) = oneshot::channel();
        let asked = async {
            self.tx.send(Asked::Status(done)).await.ok()?;
            answer.await.ok()
        };
        tokio::time::timeout(ANSWER_WITHIN, asked).await.ok()?
    }
}

/// What the data plane answers with. Each function runs on the data-plane
/// thread, where what it reads lives; the admin thread never sees the
/// daemon itself.
pub(crate) struct Answers {
    /// The status document.
    pub(crate) status: Box<dyn Fn() -> serde_json::Value>,
    /// The metrics, in the Prometheus text format.
    pub(crate) metrics: Box<dyn Fn() -> String>,
    /// Reloads the config: the HTTP status and the JSON body.
    pub(crate) reload: Box<dyn Fn() -> LocalBoxFuture<(u16, serde_json::Value)>>,
}

/// A future that stays on the thread it was made on.
pub(crate) type LocalBoxFuture<T> = Pin<Box<dyn Future<Output = T>>>;

/// Starts answering queries with `answers` on the current `LocalSet` (the
/// data-plane thread); the task ends when every [`DataPlane`] is dropped.
pub(crate) fn answer_on_data_plane(answers: Answers) -> DataPlane {
    let (tx, mut rx) = mpsc::channel::<Asked>(QUEUE);
    let answers = Rc::new(answers);
    tokio::task::spawn_local(async move {
        while let Some(asked) = rx.recv().await {
            match asked {
                Asked::Status(done) => {
                    let _ = done.send((answers.status)());
                }
                // A reload waits for its turn and for files: each query
                // gets its own task so that a scrape never waits behind one.
                Asked::Http(query, done) => {
                    let answers = answers.clone();
                    tokio::task::spawn_local(async move {
                        let _ = done.send(answer(&answers, query).await);
                    });
                }
            }
        }
    });
    DataPlane { tx }
}

async fn answer(answers: &Answers, query: Query) -> Reply {
    match query {
        Query::Status => Reply::json(200, &(answers.status)()),
        Query::Metrics => Reply {
            status: 200,
            content_type: "text/plain; version=0.0.4; charset=utf-8",
            body: (answers.metrics)(),
        },
        Query::Reload => {
            let (status, body) = (answers.reload)().await;
            Reply::json(status, &body)
        }
    }
}

#[cfg(test)]
#[path = "query_tests.rs"]
mod tests;
