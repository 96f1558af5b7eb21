//! Where a request really comes from, and under which path the appliance is served.
//!
//! Behind a reverse proxy the TCP peer is the proxy, so the client's address (for login
//! rate limiting), scheme (for `Secure` cookies) and host (for the Origin check) come from
//! `X-Forwarded-For`/`-Proto`/`-Host`. Those headers are trusted only from the proxies the
//! operator listed (`SKERRY_TRUSTED_PROXIES`): from anyone else they are ignored, or any
//! client could pick its own address and escape the lockout.

use std::net::IpAddr;

use hyper::HeaderMap;
use hyper::header::HOST;

/// An address block like `10.0.0.0/8`, `fd00::/8`, or a single address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let net: IpAddr = addr.parse().ok()?;
        let net = net.to_canonical();
        let max = if net.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max)?,
            None => max,
        };
        Some(Self { net, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.net, ip.to_canonical()) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// A comma-separated list of blocks; every bad entry is named.
pub fn parse_cidrs(s: &str) -> Result<Vec<Cidr>, String> {
    let mut out = Vec::new();
    let mut bad = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match Cidr::parse(part) {
            Some(c) => out.push(c),
            None => bad.push(part.to_owned()),
        }
    }
    if bad.is_empty() {
        Ok(out)
    } else {
        Err(format!(
            "not an address or address/prefix: {}",
            bad.join(", ")
        ))
    }
}

/// The client as the appliance understands it after looking through trusted proxies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    pub addr: IpAddr,
    /// The browser reached the appliance over https (directly, or at the proxy).
    pub https: bool,
    /// The host the browser asked for (`Host`, or `X-Forwarded-Host` from a proxy).
    pub host: Option<String>,
}

fn first_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    let v = headers.get(name)?.to_str().ok()?;
    let first = v.split(',').next()?.trim();
    (!first.is_empty()).then_some(first)
}

/// Whether `peer` is one of the trusted proxies.
pub fn is_trusted(trusted: &[Cidr], peer: IpAddr) -> bool {
    trusted.iter().any(|c| c.contains(peer))
}

