use super::*;

#[test]
fn proxy_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Proxy>();
    assert_send_sync::<Arc<Proxy>>();
}
