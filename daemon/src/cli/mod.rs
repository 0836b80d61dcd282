//! The command line: clap's types and what each command does.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, Context, Result};
use clap::{Parser, Subcommand};
use wingress_config::{Env, LogFormat};
use wingress_wg::PrivateKey;

use crate::platform::node;
use config_file::{read, report, server_config_source};

mod admin_client;
mod cluster;
mod config_file;
mod kube;
mod peer;
mod run;
mod status;

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
        command: cluster::ClusterCommand,
    },
    /// Kubernetes discovery, offline.
    Kube {
        #[command(subcommand)]
        command: KubeCommand,
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
enum KubeCommand {
    /// Print the routes, certificates and problems that Kubernetes
    /// manifests (Ingress, Service, EndpointSlice, TLS Secret, or Lists of
    /// them) give under a config, without a cluster.
    Render {
        /// A manifest file, multi-document YAML or JSON; `-` for stdin.
        /// Repeat for more files.
        #[arg(long = "filename", short = 'f', required = true)]
        files: Vec<PathBuf>,
        /// The config whose [kubernetes] section, routes, peers and
        /// entrypoints the Ingresses are held to (default: as `run`).
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Print routes, certificates and problems as JSON.
        #[arg(long)]
        json: bool,
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
        Command::Run { config, log_format } => run::run_daemon(config, log_format),
        Command::Forward { config, log_format } => run::forward(&config, log_format),
        Command::Status {
            json,
            config,
            socket,
        } => status::run(json, config, socket),
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
        Command::Cluster { command } => cluster::run(command),
        Command::Kube {
            command:
                KubeCommand::Render {
                    files,
                    config,
                    json,
                },
        } => kube::render(kube::RenderArgs {
            files,
            config,
            json,
        }),
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
        wingress_config::parse_server(path, &text, &env).map(|cfg| {
            for t in cfg.transports.iter().filter(|t| t.insecure_skip_verify) {
                eprintln!(
                    "{}:{}:{}: warning: [[transport]] `{}` has insecure_skip_verify = true: \
                     backend certificates are not verified, so anyone on the path to the \
                     backend can read and change its traffic",
                    path.display(),
                    t.location.0,
                    t.location.1,
                    t.name
                );
            }
        })
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
