//! `eventUrl`: where deliveries go, and which addresses it may never reach (SSRF).

use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use url::{Host, Url};

const MAX_URL_LEN: usize = 2048;

/// Whether plain `http` and loopback/private targets are allowed (local use and tests only).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UrlPolicy {
    pub allow_private: bool,
}

/// An absolute URL that passed the URL policy when it was accepted.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EventUrl(Url);

impl EventUrl {
    pub fn parse(text: &str, policy: UrlPolicy) -> Result<Self, String> {
        if text.len() > MAX_URL_LEN {
            return Err(format!("must be at most {MAX_URL_LEN} characters"));
        }
        let url = Url::parse(text).map_err(|e| format!("must be an absolute URL ({e})"))?;
        match url.scheme() {
            "https" => {}
            "http" if policy.allow_private => {}
            _ => return Err("must be an https URL".into()),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("must not contain a user name or password".into());
        }
        if !policy.allow_private && host_is_forbidden(&url) {
            return Err("must not point to a loopback, private or link-local address".into());
        }
        Ok(Self(url))
    }

    pub fn as_url(&self) -> &Url {
        &self.0
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

fn host_is_forbidden(url: &Url) -> bool {
    match url.host() {
        None => true,
        Some(Host::Ipv4(ip)) => is_forbidden_ip(IpAddr::V4(ip)),
        Some(Host::Ipv6(ip)) => is_forbidden_ip(IpAddr::V6(ip)),
        Some(Host::Domain(name)) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            name == "localhost" || name.ends_with(".localhost") || name.ends_with(".internal")
        }
    }
}

/// Addresses a delivery must never reach unless private URLs are allowed: loopback, private,
/// link-local (which holds the 169.254.169.254 metadata service), unique-local, CGNAT,
/// unspecified, broadcast, multicast and documentation ranges, also when an IPv6 address
/// embeds one (IPv4-mapped, -compatible or -translated, 6to4) or may (NAT64, Teredo), and
/// IPv6's deprecated site-local range.
pub fn is_forbidden_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 198 && (18..20).contains(&b))
                // IETF protocol assignments 192.0.0.0/24, 6to4 relay anycast 192.88.99.0/24.
                || (a, b, v4.octets()[2]) == (192, 0, 0)
                || (a, b, v4.octets()[2]) == (192, 88, 99)
                || a >= 240
        }
        IpAddr::V6(v6) => match embedded_ipv4(v6) {
            Some(v4) => is_forbidden_ip(IpAddr::V4(v4)),
            None => {
                let s = v6.segments();
                v6.is_loopback()
                    || v6.is_unspecified()
                    || v6.is_multicast()
                    || v6.is_unique_local()
                    || v6.is_unicast_link_local()
                    // Site-local fec0::/10 (deprecated, still routed inside some networks).
                    || (s[0] & 0xffc0) == 0xfec0
                    // NAT64 past the well-known /96 (whose IPv4 is checked above): the
                    // local-use 64:ff9b:1::/48 and the rest of 64:ff9b::/32 translate as
                    // their operator chose, to private addresses as readily as public ones.
                    || (s[0], s[1]) == (0x64, 0xff9b)
                    // Documentation 3fff::/20 (RFC 9637), benchmarking 2001:2::/48.
                    || (s[0] == 0x3fff && s[1] & 0xf000 == 0)
                    || (s[0], s[1], s[2]) == (0x2001, 2, 0)
                    // Teredo 2001::/32 hides its IPv4 client; documentation 2001:db8::/32.
                    || (s[0], s[1]) == (0x2001, 0)
                    || (s[0], s[1]) == (0x2001, 0xdb8)
            }
        },
    }
}

