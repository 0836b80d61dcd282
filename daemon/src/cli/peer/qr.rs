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
#[path = "qr_tests.rs"]
mod tests;
