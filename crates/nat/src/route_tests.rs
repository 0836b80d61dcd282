use super::*;

fn hex(ip: [u8; 4]) -> String {
    format!("{:08X}", u32::from_ne_bytes(ip))
}

#[test]
fn picks_the_default_route_with_the_lowest_metric() {
    let table = format!(
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
             wlan0\t00000000\t{wifi}\t0003\t0\t0\t600\t00000000\t0\t0\t0\n\
             eth0\t00000000\t{eth}\t0003\t0\t0\t100\t00000000\t0\t0\t0\n\
             eth0\t{net}\t00000000\t0001\t0\t0\t100\t{mask}\t0\t0\t0\n\
             garbage line\n",
        wifi = hex([10, 0, 0, 1]),
        eth = hex([192, 168, 10, 1]),
        net = hex([192, 168, 10, 0]),
        mask = hex([255, 255, 255, 0]),
    );
    assert_eq!(
        default_route(&table),
        Some(DefaultRoute {
            interface: "eth0".into(),
            gateway: Ipv4Addr::new(192, 168, 10, 1)
        })
    );
}

#[test]
fn no_default_route() {
    let only_link = format!(
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
             eth0\t{net}\t00000000\t0001\t0\t0\t0\t{mask}\t0\t0\t0\n",
        net = hex([10, 99, 0, 0]),
        mask = hex([255, 255, 255, 0]),
    );
    assert_eq!(default_route(&only_link), None);
    assert_eq!(default_route(""), None);
}
