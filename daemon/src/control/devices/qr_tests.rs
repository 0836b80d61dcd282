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

/// The dark modules the SVG draws, read back from its path.
fn modules_drawn(svg: &str, side: usize) -> Vec<bool> {
    let d = svg
        .split(" d=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let mut dark = vec![false; side * side];
    for run in d.split('M').filter(|r| !r.is_empty()) {
        // "x yhNv1h-Nz"
        let (xy, rest) = run.split_once('h').unwrap();
        let (x, y) = xy.split_once(' ').unwrap();
        let (x, y): (usize, usize) = (x.parse().unwrap(), y.parse().unwrap());
        let n: usize = rest.split_once('v').unwrap().0.parse().unwrap();
        assert!(rest.ends_with(&format!("v1h-{n}z")), "{run}");
        for i in 0..n {
            assert!(!dark[y * side + x + i], "drawn twice: {run}");
            dark[y * side + x + i] = true;
        }
    }
    dark
}

#[test]
fn svg_draws_exactly_the_codes_modules() {
    let payload = "[Interface]\nPrivateKey = dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=\n\
                   Address = 100.64.0.3/32\n\n[Peer]\nEndpoint = 203.0.113.7:41602\n";
    let out = svg(payload).unwrap();
    let code = QrCode::with_error_correction_level(payload.as_bytes(), EcLevel::M).unwrap();
    let (w, side) = (code.width(), code.width() + 8);
    assert!(
        out.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""),
        "{out}"
    );
    assert!(out.contains(&format!("viewBox=\"0 0 {side} {side}\"")));
    assert!(out.contains("shape-rendering=\"crispEdges\""));
    assert!(out.contains(&format!(
        "<rect width=\"{side}\" height=\"{side}\" fill=\"#fff\"/>"
    )));
    assert!(out.ends_with("</svg>"));
    let drawn = modules_drawn(&out, side);
    let colors = code.to_colors();
    for y in 0..side {
        for x in 0..side {
            // The 4-module quiet zone is light; inside, the code's modules.
            let inside = (4..4 + w).contains(&x) && (4..4 + w).contains(&y);
            let want = inside && colors[(y - 4) * w + (x - 4)] == Color::Dark;
            assert_eq!(drawn[y * side + x], want, "module ({x}, {y})");
        }
    }
    assert!(svg(&"x".repeat(4000)).is_err());
}
