//! The NAT lab's network: a public "internet" namespace with coturn on two
//! addresses, the node behind its own router (miniupnpd, a static forward,
//! or plain masquerade), and a WireGuard client behind a masquerading NAT.
//!
//! ```text
//!  client 10.0.0.2 ── 10.0.0.1 crouter 198.51.100.2 ──┐
//!                               (masquerade)          │ 198.51.100.1
//!                                                   public  (coturn 192.0.2.1, 192.0.2.2)
//!                                                     │ 203.0.113.1
//!  node 192.168.10.2 ── 192.168.10.1 router 203.0.113.2 ┘
//!                         (masquerade + miniupnpd | DNAT 41602)
//! ```
//!
//! The node's private network is routed nowhere: the client reaches it only
//! through whatever the node's router forwards.
//!
//! [`Topology::with_lan_host`] puts a third host, 192.168.10.3, on the
//! node's LAN: the router's LAN side becomes a bridge (multicast snooping
//! off, so SSDP searches reach every port) joining the node's link and
//! that host's.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use wingress_lab::{veth, Lab, Netns, Process};

pub(crate) const NODE_IP: &str = "192.168.10.2";
/// Another host on the node's LAN ([`Topology::with_lan_host`]).
pub(crate) const LAN_HOST_IP: &str = "192.168.10.3";
pub(crate) const NODE_PORT: u16 = 41602;
pub(crate) const ROUTER_WAN: &str = "203.0.113.2";
pub(crate) const STUN_A: &str = "192.0.2.1:3478";
pub(crate) const STUN_B: &str = "192.0.2.2:3478";
pub(crate) const CLIENT_TUNNEL: &str = "100.64.0.1";
pub(crate) const NODE_TUNNEL: &str = "100.64.0.2";
/// The client NAT's source ports after the first and second "rebinding".
pub(crate) const REBIND_PORTS: (u16, u16) = (30001, 30002);

const READY: Duration = Duration::from_secs(20);

/// What the node's router does with inbound traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Router {
    /// miniupnpd (UPnP IGD, NAT-PMP, PCP) opens ports on request. With
    /// `secure_mode` a LAN host may only map ports to itself.
    Miniupnpd { secure_mode: bool },
    /// A static forward of UDP 41602 to the node, like `dst-nat 41602 →
    /// node:41602` on a home router.
    StaticForward,
    /// Masquerade only: nothing gets in unasked.
    MasqueradeOnly,
}

pub(crate) struct Topology {
    /// Kept for its lifetime: the "internet" (routes, coturn).
    _public: Netns,
    pub router: Netns,
    pub node: Netns,
    pub crouter: Netns,
    pub client: Netns,
    router_wan: String,
    crouter_wan: String,
    dir: PathBuf,
    _turn: Process,
    /// miniupnpd and whether it runs in secure mode.
    miniupnpd: Option<(Process, bool)>,
    /// The other host on the node's LAN, if asked for.
    pub lan_host: Option<Netns>,
}

impl Topology {
    pub(crate) fn new(lab: &Lab, kind: Router) -> Result<Topology> {
        Topology::build(lab, kind, false)
    }

    /// [`Topology::new`] with another host ([`LAN_HOST_IP`]) on the node's
    /// LAN, bridged by the router.
    pub(crate) fn with_lan_host(lab: &Lab, kind: Router) -> Result<Topology> {
        Topology::build(lab, kind, true)
    }

