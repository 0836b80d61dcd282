//! Kubernetes Events for Ingresses the mapping rejected (type `Warning`,
//! events.k8s.io/v1), posted once per problem rather than on every
//! snapshot.
//!
//! [`EventDedup`] is sans-IO. Call order: [`EventDedup::select`] with the
//! whole current list of problems after every mapping outcome; post what
//! it returns with [`publish`]; [`EventDedup::handle_failed`] for a post
//! that failed, so that it is tried again with the next outcome.
//!
//! A problem is posted again when its message changes, when it went away
//! and came back, or after [`REPOST_AFTER`] (the API server deletes
//! Events after an hour by default, and a problem that is still there
//! should stay visible in `kubectl describe`).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ObjectReference;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::Client;

use super::store::ObjectKey;

/// How long a problem that stays is left before it is posted again.
pub(crate) const REPOST_AFTER: Duration = Duration::from_secs(50 * 60);

/// The most bytes of a message Kubernetes takes in an Event's note.
const NOTE_LIMIT: usize = 1024;

/// An Ingress the mapping skipped, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IngressProblem {
    /// The Ingress's namespace and name.
    pub(crate) ingress: ObjectKey,
    /// A `PascalCase` reason, e.g. `RouteRejected`.
    pub(crate) reason: String,
    /// What is wrong, for people.
    pub(crate) message: String,
}

/// The problems posted, to post each only once.
#[derive(Debug, Default)]
pub(crate) struct EventDedup {
    /// By Ingress and reason: the message posted and when.
    posted: BTreeMap<(ObjectKey, String), (String, Instant)>,
}

impl EventDedup {
    /// Nothing posted yet.
    pub(crate) fn new() -> EventDedup {
        EventDedup::default()
    }

    /// Of `problems` (all current ones), those to post at `now`; each is
    /// recorded as posted, and problems no longer listed are forgotten.
    pub(crate) fn select<'p>(
        &mut self,
        problems: &'p [IngressProblem],
        now: Instant,
    ) -> Vec<&'p IngressProblem> {
        let mut out = Vec::new();
        let mut seen = BTreeMap::new();
        for p in problems {
            let key = (p.ingress.clone(), p.reason.clone());
            let fresh = match self.posted.get(&key) {
                Some((message, at)) => {
                    *message != p.message || now.saturating_duration_since(*at) >= REPOST_AFTER
                }
                None => true,
            };
            let at = match self.posted.get(&key) {
                Some((_, at)) if !fresh => *at,
                _ => {
                    out.push(p);
                    now
                }
            };
            seen.insert(key, (p.message.clone(), at));
        }
        self.posted = seen;
        out
    }

    /// Posting `problem` failed: post it again with the next outcome.
    pub(crate) fn handle_failed(&mut self, problem: &IngressProblem) {
        self.posted
            .remove(&(problem.ingress.clone(), problem.reason.clone()));
    }
}

/// `message` cut to the note limit at a character boundary.
fn note(message: &str) -> String {
    if message.len() <= NOTE_LIMIT {
        return message.to_string();
    }
    let mut end = NOTE_LIMIT;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    message[..end].to_string()
}

/// Posts `problem` as a Warning Event regarding `ingress`.
///
/// A fresh [`Recorder`] each time: a recorder that has posted an Event
/// with the same reason before only bumps that Event's count (and keeps
/// its old message), and [`EventDedup`] already decides when to post.
pub(crate) async fn publish(
    client: Client,
    reporter: Reporter,
    problem: &IngressProblem,
    ingress: ObjectReference,
) -> Result<(), kube::Error> {
    let event = Event {
        type_: EventType::Warning,
        reason: problem.reason.clone(),
        note: Some(note(&problem.message)),
        action: "Route".to_string(),
        secondary: None,
    };
    Recorder::new(client, reporter)
        .publish(&event, &ingress)
        .await
}

#[cfg(test)]
#[path = "events_tests.rs"]
mod tests;
