//! "did you mean …?" for unknown keys.
//!
//! Keys are compared after lowercasing and dropping `_` and `-`, so both
//! typos (`allowed_ip`) and wg-quick spellings (`PublicKey`, `AllowedIPs`,
//! `PersistentKeepalive`) find the wingress key.

use strsim::levenshtein;

/// The known key closest to `unknown`, if any is close enough to be a likely
/// intended spelling.
pub(crate) fn suggest<'k>(unknown: &str, known: &[&'k str]) -> Option<&'k str> {
    let wanted = normalize(unknown);
    let threshold = (wanted.chars().count() / 3).clamp(1, 3);
    let mut best: Option<(usize, &'k str)> = None;
    for &candidate in known {
        let norm = normalize(candidate);
        let score = if norm == wanted {
            Some(0)
        } else {
            let d = levenshtein(&wanted, &norm);
            if d <= threshold {
                Some(d)
            } else if is_affix(&wanted, &norm) {
                // `keepalive` for `persistent_keepalive`, `privatekey` for
                // `private_key_file`: ranked after real near-misses.
                Some(threshold + 1 + wanted.len().abs_diff(norm.len()))
            } else {
                None
            }
        };
        if let Some(score) = score {
            if best.is_none_or(|(b, _)| score < b) {
                best = Some((score, candidate));
            }
        }
    }
    best.map(|(_, k)| k)
}

fn normalize(key: &str) -> String {
    key.chars()
        .filter(|c| *c != '_' && *c != '-')
        .flat_map(char::to_lowercase)
        .collect()
}

/// One is a prefix or suffix of the other, and the shorter is long enough not
/// to match by accident.
fn is_affix(a: &str, b: &str) -> bool {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    short.len() >= 5 && (long.starts_with(short) || long.ends_with(short))
}

#[cfg(test)]
#[path = "suggest_tests.rs"]
mod tests;