    fn build(lab: &Lab, kind: Router, lan_host: bool) -> Result<Topology> {
        let (public, router, node, crouter, client) = (
            lab.netns()?,
            lab.netns()?,
            lab.netns()?,
            lab.netns()?,
            lab.netns()?,
        );
        let up = veth(&public, "203.0.113.1/24", &router, "203.0.113.2/24")?;
        let lan = veth(&router, "192.168.10.1/24", &node, "192.168.10.2/24")?;
        let lan_host = match lan_host {
            true => Some(bridge_lan_host(lab, &router, &lan.a)?),
            false => None,
        };
        let cp = veth(&public, "198.51.100.1/24", &crouter, "198.51.100.2/24")?;
        veth(&crouter, "10.0.0.1/24", &client, "10.0.0.2/24")?;
        for a in ["192.0.2.1/32", "192.0.2.2/32"] {
            public.ip(&["addr", "add", a, "dev", "lo"])?;
        }
        node.ip(&["route", "add", "default", "via", "192.168.10.1"])?;
        router.ip(&["route", "add", "default", "via", "203.0.113.1"])?;
        crouter.ip(&["route", "add", "default", "via", "198.51.100.1"])?;
        client.ip(&["route", "add", "default", "via", "10.0.0.1"])?;
        for ns in [&public, &router, &crouter] {
            ns.exec("sysctl", &["-qw", "net.ipv4.ip_forward=1"])?;
        }
        let turn = start_coturn(lab, &public)?;
        let t = Topology {
            _public: public,
            router,
            node,
            crouter,
            client,
            router_wan: up.b,
            crouter_wan: cp.b,
            dir: lab.dir().to_path_buf(),
            _turn: turn,
            miniupnpd: None,
            lan_host,
        };
        t.nft(
            &t.crouter,
            &format!(
                "table ip nat {{\n chain postrouting {{\n  type nat hook postrouting priority 100;\n  \
                 oifname \"{}\" masquerade\n }}\n}}\n",
                t.crouter_wan
            ),
        )?;
        let miniupnpd = match kind {
            Router::Miniupnpd { secure_mode } => {
                t.miniupnpd_tables()?;
                Some((t.start_miniupnpd(lab, secure_mode)?, secure_mode))
            }
            Router::StaticForward => {
                t.masquerade_router(true)?;
                None
            }
            Router::MasqueradeOnly => {
                t.masquerade_router(false)?;
                None
            }
        };
        Ok(Topology { miniupnpd, ..t })
    }

    /// Loads a ruleset (`nft -f`, from a file in the lab's folder).
    fn nft(&self, ns: &Netns, ruleset: &str) -> Result<()> {
        let file = self.dir.join(format!("{}.nft", ns.name()));
        std::fs::write(&file, ruleset)?;
        ns.exec("nft", &["-f", &file.display().to_string()])
            .map(drop)
    }

    /// The node router's NAT without miniupnpd, optionally with the static
    /// forward.
    fn masquerade_router(&self, forward: bool) -> Result<()> {
        let wan = &self.router_wan;
        let dnat = if forward {
            format!("  iifname \"{wan}\" udp dport {NODE_PORT} dnat to {NODE_IP}:{NODE_PORT}\n")
        } else {
            String::new()
        };
        self.nft(
            &self.router,
            &format!(
                "table ip nat {{\n chain prerouting {{\n  type nat hook prerouting priority -100;\n{dnat} }}\n \
                 chain postrouting {{\n  type nat hook postrouting priority 100;\n  oifname \"{wan}\" masquerade\n }}\n}}\n"
            ),
        )
    }

    /// Adds the static forward to a masquerade-only router, and forgets the
    /// connections the router tracked so far (a router does not apply a new
    /// DNAT rule to flows it already tracks).
    pub(crate) fn add_static_forward(&self) -> Result<()> {
        let wan = &self.router_wan;
        self.router.exec(
            "nft",
            &[
                "add",
                "rule",
                "ip",
                "nat",
                "prerouting",
                "iifname",
                wan,
                "udp",
                "dport",
                &NODE_PORT.to_string(),
                "dnat",
                "to",
                &format!("{NODE_IP}:{NODE_PORT}"),
            ],
        )?;
        self.router
            .exec("conntrack", &["-F"])
            .map(drop)
            .or_else(ignore_empty_flush)
    }

