use std::time::{Duration, Instant};

use super::*;

fn problem(name: &str, message: &str) -> IngressProblem {
    IngressProblem {
        ingress: ("apps".into(), name.into()),
        reason: "RouteRejected".into(),
        message: message.into(),
    }
}

fn names(posts: &[&IngressProblem]) -> Vec<String> {
    posts.iter().map(|p| p.ingress.1.clone()).collect()
}

#[test]
fn the_same_problem_is_posted_once() {
    let t0 = Instant::now();
    let mut d = EventDedup::new();
    let problems = [problem("a", "bad access"), problem("b", "bad timeout")];
    assert_eq!(names(&d.select(&problems, t0)), ["a", "b"]);
    assert!(d.select(&problems, t0 + Duration::from_secs(1)).is_empty());
}

#[test]
fn a_new_message_is_posted() {
    let t0 = Instant::now();
    let mut d = EventDedup::new();
    d.select(&[problem("a", "bad access")], t0);
    let now = [problem("a", "bad timeout")];
    let posts = d.select(&now, t0);
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].message, "bad timeout");
}

#[test]
fn a_problem_that_comes_back_is_posted_again() {
    let t0 = Instant::now();
    let mut d = EventDedup::new();
    d.select(&[problem("a", "bad")], t0);
    assert!(d.select(&[], t0).is_empty());
    assert_eq!(d.select(&[problem("a", "bad")], t0).len(), 1);
}

#[test]
fn a_lasting_problem_is_posted_again_before_events_expire() {
    let t0 = Instant::now();
    let mut d = EventDedup::new();
    let p = [problem("a", "bad")];
    d.select(&p, t0);
    assert!(d
        .select(&p, t0 + REPOST_AFTER - Duration::from_secs(1))
        .is_empty());
    assert_eq!(d.select(&p, t0 + REPOST_AFTER).len(), 1);
    assert!(d
        .select(&p, t0 + REPOST_AFTER + Duration::from_secs(1))
        .is_empty());
}

#[test]
fn a_failed_post_is_tried_again() {
    let t0 = Instant::now();
    let mut d = EventDedup::new();
    let p = [problem("a", "bad")];
    d.select(&p, t0);
    d.handle_failed(&p[0]);
    assert_eq!(d.select(&p, t0).len(), 1);
}

#[test]
fn notes_are_cut_at_a_character_boundary() {
    let long = "é".repeat(NOTE_LIMIT);
    let cut = note(&long);
    assert!(cut.len() <= NOTE_LIMIT);
    assert!(cut.len() >= NOTE_LIMIT - 1);
    assert_eq!(note("short"), "short");
}
