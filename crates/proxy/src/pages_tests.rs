use super::*;

#[tokio::test]
async fn pages_say_what_happened() {
    let response = error_page(StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.status(), 503);
    assert_eq!(
        response.headers()["content-type"],
        "text/html; charset=utf-8"
    );
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert!(std::str::from_utf8(&body)
        .unwrap()
        .contains("503 no healthy backend"));
}