/// The IPv4 address an IPv6 one stands for: IPv4-mapped `::ffff:a.b.c.d`, IPv4-compatible
/// `::a.b.c.d` (deprecated; `::` and `::1` are themselves), IPv4-translated
/// `::ffff:0:a.b.c.d`, 6to4 `2002:aabb:ccdd::/48` and NAT64 `64:ff9b::a.b.c.d`.
fn embedded_ipv4(v6: std::net::Ipv6Addr) -> Option<std::net::Ipv4Addr> {
    let s = v6.segments();
    let at = |high: u16, low: u16| std::net::Ipv4Addr::from((u32::from(high) << 16) | u32::from(low));
    match s {
        [0, 0, 0, 0, 0, 0, 0, 0 | 1] => None,
        [0, 0, 0, 0, 0, 0 | 0xffff, high, low] => Some(at(high, low)),
        [0, 0, 0, 0, 0xffff, 0, high, low] => Some(at(high, low)),
        [0x2002, high, low, ..] => Some(at(high, low)),
        // NAT64's well-known prefix 64:ff9b::/96 (RFC 6052): the IPv4 address it reaches.
        [0x64, 0xff9b, 0, 0, 0, 0, high, low] => Some(at(high, low)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STRICT: UrlPolicy = UrlPolicy { allow_private: false };
    const LOCAL: UrlPolicy = UrlPolicy { allow_private: true };

    #[test]
    fn accepts_public_https() {
        let url = EventUrl::parse("https://api.example.com/webhooks/wink/events", STRICT);
        assert_eq!(url.map(|u| u.as_str().to_string()).as_deref(), Ok("https://api.example.com/webhooks/wink/events"));
    }

    #[test]
    fn refuses_what_is_not_a_public_https_url() {
        let cases = [
            ("http://api.example.com/", "must be an https URL"),
            ("ftp://api.example.com/", "must be an https URL"),
            ("/relative/path", "must be an absolute URL"),
            ("https://user:pw@api.example.com/", "must not contain a user name or password"),
            ("https://127.0.0.1/hook", "loopback"),
            ("https://10.0.0.1/hook", "loopback"),
            ("https://169.254.169.254/latest/meta-data", "loopback"),
            ("https://[::1]/hook", "loopback"),
            ("https://[::ffff:10.1.2.3]/hook", "loopback"),
            ("https://[fd00:ec2::254]/hook", "loopback"),
            // IPv6 spellings of private, loopback and link-local targets.
            ("https://[::7f00:1]/hook", "loopback"),
            ("https://[::a9fe:a9fe]/hook", "loopback"),
            ("https://[::ffff:0:a00:1]/hook", "loopback"),
            ("https://[2002:7f00:1::1]/hook", "loopback"),
            ("https://[2002:a9fe:a9fe::]/hook", "loopback"),
            ("https://[fec0::1]/hook", "loopback"),
            ("https://[64:ff9b:1::a00:1]/hook", "loopback"),
            ("https://[64:ff9b::7f00:1]/hook", "loopback"),
            ("https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/hook", "loopback"),
            ("https://localhost:8080/hook", "loopback"),
            ("https://metadata.google.internal/", "loopback"),
        ];
        for (url, expected) in cases {
            let err = EventUrl::parse(url, STRICT).expect_err(url);
            assert!(err.contains(expected), "{url}: {err}");
        }
        let long = format!("https://example.com/{}", "a".repeat(2048));
        assert!(EventUrl::parse(&long, STRICT).is_err());
    }

    #[test]
    fn allow_private_admits_http_and_loopback_but_not_credentials() {
        assert!(EventUrl::parse("http://127.0.0.1:9000/hook", LOCAL).is_ok());
        assert!(EventUrl::parse("http://u:p@127.0.0.1/", LOCAL).is_err());
    }

    #[test]
    fn public_addresses_are_not_forbidden() {
        for ip in
            ["93.184.216.34", "8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8", "2002:808:808::1", "64:ff9b::808:808"]
        {
            assert!(!is_forbidden_ip(ip.parse().expect("ip")), "{ip}");
        }
        for ip in [
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "fe80::1",
            "64:ff9b::a00:1",
            "3fff::1",
            "2001:2::1",
            "192.0.0.8",
        ] {
            assert!(is_forbidden_ip(ip.parse().expect("ip")), "{ip}");
        }
    }
}
