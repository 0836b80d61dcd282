use super::*;

#[tokio::test]
async fn names_are_resolved_and_cached() {
    let resolver = CachingResolver::new(Duration::from_secs(30));
    let addrs = resolver.resolve("localhost").await.unwrap();
    assert!(addrs.iter().all(|a| a.ip().is_loopback()));
    let mut again = resolver.resolve("localhost").await.unwrap();
    let mut first = addrs.clone();
    again.sort();
    first.sort();
    assert_eq!(again, first);
    assert!(resolver.resolve("no-such-host.invalid").await.is_err());
}