    /// The tables miniupnpd 2.3.1's broken init script would make (see
    /// LAB.md), and the router's masquerade.
    fn miniupnpd_tables(&self) -> Result<()> {
        let wan = &self.router_wan;
        self.nft(
            &self.router,
            &format!(
                "table inet filter {{\n\
                 chain forward {{\n type filter hook forward priority 0; policy accept;\n jump miniupnpd\n }}\n\
                 chain miniupnpd {{\n }}\n\
                 chain prerouting {{\n type nat hook prerouting priority -100; policy accept;\n jump prerouting_miniupnpd\n }}\n\
                 chain postrouting {{\n type nat hook postrouting priority 100; policy accept;\n jump postrouting_miniupnpd\n oifname \"{wan}\" masquerade\n }}\n\
                 chain prerouting_miniupnpd {{\n }}\n\
                 chain postrouting_miniupnpd {{\n }}\n}}\n"
            ),
        )
    }

    /// miniupnpd made to forward in a namespace (see LAB.md): STUN to learn
    /// that its reserved WAN address is not behind another NAT, and the
    /// keys that work.
    fn start_miniupnpd(&self, lab: &Lab, secure_mode: bool) -> Result<Process> {
        let wan = &self.router_wan;
        let lan = self
            .router
            .exec("ip", &["-o", "-4", "addr", "show", "to", "192.168.10.1"])?;
        let lan_if = lan
            .split_whitespace()
            .nth(1)
            .context("no LAN interface on the router")?
            .to_string();
        let conf = lab.write_file(
            "miniupnpd.conf",
            &format!(
                "ext_ifname={wan}\nlistening_ip={lan_if}\nhttp_port=5000\nenable_natpmp=yes\n\
                 enable_upnp=yes\nsecure_mode={secure}\nuuid=3d3cec3a-8cf0-11e0-98ee-001a6bd2d07b\n\
                 ext_perform_stun=yes\next_stun_host=192.0.2.1\next_stun_port=3478\n\
                 min_lifetime=2\nmax_lifetime=86400\n\
                 allow 1024-65535 192.168.10.0/24 1024-65535\ndeny 0-65535 0.0.0.0/0 0-65535\n",
                secure = if secure_mode { "yes" } else { "no" },
            ),
        )?;
        let pid = lab.dir().join("miniupnpd.pid");
        let mut p = self.router.spawn(
            "miniupnpd",
            "miniupnpd",
            &[
                "-f".into(),
                conf.display().to_string(),
                "-d".into(),
                "-P".into(),
                pid.display().to_string(),
            ],
        )?;
        self.router.wait_listening_by(&mut p, "tcp", 5000, READY)?;
        self.router.wait_listening_by(&mut p, "udp", 5351, READY)?;
        p.wait_for_log("Port forwarding is now enabled", READY)?;
        Ok(p)
    }

    /// The router reboots: miniupnpd dies, its forwards and the flows the
    /// router tracked are gone, and it starts afresh (its PCP and NAT-PMP
    /// epoch starts again from zero).
    pub(crate) fn reboot_router(&mut self, lab: &Lab) -> Result<()> {
        let (mut old, secure_mode) = self.miniupnpd.take().context("no miniupnpd here")?;
        old.kill();
        for chain in ["miniupnpd", "prerouting_miniupnpd", "postrouting_miniupnpd"] {
            self.router
                .exec("nft", &["flush", "chain", "inet", "filter", chain])?;
        }
        self.router
            .exec("conntrack", &["-F"])
            .map(drop)
            .or_else(ignore_empty_flush)?;
        self.miniupnpd = Some((self.start_miniupnpd(lab, secure_mode)?, secure_mode));
        Ok(())
    }

    /// The router stops hearing SSDP (it drops what arrives for port 1900)
    /// until [`Topology::release_ssdp`]: another LAN host's answer is then
    /// surely the first the node gets.
    pub(crate) fn hold_ssdp(&self) -> Result<()> {
        self.nft(
            &self.router,
            "table inet ssdp_hold {\n chain input {\n  type filter hook input priority -50; policy accept;\n  \
             udp dport 1900 drop\n }\n}\n",
        )
    }

    pub(crate) fn release_ssdp(&self) -> Result<()> {
        self.router
            .exec("nft", &["delete", "table", "inet", "ssdp_hold"])
            .map(drop)
    }

