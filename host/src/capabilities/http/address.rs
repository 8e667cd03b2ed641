//! Which addresses a plugin may not reach unless a grant says so: every one
//! that is not on the public internet. The check runs on the address the
//! host is about to connect to, after resolving, so a granted name that
//! resolves (or is rebound) to an internal address is refused.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Loopback, private, link-local (cloud metadata: 169.254.169.254), shared
/// (CGNAT), unspecified, multicast, broadcast, reserved and documentation
/// ranges, and IPv6 forms that carry an IPv4 address (mapped, SIIT
/// translated, NAT64 well-known and local-use, 6to4) judged by that address.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_internal_v4(v4),
        IpAddr::V6(v6) => is_internal_v6(v6),
    }
}

fn is_internal_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240 // reserved
}

fn is_internal_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = embedded_v4(ip) {
        return is_internal_v4(v4);
    }
    let first = ip.segments()[0];
    // Local-use NAT64 outside the /96 layout `embedded_v4` reads.
    is_nat64_local_use(ip)
        || ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00 // unique local (fd00:ec2::254 is AWS metadata)
        || (first & 0xffc0) == 0xfe80 // link-local
        || (first & 0xffc0) == 0xfec0 // site-local (deprecated)
        || (first == 0x2001 && ip.segments()[1] == 0) // Teredo
        || (first == 0x2001 && ip.segments()[1] == 0x0db8) // documentation
        || first == 0x0100 && ip.segments()[1..4] == [0, 0, 0] // discard-only
}

/// The IPv4 address inside an IPv4-mapped (`::ffff:a.b.c.d`), SIIT
/// IPv4-translated (`::ffff:0:a.b.c.d`), IPv4-compatible (`::a.b.c.d`),
/// NAT64 well-known (`64:ff9b::/96`), NAT64 local-use in its /96 layout
/// (`64:ff9b:1::a.b.c.d`) or 6to4 (`2002::/16`) address: a translator
/// reaches that IPv4 address, so it is judged like it.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let tail = || Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some(v4);
    }
    if s[..6] == [0, 0, 0, 0, 0, 0] && !ip.is_loopback() && !ip.is_unspecified() {
        return Some(tail());
    }
    let translated: [[u16; 6]; 3] = [
        [0, 0, 0, 0, 0xffff, 0],    // SIIT IPv4-translated (RFC 6145)
        [0x64, 0xff9b, 0, 0, 0, 0], // NAT64 well-known (RFC 6052)
        [0x64, 0xff9b, 1, 0, 0, 0], // NAT64 local-use, /96 layout (RFC 8215)
    ];
    if translated.iter().any(|prefix| s[..6] == prefix[..]) {
        return Some(tail());
    }
    if s[0] == 0x2002 {
        return Some(Ipv4Addr::new(
            (s[1] >> 8) as u8,
            s[1] as u8,
            (s[2] >> 8) as u8,
            s[2] as u8,
        ));
    }
    None
}

/// In the NAT64 local-use prefix `64:ff9b:1::/48` (RFC 8215), which is not
/// globally reachable: outside its /96 layout (handled by [`embedded_v4`])
/// the IPv4 address may sit in several places (RFC 6052), so the address is
/// judged internal rather than guessed at.
fn is_nat64_local_use(ip: Ipv6Addr) -> bool {
    ip.segments()[..3] == [0x64, 0xff9b, 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_recognised() {
        for ip in [
            "127.0.0.1",
            "127.1.2.3",
            "10.0.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "0.1.2.3",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "::ffff:0:127.0.0.1",
            "::ffff:0:169.254.169.254",
            "64:ff9b:1::127.0.0.1",
            "64:ff9b:1::10.0.0.1",
            "64:ff9b:1::a9fe:a9fe",
            "64:ff9b:1:0:8:808:800:0",
            "2002:7f00:1::",
            "fd00:ec2::254",
            "fe80::1",
            "ff02::1",
        ] {
            assert!(is_internal(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn public_addresses_are_not() {
        for ip in [
            "93.184.216.34",
            "1.1.1.1",
            "8.8.8.8",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "::ffff:0:8.8.8.8",
            "64:ff9b::8.8.8.8",
            "64:ff9b:1::8.8.8.8",
            "2002:0808:0808::",
        ] {
            assert!(!is_internal(ip.parse().unwrap()), "{ip}");
        }
    }

    /// The IPv6 forms that carry `v4` for a translator or tunnel to reach.
    fn carriers(v4: Ipv4Addr) -> [(&'static str, Ipv6Addr); 6] {
        let v = u128::from(u32::from(v4));
        [
            (
                "mapped ::ffff:a.b.c.d",
                Ipv6Addr::from((0xffff_u128 << 32) | v),
            ),
            (
                "SIIT ::ffff:0:a.b.c.d",
                Ipv6Addr::from((0xffff_u128 << 48) | v),
            ),
            ("compatible ::a.b.c.d", Ipv6Addr::from(v)),
            (
                "NAT64 64:ff9b::/96",
                Ipv6Addr::from((0x0064_ff9b_u128 << 96) | v),
            ),
            (
                "NAT64 local-use 64:ff9b:1::/96",
                Ipv6Addr::from((0x0064_ff9b_0001_u128 << 80) | v),
            ),
            (
                "6to4 2002:a.b.c.d::/48",
                Ipv6Addr::from((0x2002_u128 << 112) | (v << 80)),
            ),
        ]
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(1024))]

        /// Invariant: an IPv6 address that carries an IPv4 address `v4`
        /// (mapped, SIIT, compatible, NAT64 well-known and local-use, 6to4)
        /// is internal exactly when `v4` is, so no IPv6 spelling reaches an
        /// internal IPv4 address the plain form could not.
        #[test]
        fn ipv6_forms_of_an_ipv4_address_are_judged_like_it(bits in proptest::prelude::any::<u32>()) {
            let v4 = Ipv4Addr::from(bits);
            for (form, v6) in carriers(v4) {
                proptest::prop_assert_eq!(
                    is_internal(IpAddr::V6(v6)),
                    is_internal(IpAddr::V4(v4)),
                    "{} {} carrying {}", form, v6, v4
                );
            }
        }

        /// Invariant: every address in the local-use NAT64 prefix whose
        /// IPv4 part is not in the /96 layout is internal, whatever it holds.
        #[test]
        fn local_use_nat64_outside_the_96_layout_is_internal(low in (1u128 << 32)..(1u128 << 80)) {
            let in_prefix = (0x0064_ff9b_0001_u128 << 80) | low;
            proptest::prop_assert!(is_internal(IpAddr::V6(Ipv6Addr::from(in_prefix))));
        }
    }
}
