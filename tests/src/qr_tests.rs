use super::*;

#[test]
fn finds_the_drawing_and_its_modules() {
    let text = "[Interface]\nKey = x\n\n\x1b[30;107m    \x1b[0m\n\x1b[30;107m \u{2580}\u{2584}\u{2588}\x1b[0m\nafter\n";
    let lines = qr_lines(text);
    assert_eq!(lines, ["    ", " \u{2580}\u{2584}\u{2588}"]);
    let m = modules(&lines).unwrap();
    assert_eq!(m.len(), 4);
    assert_eq!(m[2], [false, true, false, true]);
    assert_eq!(m[3], [false, false, true, true]);
}
