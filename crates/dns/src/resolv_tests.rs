use super::*;

#[test]
fn reads_nameserver_lines() {
    let text = "# generated\nsearch lan\nnameserver 10.0.0.1\n nameserver\t192.168.1.1 # router\n\
                    nameserver fe80::1%eth0\nnameserver 2001:db8::53\noptions edns0\nnameserver banana\n";
    let got: Vec<String> = nameservers(text).iter().map(|a| a.to_string()).collect();
    assert_eq!(got, ["10.0.0.1:53", "192.168.1.1:53", "[2001:db8::53]:53"]);
}

#[test]
fn none_listed_means_localhost_as_in_glibc() {
    assert_eq!(
        nameservers("search example\n"),
        [SocketAddr::from(([127, 0, 0, 1], 53))]
    );
}
