use http::HeaderValue;
use http_body_util::Full;

use super::*;

fn form_headers(len: Option<usize>) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-www-form-urlencoded; charset=UTF-8"),
    );
    if let Some(n) = len {
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(n));
    }
    h
}

#[test]
fn fields_are_decoded() {
    let f = Form::parse(b"name=my+phone&tags=a%2Cb&csrf=00&name=second&%FF=%FF").unwrap();
    assert_eq!(f.get("name"), "my phone");
    assert_eq!(f.get("tags"), "a,b");
    assert_eq!(f.get("csrf"), "00");
    assert_eq!(f.get("missing"), "");
    assert_eq!(Form::parse(b"").unwrap(), Form::default());
    let many = "a=1&".repeat(MAX_FIELDS + 1);
    assert_eq!(Form::parse(many.as_bytes()), Err(BodyError::Malformed));
}

#[test]
fn tags_split_on_commas_and_spaces() {
    assert_eq!(split_tags("phone"), ["phone"]);
    assert_eq!(split_tags(" a, b  c,,d "), ["a", "b", "c", "d"]);
    assert!(split_tags(" , ").is_empty());
}

#[tokio::test]
async fn bodies_are_bounded() {
    let ok = read(&form_headers(Some(6)), Full::new(Bytes::from("name=x")))
        .await
        .unwrap();
    assert_eq!(ok.get("name"), "x");
    // Exactly the limit is fine; one byte more is not, declared or not.
    let at = format!("a={}", "x".repeat(MAX_BODY - 2));
    assert!(read(&form_headers(None), Full::new(Bytes::from(at)))
        .await
        .is_ok());
    let over = format!("a={}", "x".repeat(MAX_BODY - 1));
    assert_eq!(
        read(&form_headers(None), Full::new(Bytes::from(over.clone()))).await,
        Err(BodyError::TooLarge)
    );
    assert_eq!(
        read(&form_headers(Some(over.len())), Full::new(Bytes::new())).await,
        Err(BodyError::TooLarge)
    );
    let mut json = HeaderMap::new();
    json.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    assert_eq!(
        read(&json, Full::new(Bytes::from("{}"))).await,
        Err(BodyError::NotAForm)
    );
    assert_eq!(
        read(&HeaderMap::new(), Full::new(Bytes::new())).await,
        Err(BodyError::NotAForm)
    );
    assert_eq!(BodyError::TooLarge.status(), 413);
}
