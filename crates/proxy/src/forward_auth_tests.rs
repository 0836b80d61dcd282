use super::*;

#[test]
fn copy_rules() {
    let default = CopyRule::new(&[]);
    assert!(default.selects("remote-user"));
    assert!(default.selects("Remote_Email"));
    assert!(default.selects("x-auth-request-user"));
    assert!(!default.selects("set-cookie"));
    let named = CopyRule::new(&["X-Forwarded-User".into()]);
    assert!(named.selects("x-forwarded-user"));
    assert!(named.selects("x_forwarded_user"));
    assert!(!named.selects("remote-user"));
}
