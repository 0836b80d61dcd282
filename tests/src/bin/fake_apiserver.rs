//! `wingress-fake-apiserver`: the fake Kubernetes API server of
//! `wingress_lab::kube_api` as a program, for trying wingress (or kubectl)
//! against it by hand and for lab tests that run it in a namespace.
//!
//! It writes `ca.pem`, `token` and `kubeconfig` into `--dir`, loads the
//! objects of every `--objects` YAML file, prints the kubeconfig's path
//! and serves until killed. With `--role` (a folder or file holding the
//! ClusterRole, e.g. packaging/kubernetes) requests outside it get 403.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Parser;
use wingress_lab::kube_api::{ClusterRole, FakeApiServer, FakeConfig};

/// The command line.
#[derive(Parser, Debug)]
#[command(about = "A fake Kubernetes API server (HTTPS, list/watch) for wingress's tests")]
struct Args {
    /// Where ca.pem, token and kubeconfig are written.
    #[arg(long)]
    dir: PathBuf,
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1:6443")]
    listen: SocketAddr,
    /// A YAML file of objects to serve (repeatable).
    #[arg(long)]
    objects: Vec<PathBuf>,
    /// The ClusterRole to enforce: a YAML file, or a folder of them.
    #[arg(long)]
    role: Option<PathBuf>,
    /// The bearer token.
    #[arg(long, default_value = "wingress-token-1")]
    token: String,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let role = match &args.role {
        Some(p) if p.is_dir() => Some(ClusterRole::from_dir(p)?),
        Some(p) => Some(ClusterRole::from_yaml(
            &std::fs::read_to_string(p).with_context(|| format!("read {}", p.display()))?,
        )?),
        None => None,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let mut config = FakeConfig::new(&args.dir);
        config.listen = args.listen;
        config.role = role;
        config.token = args.token.clone();
        let server = FakeApiServer::start(config).await?;
        for file in &args.objects {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("read {}", file.display()))?;
            server
                .apply_yaml(&text)
                .with_context(|| format!("load {}", file.display()))?;
        }
        println!("{}", server.kubeconfig().display());
        eprintln!("fake kube-apiserver at {}", server.url());
        tokio::signal::ctrl_c().await?;
        Ok(())
    })
}
