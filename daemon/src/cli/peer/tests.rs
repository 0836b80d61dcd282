use super::*;

#[test]
fn tables_align() {
    let rows = vec![[
        "laptop".to_string(),
        "KEY=".to_string(),
        "100.64.0.2/32".to_string(),
        String::new(),
    ]];
    assert_eq!(
        table(&["NAME", "PUBLIC KEY", "ALLOWED IPS", "TAGS"], &rows),
        "NAME    PUBLIC KEY  ALLOWED IPS    TAGS\nlaptop  KEY=        100.64.0.2/32\n"
    );
}