    /// The router's DNAT rules that miniupnpd made.
    pub(crate) fn miniupnpd_rules(&self) -> Result<String> {
        self.router.exec(
            "nft",
            &["list", "chain", "inet", "filter", "prerouting_miniupnpd"],
        )
    }

    /// The client NAT "rebinds": new UDP flows get source port `port`, and
    /// the flows it tracked are forgotten, so the client's next packet
    /// leaves from a new public port.
    pub(crate) fn rebind_client_nat(&self, port: u16) -> Result<()> {
        // One transaction: a moment without the masquerade rule would let
        // the client's packets out with their private source address.
        let wan = &self.crouter_wan;
        self.nft(
            &self.crouter,
            &format!(
                "flush chain ip nat postrouting\n\
                 add rule ip nat postrouting oifname \"{wan}\" meta l4proto udp masquerade to :{port}\n\
                 add rule ip nat postrouting oifname \"{wan}\" masquerade\n"
            ),
        )?;
        self.crouter
            .exec("conntrack", &["-F"])
            .map(drop)
            .or_else(ignore_empty_flush)
    }

    /// The client NAT's tracked UDP flows (`conntrack -L -p udp`).
    pub(crate) fn client_nat_flows(&self) -> Result<String> {
        self.crouter.exec("conntrack", &["-L", "-p", "udp"])
    }
}

/// A host at [`LAN_HOST_IP`] on the node's LAN: the router's LAN address
/// moves from its end of the node's link (`router_lan`) to a bridge that
/// joins that link and the new host's. The bridge floods multicast (no
/// snooping), as a home switch does.
fn bridge_lan_host(lab: &Lab, router: &Netns, router_lan: &str) -> Result<Netns> {
    let host = lab.netns()?;
    // The address on the router's end is a placeholder; the bridge takes over.
    let link = veth(
        router,
        "192.168.10.254/32",
        &host,
        &format!("{LAN_HOST_IP}/24"),
    )?;
    let bridge = "vlbr0";
    router.ip(&[
        "link",
        "add",
        bridge,
        "type",
        "bridge",
        "mcast_snooping",
        "0",
    ])?;
    for port in [router_lan, link.a.as_str()] {
        router.ip(&["addr", "flush", "dev", port])?;
        router.ip(&["link", "set", port, "master", bridge])?;
    }
    router.ip(&["addr", "add", "192.168.10.1/24", "dev", bridge])?;
    router.ip(&["link", "set", bridge, "up"])?;
    Ok(host)
}

/// `conntrack -F` with nothing tracked can fail on some versions; that
/// still leaves nothing tracked.
fn ignore_empty_flush(e: anyhow::Error) -> Result<()> {
    if format!("{e:#}").contains("0 flow entries") {
        Ok(())
    } else {
        Err(e)
    }
}

/// coturn as a STUN-only server on two addresses with an alternate port,
/// so it answers RFC 5780 CHANGE-REQUESTs (miniupnpd's STUN test needs
/// that, and so does the node's filtering test).
fn start_coturn(lab: &Lab, public: &Netns) -> Result<Process> {
    let db: PathBuf = lab.dir().join("turndb");
    let pid = lab.dir().join("turnserver.pid");
    let args: Vec<String> = [
        "-n",
        "-S",
        "-z",
        "-L",
        "192.0.2.1",
        "-L",
        "192.0.2.2",
        "-p",
        "3478",
        "--alt-listening-port",
        "3479",
        "--no-tcp",
        "--no-tls",
        "--no-dtls",
        "--no-cli",
        "--no-software-attribute",
        "--log-file",
        "stdout",
        "--simple-log",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain(["--db".into(), db.display().to_string()])
    .chain(["--pidfile".into(), pid.display().to_string()])
    .collect();
    let mut p = public.spawn("coturn", "turnserver", &args)?;
    public.wait_listening_by(&mut p, "udp", 3478, READY)?;
    public.wait_listening_by(&mut p, "udp", 3479, READY)?;
    Ok(p)
}
