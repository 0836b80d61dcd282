//! The command line: clap's types and what each command does.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, Context, Result};
use clap::{Parser, Subcommand};
use wingress_config::{ConfigErrors, Env, LogFormat};
use wingress_wg::PrivateKey;

use crate::{
    client, cluster, keyfile, logging, node, notify, peer, server, shutdown, status_cli, sys,
};
/// EX_USAGE: the command was used incorrectly (a bad config).
const EX_USAGE: u8 = 64;

/// The command line.
#[derive(Parser)]
#[command(
    name = "wingress",
    version,
    about = "Userspace WireGuard ingress: no TUN, no root"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the daemon. Without --config: ./wingress.toml, then
    /// /etc/wingress/wingress.toml, then a built-in default.
    Run {
        #[arg(long, short)]
        config: Option<PathBuf>,
        // The help text is an attribute, not a doc comment: rustdoc would
        // read `[log]` as a link.
        #[arg(
            long,
            value_parser = parse_log_format,
            help = "Log format: text or json (else WINGRESS_LOG_FORMAT, else [log].format)"
        )]
        log_format: Option<LogFormat>,
    },
    /// Validate a config; report every error with file:line:col.
    Check {
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Userspace WireGuard client: forward host sockets into the tunnel.
    Forward {
        #[arg(long, short)]
        config: PathBuf,
        /// Log format: text or json (else WINGRESS_LOG_FORMAT).
        #[arg(long, value_parser = parse_log_format)]
        log_format: Option<LogFormat>,
    },
    /// Show a running daemon: node, peers, listeners, routes, certificates.
    Status {
        /// Print the status document as JSON.
        #[arg(long)]
        json: bool,
        /// The daemon's config, to find its admin socket.
        #[arg(long, short, conflicts_with = "socket")]
        config: Option<PathBuf>,
        /// The admin socket (default: from the config, else
        /// <state_dir>/admin.sock of the default config).
        #[arg(long)]
        socket: Option<PathBuf>,
    },
    /// Print a new private key (like `wg genkey`).
    Genkey,
    /// Read a private key on stdin, print its public key (like `wg pubkey`).
    Pubkey,
    /// The internal certificate authority.
    Ca {
        #[command(subcommand)]
        command: CaCommand,
    },
    /// Several nodes, one client config (each node: own key, port, tunnel address).
    Cluster {
        #[command(subcommand)]
        command: ClusterCommand,
    },
    /// Add, list or remove the clients ([[peer]]s) of a config file.
    Peer {
        #[command(subcommand)]
        command: PeerCommand,
    },
    /// Print the node's WireGuard UDP port: 41600 + the last octet of its IPv4
    /// address (stdout), and where the address came from (stderr).
    Port {
        /// The node's IPv4 address (else the config's [node].ip, else
        /// WINGRESS_NODE_IP / K8S_NODE_IP / HOST_IP, else the host's).
        #[arg(long)]
        node_ip: Option<String>,
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum ClusterCommand {
    /// Print this node's line for `cluster client-config`:
    /// name=…,endpoint=IP:PORT,key=PUBLIC KEY,address=TUNNEL ADDRESS.
    /// Reads the key the daemon created (run it once first); creates nothing.
    Node {
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Default: the host name.
        #[arg(long)]
        name: Option<String>,
        /// Where clients reach this node (a public HOST:PORT in front of a
        /// router forward); default: the node's IP and port.
        #[arg(long)]
        endpoint: Option<String>,
    },
    /// Write one wg-quick client config with every node as a peer, and
    /// print the [[peer]] each node's config needs for this client.
    ClientConfig {
        /// A file of node lines (`wingress cluster node` output), one per line.
        #[arg(long)]
        nodes: Option<PathBuf>,
        /// A node line; repeatable.
        #[arg(long = "node")]
        node: Vec<String>,
        /// The client's tunnel address, e.g. 100.64.1.10.
        #[arg(long)]
        address: String,
        /// The client's name in the [[peer]] for the nodes.
        #[arg(long, default_value = "client")]
        name: String,
        /// The client's private key (mode 0600); default: a new key.
        #[arg(long)]
        private_key_file: Option<PathBuf>,
        /// DNS servers for the client, comma-separated (e.g. the nodes'
        /// tunnel addresses when they serve DNS).
        #[arg(long, value_delimiter = ',')]
        dns: Vec<std::net::IpAddr>,
        /// PersistentKeepalive seconds; 0 turns it off.
        #[arg(long, default_value_t = 25)]
        keepalive: u16,
        /// Use this host for every endpoint, keeping each node's port (one
        /// public address with a router forward per node port).
        #[arg(long)]
        endpoint_host: Option<String>,
        /// Write the config here (mode 0600) instead of stdout.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum PeerCommand {
    /// Add a client: generates its keys, assigns the next free tunnel
    /// address, adds it to the config (comments kept), reloads a running
    /// daemon, and prints the client's wg-quick config.
    Add {
        /// The peer's name (its identity in routes and headers).
        name: String,
        /// Tags for access rules, comma-separated: --tags admin,phone
        #[arg(long, value_delimiter = ',')]
        tags: Vec<String>,
        /// Also print the config as a QR code for the WireGuard phone apps.
        #[arg(long)]
        qr: bool,
        /// The Endpoint clients use (default: the public endpoint the
        /// running daemon found, else [nat].advertise, else node ip:port).
        #[arg(long)]
        endpoint: Option<String>,
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// List the peers: name, public key, allowed IPs, tags.
    List {
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Remove a peer (with its comments) and reload a running daemon.
    Remove {
        name: String,
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum CaCommand {
    /// Print the internal CA's root certificate (PEM), for clients to trust.
    /// Creates the CA when the config enables it and none exists yet.
    Export {
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
}

/// Runs the command `cli` names; what the process exits with.
pub fn run(cli: Cli) -> ExitCode {
    let result = match cli.command {
        Command::Genkey => genkey(),
        Command::Pubkey => pubkey(),
        Command::Port { node_ip, config } => port(node_ip.as_deref(), config.as_deref()),
        Command::Check { config } => check(&config),
        Command::Run { config, log_format } => run_daemon(config, log_format),
        Command::Forward { config, log_format } => forward(&config, log_format),
        Command::Status {
            json,
            config,
            socket,
        } => status_cli::run(json, config, socket),
        Command::Peer { command } => match command {
            PeerCommand::Add {
                name,
                tags,
                qr,
                endpoint,
                config,
            } => peer::add(peer::AddArgs {
                name,
                tags,
                qr,
                endpoint,
                config,
            }),
            PeerCommand::List { config } => peer::list(config),
            PeerCommand::Remove { name, config } => peer::remove(&name, config),
        },
        Command::Ca {
            command: CaCommand::Export { config },
        } => ca_export(config),
        Command::Cluster { command } => cluster(command),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("wingress: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn genkey() -> Result<ExitCode> {
    println!("{}", PrivateKey::generate().to_base64());
    Ok(ExitCode::SUCCESS)
}

fn pubkey() -> Result<ExitCode> {
    let mut s = String::new();
    std::io::stdin().read_to_string(&mut s)?;
    let key: PrivateKey = s
        .trim()
        .parse()
        .map_err(|e| anyhow!("invalid private key on stdin: {e}"))?;
    println!("{}", key.public_key().to_base64());
    Ok(ExitCode::SUCCESS)
}

/// A config file's text, or a usage error.
pub(crate) fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read config {}", path.display()))
}

pub(crate) fn report(errors: &ConfigErrors) -> ExitCode {
    eprintln!("{errors}");
    let n = errors.0.len();
    eprintln!(
        "wingress: {n} error{} in config",
        if n == 1 { "" } else { "s" }
    );
    ExitCode::from(EX_USAGE)
}

/// `wingress port`: the port on stdout (alone, so scripts can use it), and
/// on stderr where it came from.
fn port(flag: Option<&str>, config: Option<&Path>) -> Result<ExitCode> {
    let env = Env::from_process();
    let mut cfg = None;
    if let Some(path) = config {
        match wingress_config::parse_server(path, &read(path)?, &env) {
            Ok(c) => cfg = Some(c),
            Err(e) => return Ok(report(&e)),
        }
    }
    if flag.is_none() {
        if let Some(p) = cfg.as_ref().and_then(|c| c.wireguard.listen_port) {
            println!("{p}");
            eprintln!("port from [wireguard].listen_port");
            return Ok(ExitCode::SUCCESS);
        }
    }
    let addr = node::node_addr_for_port(flag, cfg.as_ref(), &env)?;
    println!("{}", node::port_of(&addr));
    eprintln!("node address {} (from {})", addr.ip, addr.source);
    Ok(ExitCode::SUCCESS)
}

fn check(path: &Path) -> Result<ExitCode> {
    let text = read(path)?;
    let env = Env::from_process();
    // A file is either a daemon config or a forward (client) config: it is
    // a client config when it has [[forward]] tables.
    let is_client = text
        .lines()
        .any(|l| l.trim_start().starts_with("[[forward]]"));
    let result = if is_client {
        wingress_config::parse_client(path, &text, &env).map(|_| ())
    } else {
        wingress_config::parse_server(path, &text, &env).map(|_| ())
    };
    match result {
        Ok(()) => {
            println!("{}: ok", path.display());
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Ok(report(&e)),
    }
}

fn parse_log_format(s: &str) -> std::result::Result<LogFormat, String> {
    s.parse()
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

fn ca_export(config: Option<PathBuf>) -> Result<ExitCode> {
    let (path, text, _) = server_config_source(config)?;
    let cfg = match wingress_config::parse_server(&path, &text, &Env::from_process()) {
        Ok(c) => c,
        Err(e) => return Ok(report(&e)),
    };
    let pem =
        wingress_tls::export_ca(&cfg.node.state_dir, cfg.tls.internal_ca).with_context(|| {
            format!(
                "no internal CA in {} (enable it with [tls] internal_ca = true)",
                cfg.node.state_dir.display()
            )
        })?;
    print!("{pem}");
    Ok(ExitCode::SUCCESS)
}

/// The config to run: the flag, else ./wingress.toml, else
/// /etc/wingress/wingress.toml, else the embedded default (`true`).
pub(crate) fn server_config_source(config: Option<PathBuf>) -> Result<(PathBuf, String, bool)> {
    let found = config.or_else(|| {
        [
            PathBuf::from("wingress.toml"),
            PathBuf::from("/etc/wingress/wingress.toml"),
        ]
        .into_iter()
        .find(|p| p.exists())
    });
    Ok(match found {
        Some(p) => {
            let t = read(&p)?;
            (p, t, false)
        }
        None => (
            PathBuf::from("<embedded default>"),
            wingress_config::EMBEDDED_DEFAULT.to_string(),
            true,
        ),
    })
}

fn run_daemon(config: Option<PathBuf>, log_format: Option<LogFormat>) -> Result<ExitCode> {
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

fn forward(path: &Path, log_format: Option<LogFormat>) -> Result<ExitCode> {
    let env = Env::from_process();
    let cfg = match wingress_config::parse_client(path, &read(path)?, &env) {
        Ok(c) => c,
        Err(e) => return Ok(report(&e)),
    };
    logging::init(logging::format_from(log_format, LogFormat::Text)?, None);
    block_on_local(until_stopped(client::run(cfg)))?;
    Ok(ExitCode::SUCCESS)
}

fn cluster(command: ClusterCommand) -> Result<ExitCode> {
    match command {
        ClusterCommand::Node {
            config,
            name,
            endpoint,
        } => {
            let (path, text, _) = server_config_source(config)?;
            let cfg = match wingress_config::parse_server(&path, &text, &Env::from_process()) {
                Ok(c) => c,
                Err(e) => return Ok(report(&e)),
            };
            let key_path = cfg
                .wireguard
                .private_key_file
                .clone()
                .unwrap_or_else(|| cfg.node.state_dir.join("private.key"));
            if !key_path.exists() {
                return Err(anyhow!(
                    "no private key at {} yet: start the daemon once (it creates its key on first start)",
                    key_path.display()
                ));
            }
            let key = keyfile::load(&key_path)?.public_key();
            let spec =
                cluster::NodeSpec::from_config(&cfg, key, name.as_deref(), endpoint.as_deref())?;
            println!("{}", spec.line());
        }
        ClusterCommand::ClientConfig {
            nodes,
            node,
            address,
            name,
            private_key_file,
            dns,
            keepalive,
            endpoint_host,
            output,
        } => {
            let nodes = cluster::collect_nodes(nodes.as_deref(), &node)?;
            let address = address
                .trim()
                .trim_end_matches("/32")
                .parse()
                .map_err(|_| anyhow!("--address `{address}` is not an IPv4 address"))?;
            let private_key = match &private_key_file {
                Some(p) => keyfile::load(p)?,
                None => PrivateKey::generate(),
            };
            let client = cluster::ClientSpec {
                name,
                private_key,
                address,
                dns,
                keepalive: (keepalive != 0).then_some(keepalive),
                endpoint_host,
            };
            let conf = cluster::client_config(&client, &nodes)?;
            match &output {
                Some(p) => keyfile::write_atomic(p, conf.as_bytes())?,
                None => print!("{conf}"),
            }
            eprintln!(
                "# Add this peer to the config of every node (the same [[peer]] on each):\n{}",
                cluster::server_peer(&client)
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
