//! `wingress kube render`: the routes, certificates and problems a set of
//! Kubernetes manifests gives, offline (no cluster, no daemon), through the
//! same mapping the daemon runs on what it watches.

use std::fmt::Write as _;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, Context, Result};
use wingress_config::{Access, Env, PathMatch};
use wingress_kube::{map, Mapping, Policy, Snapshot};

use super::config_file::{report, server_config_source};

/// `render`'s arguments.
pub(crate) struct RenderArgs {
    /// Manifest files (multi-document YAML or JSON; `-` is stdin).
    pub(crate) files: Vec<PathBuf>,
    /// The config whose `[kubernetes]`, routes, peers and entrypoints
    /// the Ingresses are held to.
    pub(crate) config: Option<PathBuf>,
    pub(crate) json: bool,
}

/// Reads the manifests, maps them, prints the result. Exits 0 even with
/// problems (they are the output); 64 for a bad config, 1 for unreadable
/// manifests.
pub(crate) fn render(args: RenderArgs) -> Result<ExitCode> {
    let (path, text, embedded) = server_config_source(args.config)?;
    let cfg = match wingress_config::parse_server(&path, &text, &Env::from_process()) {
        Ok(c) => c,
        Err(e) => return Ok(report(&e)),
    };
    if !args.json {
        let from = if embedded {
            "the built-in default config".to_string()
        } else {
            path.display().to_string()
        };
        eprintln!("policy from {from}");
    }
    let mut snapshot = Snapshot::default();
    for file in &args.files {
        read_manifests(file, &mut snapshot)?;
    }
    let mapping = map(&snapshot, &Policy::from_config(&cfg));
    if args.json {
        println!("{}", serde_json::to_string_pretty(&to_json(&mapping))?);
    } else {
        print!("{}", table(&mapping));
    }
    Ok(ExitCode::SUCCESS)
}

/// Adds every object of one file to the snapshot.
fn read_manifests(file: &Path, snapshot: &mut Snapshot) -> Result<()> {
    let text = if file == Path::new("-") {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s)?;
        s
    } else {
        std::fs::read_to_string(file)
            .with_context(|| format!("cannot read manifest {}", file.display()))?
    };
    add_manifests(&text, snapshot).map_err(|e| anyhow!("{}: {e}", file.display()))
}

/// Adds every object of a multi-document YAML (or JSON) text; empty
/// documents are skipped, other kinds ignored.
fn add_manifests(text: &str, snapshot: &mut Snapshot) -> Result<(), String> {
    let docs = serde_saphyr::from_multiple::<serde_json::Value>(text).map_err(|e| e.to_string())?;
    for doc in docs.into_iter().filter(|d| !d.is_null()) {
        snapshot.add_object(doc)?;
    }
    Ok(())
}

/// Routes, certificates and problems, as aligned columns and lines.
fn table(m: &Mapping) -> String {
    let mut rows = vec![[
        "HOST".to_string(),
        "PATH".to_string(),
        "TYPE".to_string(),
        "ACCESS".to_string(),
        "BACKENDS".to_string(),
        "INGRESS".to_string(),
    ]];
    for r in &m.routes {
        let backends = if r.route.backends.is_empty() {
            "(none: 503)".to_string()
        } else {
            r.route
                .backends
                .iter()
                .map(|b| b.to_string().trim_start_matches("http://").to_string())
                .collect::<Vec<_>>()
                .join(",")
        };
        rows.push([
            r.route.host.to_string(),
            r.route.path_prefix.clone(),
            path_type(r.route.path_match).to_string(),
            access(r.route.access).to_string(),
            backends,
            r.ingress.to_string(),
        ]);
    }
    let mut out = String::new();
    if m.routes.is_empty() {
        out.push_str("no routes\n");
    } else {
        let widths: Vec<usize> = (0..6)
            .map(|i| rows.iter().map(|r| r[i].len()).max().unwrap_or(0))
            .collect();
        for row in &rows {
            let mut line = String::new();
            for (cell, width) in row.iter().zip(&widths) {
                let _ = write!(line, "{cell:width$}  ");
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
    }
    for c in &m.certificates {
        let names: Vec<String> = c.names.iter().map(ToString::to_string).collect();
        let _ = writeln!(
            out,
            "certificate: Secret {} for {} (Ingress {})",
            c.secret,
            names.join(", "),
            c.ingress
        );
    }
    for p in &m.problems {
        let _ = writeln!(out, "problem: Ingress {}: {}", p.ingress, p.message);
    }
    out
}

fn to_json(m: &Mapping) -> serde_json::Value {
    let routes: Vec<serde_json::Value> = m
        .routes
        .iter()
        .map(|r| {
            serde_json::json!({
                "host": r.route.host.to_string(),
                "path": r.route.path_prefix,
                "path_type": path_type(r.route.path_match),
                "access": access(r.route.access),
                "backends": r.route.backends.iter().map(ToString::to_string).collect::<Vec<_>>(),
                "ingress": r.ingress.to_string(),
            })
        })
        .collect();
    let certificates: Vec<serde_json::Value> = m
        .certificates
        .iter()
        .map(|c| {
            serde_json::json!({
                "secret": c.secret.to_string(),
                "ingress": c.ingress.to_string(),
                "names": c.names.iter().map(ToString::to_string).collect::<Vec<_>>(),
            })
        })
        .collect();
    let problems: Vec<serde_json::Value> = m
        .problems
        .iter()
        .map(|p| serde_json::json!({ "ingress": p.ingress.to_string(), "message": p.message }))
        .collect();
    serde_json::json!({
        "routes": routes,
        "certificates": certificates,
        "problems": problems,
    })
}

/// The Kubernetes name of a route's path match.
fn path_type(m: PathMatch) -> &'static str {
    match m {
        PathMatch::Exact => "Exact",
        PathMatch::Segments => "Prefix",
        PathMatch::Prefix => "string-prefix",
    }
}

fn access(a: Access) -> &'static str {
    match a {
        Access::Tunnel => "tunnel",
        Access::Mtls => "mtls",
        Access::ForwardAuth => "forward-auth",
        Access::Public => "public",
    }
}

#[cfg(test)]
#[path = "kube_tests.rs"]
mod tests;
