use super::*;

#[test]
fn half_blocks_with_a_quiet_zone() {
    let out = render("[Interface]\nPrivateKey = x\n", false).unwrap();
    let lines: Vec<&str> = out.lines().collect();
    let width = lines[0].chars().count();
    assert!(lines.iter().all(|l| l.chars().count() == width));
    assert!(out
        .chars()
        .all(|c| matches!(c, ' ' | '\u{2580}' | '\u{2584}' | '\u{2588}' | '\n')));
    // 4 light modules on each side: the first two rows of cells are
    // blank, as are the first and last 4 columns.
    assert!(lines[0].trim().is_empty() && lines[1].trim().is_empty());
    assert!(lines[4].starts_with("    ") && lines[4].ends_with("    "));
    // One column per module, plus the zone on both sides.
    let modules = QrCode::with_error_correction_level(b"[Interface]\nPrivateKey = x\n", EcLevel::M)
        .unwrap()
        .width();
    assert_eq!(width, modules + 8);
    assert_eq!(lines.len(), (modules + 8).div_ceil(2));
    let coloured = render("x", true).unwrap();
    assert!(coloured.starts_with(COLOURS_ON));
    assert!(coloured.lines().all(|l| l.ends_with(COLOURS_OFF)));
}
