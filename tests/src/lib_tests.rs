use super::*;

#[test]
fn finds_sh_on_path() {
    assert!(find_program("sh").is_some());
    assert!(find_program("surely-not-a-program-wgl").is_none());
}

#[test]
fn private_files_are_0600() {
    use std::os::unix::fs::PermissionsExt;
    let lab = Lab::new().unwrap();
    let p = lab.write_file("k.key", "secret").unwrap();
    assert_eq!(
        std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(std::fs::read_to_string(&p).unwrap(), "secret");
    let dir = lab.dir().to_path_buf();
    drop(lab);
    assert!(!dir.exists());
}