/// Resolves the client of a request that arrived from `peer` (over TLS when `tls`).
pub fn resolve(peer: IpAddr, tls: bool, headers: &HeaderMap, trusted: &[Cidr]) -> Client {
    let host = headers
        .get(HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let peer = peer.to_canonical();
    let mut client = Client {
        addr: peer,
        https: tls,
        host,
    };
    if !is_trusted(trusted, peer) {
        return client;
    }
    // The right-most address a trusted proxy did not add itself is the client.
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    for hop in hops.iter().rev() {
        let Ok(addr) = hop.parse::<IpAddr>() else {
            break;
        };
        client.addr = addr.to_canonical();
        if !trusted.iter().any(|c| c.contains(client.addr)) {
            break;
        }
    }
    if let Some(proto) = first_value(headers, "x-forwarded-proto") {
        client.https = proto.eq_ignore_ascii_case("https");
    }
    if let Some(host) = first_value(headers, "x-forwarded-host") {
        client.host = Some(host.to_owned());
    }
    client
}

/// The path prefix every route lives under: `/` or `/desk/` (always slash on both ends).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BasePath(String);

impl Default for BasePath {
    fn default() -> Self {
        Self("/".into())
    }
}

/// Where a request path falls relative to the base path.
#[derive(Debug, PartialEq, Eq)]
pub enum Placed<'a> {
    /// Below the base: the path the routes know (`/`, `/ws`, `/api/status`…).
    Inside(&'a str),
    /// The base without its trailing slash (`/desk`): redirect to `/desk/`.
    Bare,
    /// Elsewhere.
    Outside,
}

impl BasePath {
    pub fn parse(s: &str) -> Result<Self, String> {
        let trimmed = s.trim().trim_matches('/');
        if trimmed.is_empty() {
            return Ok(Self::default());
        }
        let ok = trimmed.split('/').all(|seg| {
            !seg.is_empty()
                && seg != "."
                && seg != ".."
                && seg
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c))
        });
        if ok {
            Ok(Self(format!("/{trimmed}/")))
        } else {
            Err(format!(
                "SKERRY_BASE_PATH={s:?}: expected a path like /desk/ (letters, digits, - . _ ~)"
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn place<'a>(&self, path: &'a str) -> Placed<'a> {
        if self.0 == "/" {
            return Placed::Inside(path);
        }
        match path.strip_prefix(&self.0[..self.0.len() - 1]) {
            Some("") => Placed::Bare,
            Some(rest) if rest.starts_with('/') => Placed::Inside(rest),
            _ => Placed::Outside,
        }
    }

    /// The public URL path of a route (`/login` → `/desk/login`).
    pub fn join(&self, route: &str) -> String {
        format!("{}{}", self.0, route.trim_start_matches('/'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn cidr_blocks_contain_their_addresses() {
        let c = Cidr::parse("10.1.0.0/16").expect("cidr");
        assert!(c.contains(ip("10.1.200.3")));
        assert!(!c.contains(ip("10.2.0.1")));
        assert!(!c.contains(ip("::1")));
        let one = Cidr::parse("192.168.1.5").expect("single");
        assert!(one.contains(ip("192.168.1.5")));
        assert!(!one.contains(ip("192.168.1.6")));
        let all = Cidr::parse("0.0.0.0/0").expect("all");
        assert!(all.contains(ip("8.8.8.8")));
        let v6 = Cidr::parse("fd00::/8").expect("v6");
        assert!(v6.contains(ip("fd12::1")));
        assert!(!v6.contains(ip("fe80::1")));
        // An IPv4 client seen on a dual-stack socket is still the IPv4 address.
        assert!(
            Cidr::parse("127.0.0.1")
                .expect("lo")
                .contains(ip("::ffff:127.0.0.1"))
        );
        for bad in ["10.0.0.0/33", "nowhere", "10.0.0.0/x", "::/129", ""] {
            assert_eq!(Cidr::parse(bad), None, "{bad}");
        }
        assert_eq!(parse_cidrs(" 10.0.0.0/8, ::1 ").map(|v| v.len()), Ok(2));
        assert!(parse_cidrs("10.0.0.0/8,bogus").is_err());
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                hyper::header::HeaderName::from_bytes(k.as_bytes()).expect("name"),
                v.parse().expect("value"),
            );
        }
        h
    }

    #[test]
    fn forwarded_headers_count_only_from_trusted_proxies() {
        let h = headers(&[
            ("host", "internal:3000"),
            ("x-forwarded-for", "203.0.113.9, 10.0.0.7"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "desk.example"),
        ]);
        let trusted = parse_cidrs("10.0.0.0/8").expect("cidrs");
        // From an untrusted peer the headers are a lie anyone can tell.
        let direct = resolve(ip("198.51.100.1"), false, &h, &trusted);
        assert_eq!(direct.addr, ip("198.51.100.1"));
        assert!(!direct.https);
        assert_eq!(direct.host.as_deref(), Some("internal:3000"));
        // From the proxy: the right-most untrusted hop, its scheme and host.
        let via = resolve(ip("10.0.0.2"), false, &h, &trusted);
        assert_eq!(via.addr, ip("203.0.113.9"));
        assert!(via.https);
        assert_eq!(via.host.as_deref(), Some("desk.example"));
        // A client cannot hide behind an address it prepends itself.
        let spoof = headers(&[("x-forwarded-for", "1.2.3.4, 198.51.100.77")]);
        let via = resolve(ip("10.0.0.2"), true, &spoof, &trusted);
        assert_eq!(via.addr, ip("198.51.100.77"));
        assert!(
            via.https,
            "no X-Forwarded-Proto: the connection's own scheme"
        );
        // Garbage stops the walk at the last good hop.
        let junk = headers(&[("x-forwarded-for", "garbage, 198.51.100.8")]);
        assert_eq!(
            resolve(ip("10.0.0.2"), false, &junk, &trusted).addr,
            ip("198.51.100.8")
        );
    }

    #[test]
    fn base_path_places_and_joins_routes() {
        let root = BasePath::parse("").expect("root");
        assert_eq!(root.as_str(), "/");
        assert_eq!(root.place("/ws"), Placed::Inside("/ws"));
        assert_eq!(root.join("login"), "/login");
        let desk = BasePath::parse("desk").expect("desk");
        assert_eq!(desk, BasePath::parse("/desk/").expect("same"));
        assert_eq!(desk.as_str(), "/desk/");
        assert_eq!(desk.place("/desk/"), Placed::Inside("/"));
        assert_eq!(
            desk.place("/desk/api/status"),
            Placed::Inside("/api/status")
        );
        assert_eq!(desk.place("/desk"), Placed::Bare);
        assert_eq!(desk.place("/desktop/x"), Placed::Outside);
        assert_eq!(desk.place("/ws"), Placed::Outside);
        assert_eq!(desk.join("/login"), "/desk/login");
        let deep = BasePath::parse("/a/b.c/").expect("deep");
        assert_eq!(deep.place("/a/b.c/ws"), Placed::Inside("/ws"));
        for bad in ["/a//b/", "/../x", "/a b/", "/a?b", "/%2e"] {
            assert!(BasePath::parse(bad).is_err(), "{bad}");
        }
    }
}
