//! The client config as a QR code in the terminal, two modules per
//! character cell with the half-block characters (▀ ▄ █), as `qrencode -t
//! UTF8` draws them, with the standard 4-module quiet zone.
//!
//! A dark module is drawn as a block. On a terminal the code is printed
//! black on white whatever the terminal's colours, so it scans on dark and
//! light themes alike; redirected to a file it is plain text.

use anyhow::{Context, Result};
use qrcode::render::unicode::Dense1x2;
use qrcode::{EcLevel, QrCode};

/// Black foreground on a bright white background, and back to normal.
const COLOURS_ON: &str = "\x1b[30;107m";
const COLOURS_OFF: &str = "\x1b[0m";

/// Renders `payload` (byte for byte: the phone apps read the text as is).
/// Error correction M, what WireGuard's own tooling uses: configs of a few
/// hundred bytes still fit a version that scans easily from a screen.
pub(crate) fn render(payload: &str, colour: bool) -> Result<String> {
    let code = QrCode::with_error_correction_level(payload.as_bytes(), EcLevel::M)
        .context("the config is too large for a QR code")?;
    let image = code
        .render::<Dense1x2>()
        .quiet_zone(true)
        .module_dimensions(1, 1)
        .build();
    let mut out = String::with_capacity(image.len() * 2);
    for line in image.lines() {
        if colour {
            out.push_str(COLOURS_ON);
            out.push_str(line);
            out.push_str(COLOURS_OFF);
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
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
        let modules =
            QrCode::with_error_correction_level(b"[Interface]\nPrivateKey = x\n", EcLevel::M)
                .unwrap()
                .width();
        assert_eq!(width, modules + 8);
        assert_eq!(lines.len(), (modules + 8).div_ceil(2));
        let coloured = render("x", true).unwrap();
        assert!(coloured.starts_with(COLOURS_ON));
        assert!(coloured.lines().all(|l| l.ends_with(COLOURS_OFF)));
    }
}
