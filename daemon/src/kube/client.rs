//! The API client's credentials and address: the in-cluster service
//! account by default, a kubeconfig file when one is configured.
//!
//! In-cluster ([`Config::incluster`]): the address from
//! `KUBERNETES_SERVICE_HOST`/`_PORT`, the CA and the token from
//! `/var/run/secrets/kubernetes.io/serviceaccount/`. kube-rs keeps the
//! token file's path, not its contents: it re-reads the file when the
//! cached token is 50 seconds old (kube-client 5's `TokenFile`, keeping
//! the old token if the read fails), and re-reads `ca.crt` about once a
//! minute for new connections; the kubelet rotates the projected token
//! long before it expires, so a rotation is picked up in time. TLS is
//! rustls with ring (the workspace's locked features).

use std::path::Path;

use anyhow::{Context, Result};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

/// A client for the in-cluster API server, or for the current context of
/// the kubeconfig at `kubeconfig`. Needs a tokio runtime (the client's
/// connection pool runs on it).
pub(crate) async fn client(kubeconfig: Option<&Path>) -> Result<Client> {
    let config = match kubeconfig {
        Some(path) => {
            let file = Kubeconfig::read_from(path)
                .with_context(|| format!("cannot read the kubeconfig {}", path.display()))?;
            Config::from_custom_kubeconfig(file, &KubeConfigOptions::default())
                .await
                .with_context(|| format!("cannot use the kubeconfig {}", path.display()))?
        }
        None => Config::incluster().context(
            "not running in a Kubernetes pod (no KUBERNETES_SERVICE_HOST, or no service \
             account token); set [kubernetes].kubeconfig to run outside the cluster",
        )?,
    };
    tracing::info!(api_server = %config.cluster_url, "Kubernetes API server");
    Client::try_from(config).context("cannot build the Kubernetes client")
}
