//! Writes the seed corpora, `fuzz/corpus/<target>/<name>`: real messages
//! (a handshake from the fixed client key, packets, STUN and PCP answers,
//! miniupnpd's SSDP answer and description, DNS queries, certificates,
//! the example configs), in the layout each target reads
//! (`wingress_fuzz::input`).
//!
//!     cd fuzz && cargo run --example seeds
//!
//! Messages with fresh randomness (handshakes) differ from run to run;
//! everything else is the same every time.

mod data_plane;
mod nat;
mod services;

use std::fs;
use std::path::{Path, PathBuf};

use wingress_fuzz::input::Seed;

use data_plane::{netstack, wg_datagram, wg_session};
use nat::{nat_mapper, port_mapping, stun_answers, upnp};
use services::{dns_server, dns_tsig, http_path, x509_name};

pub(crate) struct Corpus {
    dir: PathBuf,
    count: usize,
}

impl Corpus {
    fn new(root: &Path, target: &str) -> Corpus {
        let dir = root.join(target);
        fs::create_dir_all(&dir).expect("create corpus folder");
        Corpus { dir, count: 0 }
    }

    pub(crate) fn add(&mut self, name: &str, bytes: impl AsRef<[u8]>) {
        fs::write(self.dir.join(name), bytes).expect("write seed");
        self.count += 1;
    }

    pub(crate) fn seed(&mut self, name: &str, seed: Seed) {
        self.add(name, seed.into_bytes());
    }
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut total = 0;
    for (target, write) in [
        ("wg_datagram", wg_datagram as fn(&mut Corpus)),
        ("wg_session", wg_session),
        ("netstack", netstack),
        ("stun", stun_answers),
        ("port_mapping", port_mapping),
        ("upnp", upnp),
        ("nat_mapper", nat_mapper),
        ("http_path", http_path),
        ("dns_server", dns_server),
        ("dns_tsig", dns_tsig),
        ("x509_name", x509_name),
    ] {
        let mut c = Corpus::new(&root, target);
        write(&mut c);
        total += c.count;
    }
    let mut c = Corpus::new(&root, "config");
    config(&mut c, &repo);
    total += c.count;
    println!("wrote {total} seeds under {}", root.display());
}

/// The ops of one input, one after the other.
pub(crate) fn join(parts: &[Seed]) -> Seed {
    Seed(parts.iter().flat_map(|s| s.0.clone()).collect())
}

// === config ===

fn config(c: &mut Corpus, repo: &Path) {
    for name in ["wingress.toml", "https.toml", "forward.toml"] {
        let text = fs::read(repo.join("config").join(name)).expect("example config");
        c.seed(name, Seed::new().u8(1).rest(&text));
    }
    c.seed(
        "embedded-default",
        Seed::new()
            .u8(0)
            .rest(wingress_config::EMBEDDED_DEFAULT.as_bytes()),
    );
    // The DaemonSet's config: the block under `wingress.toml: |`.
    let yaml =
        fs::read_to_string(repo.join("packaging/kubernetes/configmap.yaml")).expect("configmap");
    let toml: String = yaml
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("wingress.toml: |"))
        .skip(1)
        .take_while(|l| l.is_empty() || l.starts_with("    "))
        .map(|l| format!("{}\n", l.get(4..).unwrap_or("")))
        .collect();
    c.seed(
        "kubernetes-configmap",
        Seed::new().u8(1).rest(toml.as_bytes()),
    );
}
