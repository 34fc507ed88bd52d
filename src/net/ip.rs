//! IPv4 and IPv6 addresses as one `u128` key: IPv4 is mapped into `::ffff:0:0/96`, so a single
//! prefix map and a single column type serve both families.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

/// An address as a 128-bit integer (IPv4-mapped for IPv4).
pub type IpKey = u128;

/// Sentinel for "no address" in enriched columns; `::` is never a flow endpoint.
pub const NO_IP: IpKey = 0;

const V4_MAPPED: u128 = 0xffff_0000_0000;

pub fn from_v4(a: u32) -> IpKey {
    (V4_MAPPED << 32) | a as u128
}

pub fn from_std(ip: IpAddr) -> IpKey {
    match ip {
        IpAddr::V4(v4) => from_v4(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

pub fn is_v4(k: IpKey) -> bool {
    k >> 32 == V4_MAPPED
}

pub fn to_std(k: IpKey) -> IpAddr {
    if is_v4(k) {
        IpAddr::V4(Ipv4Addr::from(k as u32))
    } else {
        IpAddr::V6(Ipv6Addr::from(k))
    }
}

pub fn to_bytes(k: IpKey) -> [u8; 16] {
    k.to_be_bytes()
}

pub fn from_bytes(b: &[u8]) -> Option<IpKey> {
    let arr: [u8; 16] = b.try_into().ok()?;
    Some(u128::from_be_bytes(arr))
}

/// Parses a dotted-quad IPv4 or an IPv6 address without allocating.
#[inline]
pub fn parse(s: &[u8]) -> Option<IpKey> {
    if let Some(v4) = parse_v4(s) {
        return Some(from_v4(v4));
    }
    if s.contains(&b':') {
        let text = std::str::from_utf8(s).ok()?;
        let v6: Ipv6Addr = text.parse().ok()?;
        return Some(u128::from(v6));
    }
    None
}

#[inline]
fn parse_v4(s: &[u8]) -> Option<u32> {
    let mut out: u32 = 0;
    let mut octets = 0;
    let mut cur: u32 = 0;
    let mut digits = 0;
    for &c in s {
        match c {
            b'0'..=b'9' => {
                cur = cur * 10 + (c - b'0') as u32;
                digits += 1;
                if digits > 3 || cur > 255 {
                    return None;
                }
            }
            b'.' => {
                if digits == 0 || octets == 3 {
                    return None;
                }
                out = (out << 8) | cur;
                octets += 1;
                cur = 0;
                digits = 0;
            }
            _ => return None,
        }
    }
    if digits == 0 || octets != 3 {
        return None;
    }
    Some((out << 8) | cur)
}

/// The first and last key covered by a CIDR block.
pub fn net_bounds(net: &IpNet) -> (IpKey, IpKey) {
    match net {
        IpNet::V4(n) => (
            from_v4(u32::from(n.network())),
            from_v4(u32::from(n.broadcast())),
        ),
        IpNet::V6(n) => (u128::from(n.network()), u128::from(n.broadcast())),
    }
}

/// True for addresses that are routable on the public internet: not private (RFC 1918, ULA),
/// shared (CGNAT), loopback, link-local, multicast, documentation-reserved-for-private-use or
/// unspecified. Documentation ranges (TEST-NET) count as public so that AWS's own examples behave
/// like real traffic.
pub fn is_public(k: IpKey) -> bool {
    if is_v4(k) {
        let a = k as u32;
        let in_net = |net: u32, len: u32| (a ^ net) >> (32 - len) == 0;
        !(in_net(0x0a00_0000, 8)          // 10/8
            || in_net(0xac10_0000, 12)    // 172.16/12
            || in_net(0xc0a8_0000, 16)    // 192.168/16
            || in_net(0x6440_0000, 10)    // 100.64/10 shared address space
            || in_net(0x7f00_0000, 8)     // loopback
            || in_net(0xa9fe_0000, 16)    // link-local, incl. the VPC DNS 169.254.169.253
            || in_net(0x0000_0000, 8)     // "this" network
            || in_net(0xe000_0000, 4)     // multicast
            || in_net(0xf000_0000, 4)) // reserved + broadcast
    } else {
        let top = (k >> 120) as u8;
        let top16 = (k >> 112) as u16;
        !(k == 0
            || k == 1
            || top & 0xfe == 0xfc          // fc00::/7 unique local
            || top16 & 0xffc0 == 0xfe80    // fe80::/10 link-local
            || top == 0xff) // multicast
    }
}

/// The VPC's Route 53 Resolver at its link-local addresses (reachable from every VPC).
pub fn is_link_local_resolver(k: IpKey) -> bool {
    k == from_v4(0xa9fe_a9fd) || k == 0xfd00_0ec2_0000_0000_0000_0000_0000_0253
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_v4_and_v6() {
        assert_eq!(parse(b"10.0.1.5"), Some(from_v4(0x0a00_0105)));
        assert_eq!(
            to_std(parse(b"203.0.113.5").unwrap()).to_string(),
            "203.0.113.5"
        );
        let v6 = parse(b"2001:db8:1234:a100:8d6e:3477:df66:f105").unwrap();
        assert!(!is_v4(v6));
        assert_eq!(
            to_std(v6).to_string(),
            "2001:db8:1234:a100:8d6e:3477:df66:f105"
        );
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            &b"256.1.1.1"[..],
            b"1.2.3",
            b"1.2.3.4.5",
            b"1..2.3",
            b"",
            b"-",
            b"a.b.c.d",
            b"1.2.3.4x",
            b"::g",
        ] {
            assert_eq!(parse(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn public_private() {
        for (s, public) in [
            ("10.1.2.3", false),
            ("172.31.0.9", false),
            ("172.32.0.9", true),
            ("192.168.1.1", false),
            ("100.64.0.1", false),
            ("169.254.169.253", false),
            ("52.95.128.179", true),
            ("203.0.113.5", true),
            ("fd00:ec2::253", false),
            ("fe80::1", false),
            ("2600:1f18::1", true),
        ] {
            assert_eq!(is_public(parse(s.as_bytes()).unwrap()), public, "{s}");
        }
        assert!(is_link_local_resolver(parse(b"169.254.169.253").unwrap()));
        assert!(is_link_local_resolver(parse(b"fd00:ec2::253").unwrap()));
    }
}
