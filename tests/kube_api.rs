//! The fake Kubernetes API server (`wingress_lab::kube_api`) checked with
//! kube-rs as the client.
