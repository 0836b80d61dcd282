//! Reading back a QR code printed in a terminal with half-block characters
//! (`▀ ▄ █`, two modules per cell, a block for a dark module): the text
//! is turned back into modules, written as a PBM image, and decoded by
//! zbarimg (zbar-tools), a decoder nobody here wrote.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};

use crate::process::run_command;

const UPPER: char = '\u{2580}';
const LOWER: char = '\u{2584}';
const FULL: char = '\u{2588}';
/// Pixels per module in the image: zbar wants a few.
const SCALE: usize = 4;

/// The lines of `text` that draw the QR code: the longest run of
/// consecutive lines made only of spaces and half blocks, ANSI colour
/// codes removed, kept with the blank lines of the quiet zone.
pub fn qr_lines(text: &str) -> Vec<String> {
    let mut best: Vec<String> = Vec::new();
    let mut run: Vec<String> = Vec::new();
    for line in text.lines() {
        let line = strip_ansi(line);
        let drawing = !line.is_empty()
            && line
                .chars()
                .all(|c| matches!(c, ' ' | UPPER | LOWER | FULL));
        if drawing {
            run.push(line);
        } else {
            if run.iter().any(|l| !l.trim().is_empty()) && run.len() > best.len() {
                best = std::mem::take(&mut run);
            }
            run.clear();
        }
    }
    if run.len() > best.len() {
        best = run;
    }
    best
}

fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The modules (true = dark) of a half-block drawing.
pub fn modules(lines: &[String]) -> Result<Vec<Vec<bool>>> {
    let width = lines.first().map_or(0, |l| l.chars().count());
    ensure!(width > 0, "no QR code drawing found");
    let mut rows = Vec::with_capacity(lines.len() * 2);
    for line in lines {
        ensure!(line.chars().count() == width, "ragged QR drawing: {line:?}");
        let top = line.chars().map(|c| c == UPPER || c == FULL).collect();
        let bottom = line.chars().map(|c| c == LOWER || c == FULL).collect();
        rows.push(top);
        rows.push(bottom);
    }
    Ok(rows)
}

/// Decodes the QR code drawn in `text` with zbarimg; returns its payload
/// exactly (`-Sbinary`: no charset guessing, no added newline).
pub fn decode(text: &str, dir: &Path) -> Result<String> {
    let rows = modules(&qr_lines(text))?;
    let (w, h) = (rows[0].len() * SCALE, rows.len() * SCALE);
    let mut pbm = format!("P1\n{w} {h}\n");
    for row in &rows {
        let line: Vec<&str> = row
            .iter()
            .flat_map(|dark| std::iter::repeat_n(if *dark { "1" } else { "0" }, SCALE))
            .collect();
        let line = line.join(" ");
        for _ in 0..SCALE {
            pbm.push_str(&line);
            pbm.push('\n');
        }
    }
    let image = dir.join("qr.pbm");
    std::fs::write(&image, pbm).with_context(|| format!("cannot write {}", image.display()))?;
    let out = run_command(
        Command::new("zbarimg")
            .args(["--raw", "-q", "-Sbinary"])
            .arg(&image),
        Duration::from_secs(30),
    )?;
    if out.stdout.is_empty() {
        bail!("zbarimg found no QR code in {}", image.display());
    }
    String::from_utf8(out.stdout).context("QR payload is not UTF-8")
}

#[cfg(test)]
#[path = "qr_tests.rs"]
mod tests;
