//! `wingress run` and `wingress forward`: the config read, logging set up,
//! then the daemon or the client on a single-threaded runtime.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, Result};
use wingress_config::{Env, LogFormat};

use super::config_file::{read, report, server_config_source};
use crate::control::{notify, server, shutdown};
use crate::dataplane::client;
use crate::platform::{logging, node, sys};

pub(super) fn run_daemon(
    config: Option<PathBuf>,
    log_format: Option<LogFormat>,
) -> Result<ExitCode> {
    let env = Env::from_process();
    let (path, text, embedded) = server_config_source(config)?;
    let mut cfg = match wingress_config::parse_server(&path, &text, &env) {
        Ok(c) => c,
        Err(e) => return Ok(report(&e)),
    };
    let format = logging::format_from(log_format, cfg.log.format)?;
    logging::init(format, cfg.log.level.as_deref());
    let addr = node::node_addr(&cfg);
    let port = match (cfg.listen_port(), &addr) {
        (Ok(p), _) => p,
        (Err(_), Some(a)) => node::port_of(a),
        (Err(why), None) => {
            return Err(anyhow!("{why} (and the host's address could not be found)"))
        }
    };
    let detected = matches!(&addr, Some(a) if matches!(a.source, node::AddrSource::Detected(_)));
    if let Some(a) = &addr {
        tracing::info!(node_ip = %a.ip, source = %a.source, "node address");
        // The banner tells peers this address as their endpoint.
        cfg.node.ip = Some(a.ip);
    }
    if embedded {
        tracing::info!("no config file found; running the built-in default");
    }
    let launch = server::Launch {
        port,
        embedded,
        node_ip_detected: detected,
        node: addr,
        log_format: format,
    };
    block_on_local(server::run(cfg, launch))?;
    Ok(ExitCode::SUCCESS)
}

pub(super) fn forward(path: &Path, log_format: Option<LogFormat>) -> Result<ExitCode> {
    let env = Env::from_process();
    let cfg = match wingress_config::parse_client(path, &read(path)?, &env) {
        Ok(c) => c,
        Err(e) => return Ok(report(&e)),
    };
    logging::init(logging::format_from(log_format, LogFormat::Text)?, None);
    block_on_local(until_stopped(client::run(cfg)))?;
    Ok(ExitCode::SUCCESS)
}

/// Runs `fut` on a single-threaded runtime with a `LocalSet`, the way the
/// data plane wants it.
fn block_on_local(fut: impl std::future::Future<Output = Result<()>>) -> Result<()> {
    sys::pin_mmap_threshold();
    match sys::raise_nofile_limit() {
        Ok(n) => tracing::debug!(open_files = n, "open-files limit"),
        Err(e) => tracing::warn!(error = %e, "cannot raise the open-files limit"),
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, fut)
}

/// `fut` until SIGINT or SIGTERM (the client has nothing to drain).
async fn until_stopped(fut: impl std::future::Future<Output = Result<()>>) -> Result<()> {
    tokio::select! {
        r = fut => r,
        s = shutdown::stop_signal() => {
            notify::stopping();
            tracing::info!(signal = s?, "stopping");
            Ok(())
        }
    }
}
