use super::*;

fn p(s: &str, len: u8) -> Prefix {
    Prefix::new(s.parse().unwrap(), len).unwrap()
}

#[test]
fn longest_prefix_wins() {
    let mut t = AllowedIps::default();
    t.insert(p("0.0.0.0", 0), 0);
    t.insert(p("100.64.0.0", 24), 1);
    t.insert(p("100.64.0.7", 32), 2);
    t.insert(p("fd00::", 8), 3);
    assert_eq!(t.lookup("100.64.0.7".parse().unwrap()), Some(2));
    assert_eq!(t.lookup("100.64.0.8".parse().unwrap()), Some(1));
    assert_eq!(t.lookup("100.64.0.8".parse().unwrap()), Some(1));
    assert_eq!(t.lookup("8.8.8.8".parse().unwrap()), Some(0));
    assert_eq!(t.lookup("fd12::1".parse().unwrap()), Some(3));
    assert_eq!(t.lookup("fe80::1".parse().unwrap()), None);
}

#[test]
fn host_bits_are_cleared_and_lengths_checked() {
    assert_eq!(p("100.64.0.9", 24), p("100.64.0.0", 24));
    assert!(Prefix::new("1.2.3.4".parse().unwrap(), 33).is_none());
    assert!(p("::", 0).contains("::1".parse().unwrap()));
    assert!(!p("::", 0).contains("1.2.3.4".parse().unwrap()));
}

#[test]
fn reinserting_moves_the_prefix_and_clears_the_cache() {
    let mut t = AllowedIps::default();
    t.insert(p("10.0.0.1", 32), 1);
    assert_eq!(t.lookup("10.0.0.1".parse().unwrap()), Some(1));
    t.insert(p("10.0.0.1", 32), 2);
    assert_eq!(t.lookup("10.0.0.1".parse().unwrap()), Some(2));
    t.remove_value(2);
    assert_eq!(t.lookup("10.0.0.1".parse().unwrap()), None);
}
