//! The client config as a QR code: in the terminal ([`render`]), two
//! modules per character cell with the half-block characters (▀ ▄ █), as
//! `qrencode -t UTF8` draws them, and as SVG for a web page ([`svg`]); both
//! with the standard 4-module quiet zone.
//!
//! A dark module is drawn as a block. On a terminal the code is printed
//! black on white whatever the terminal's colours, so it scans on dark and
//! light themes alike; redirected to a file it is plain text.

use std::fmt::Write as _;

use anyhow::{Context, Result};
use qrcode::render::unicode::Dense1x2;
use qrcode::{Color, EcLevel, QrCode};

/// Black foreground on a bright white background, and back to normal.
const COLOURS_ON: &str = "\x1b[30;107m";
const COLOURS_OFF: &str = "\x1b[0m";

/// Renders `payload` (byte for byte: the phone apps read the text as is).
pub(crate) fn render(payload: &str, colour: bool) -> Result<String> {
    let code = encode(payload)?;
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

/// Modules of light margin around the code, as the standard asks.
const QUIET_ZONE: usize = 4;

/// `payload` as an SVG image, one unit per module: a white background,
/// then one path with a rectangle per horizontal run of dark modules.
/// `crispEdges` keeps module borders sharp at any scale, so a screenshot
/// of it decodes; the size on the page is the stylesheet's.
pub(crate) fn svg(payload: &str) -> Result<String> {
    let code = encode(payload)?;
    let width = code.width();
    let colors = code.to_colors();
    let side = width + 2 * QUIET_ZONE;
    let mut path = String::new();
    for (y, row) in colors.chunks(width).enumerate() {
        let mut x = 0;
        while x < width {
            if row[x] != Color::Dark {
                x += 1;
                continue;
            }
            let start = x;
            while x < width && row[x] == Color::Dark {
                x += 1;
            }
            let _ = write!(
                path,
                "M{} {}h{}v1h-{}z",
                start + QUIET_ZONE,
                y + QUIET_ZONE,
                x - start,
                x - start
            );
        }
    }
    Ok(format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {side} {side}\" \
         shape-rendering=\"crispEdges\" role=\"img\" aria-label=\"QR code of the config\">\
         <rect width=\"{side}\" height=\"{side}\" fill=\"#fff\"/>\
         <path fill=\"#000\" d=\"{path}\"/></svg>"
    ))
}

/// Error correction M, what WireGuard's own tooling uses: configs of a few
/// hundred bytes still fit a version that scans easily from a screen.
fn encode(payload: &str) -> Result<QrCode> {
    QrCode::with_error_correction_level(payload.as_bytes(), EcLevel::M)
        .context("the config is too large for a QR code")
}

#[cfg(test)]
#[path = "qr_tests.rs"]
mod tests;
