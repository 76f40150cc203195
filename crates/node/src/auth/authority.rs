//! The authorities a node answers to: a signed request covers the authority (`host[:port]`) it
//! was sent to, and a node takes only requests addressed to it, so a request signed for one
//! node cannot be carried out by another.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::config::{normal_authority, url_authority};

/// The names a node answers to, each in the normal form of RFC 9421's `@authority` (lower
/// case, no default port, IP addresses in their shortest form).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Authorities {
    names: Vec<String>,
}

impl Authorities {
    /// The authorities of a node bound to `bound` (when it listens), reached at `public_url`,
    /// and configured with `configured` (checked by `Config::check`; an entry that does not
    /// read is left out).
    ///
    /// A loopback bind answers to its address and `localhost:port`; an unspecified bind
    /// (`0.0.0.0`, `::`) to the loopback forms `127.0.0.1:port`, `[::1]:port` and
    /// `localhost:port`, since the node cannot know which other names reach it.
    pub fn new(bound: Option<SocketAddr>, public_url: Option<&str>, configured: &[String]) -> Self {
        let mut names = Vec::new();
        if let Some(addr) = bound {
            let port = addr.port();
            let ip = addr.ip();
            if ip.is_unspecified() {
                names.push(socket(IpAddr::V4(Ipv4Addr::LOCALHOST), port));
                names.push(socket(IpAddr::V6(Ipv6Addr::LOCALHOST), port));
                names.push(format!("localhost:{port}"));
            } else {
                names.push(socket(ip, port));
                if ip.is_loopback() {
                    names.push(format!("localhost:{port}"));
                }
            }
        }
        if let Some(url) = public_url
            && let Ok(name) = url_authority(url)
        {
            // The node serves plain HTTP behind whatever terminates TLS, so it cannot tell
            // whether `:443` was the default port of the request's scheme: an https URL
            // without a port answers to both forms.
            let https = url
                .get(..8)
                .is_some_and(|s| s.eq_ignore_ascii_case("https://"));
            let has_port = name.rsplit(']').next().unwrap_or(&name).contains(':');
            let with_port = (https && !has_port).then(|| format!("{name}:443"));
            names.push(name);
            names.extend(with_port);
        }
        for name in configured {
            if let Ok(name) = normal_authority(name, "http") {
                names.push(name);
            }
        }
        // Listen addresses in normal form too (port 80 is http's default).
        let mut names: Vec<String> = names
            .into_iter()
            .map(|n| normal_authority(&n, "http").unwrap_or(n))
            .collect();
        let mut seen = std::collections::HashSet::new();
        names.retain(|n| seen.insert(n.clone()));
        Authorities { names }
    }

    /// Whether `authority` (as a request gives it: the `Host` header) names this node.
    pub fn answers_to(&self, authority: &str) -> bool {
        match normal_authority(authority, "http") {
            Ok(name) => self.names.contains(&name),
            Err(_) => false,
        }
    }

    /// The names, in the order they were found.
    pub fn names(&self) -> &[String] {
        &self.names
    }
}

/// `ip:port` as an authority (IPv6 in brackets).
fn socket(ip: IpAddr, port: u16) -> String {
    SocketAddr::new(ip, port).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_loopback_bind_answers_to_its_address_and_localhost() {
        let a = Authorities::new(Some("127.0.0.1:4000".parse().unwrap()), None, &[]);
        assert_eq!(a.names(), ["127.0.0.1:4000", "localhost:4000"]);
        assert!(a.answers_to("127.0.0.1:4000"));
        assert!(a.answers_to("LOCALHOST:4000"));
        assert!(!a.answers_to("127.0.0.1:4001"));
        assert!(!a.answers_to("127.0.0.1"));
        assert!(!a.answers_to("node.example.org"));
        let a = Authorities::new(Some("[::1]:4000".parse().unwrap()), None, &[]);
        assert!(a.answers_to("[::1]:4000"));
        assert!(a.answers_to("[0:0:0:0:0:0:0:1]:4000"));
        assert!(!a.answers_to("127.0.0.1:4000"));
    }

    #[test]
    fn an_unspecified_bind_answers_to_the_loopback_forms_only() {
        for bind in ["0.0.0.0:80", "[::]:80"] {
            let a = Authorities::new(Some(bind.parse().unwrap()), None, &[]);
            // Port 80 is the default for http: dropped, as RFC 9421 has it.
            assert_eq!(a.names(), ["127.0.0.1", "[::1]", "localhost"], "{bind}");
            assert!(a.answers_to("localhost:80"));
            assert!(!a.answers_to("10.0.0.5"));
            assert!(!a.answers_to("0.0.0.0"));
        }
    }

    #[test]
    fn the_public_url_and_configured_names_count() {
        let a = Authorities::new(
            Some("10.0.0.5:4000".parse().unwrap()),
            Some("https://Node.Example.org/accord/"),
            &["node-b.internal:4000".into(), "10.0.0.5:4000".into()],
        );
        assert_eq!(
            a.names(),
            [
                "10.0.0.5:4000",
                "node.example.org",
                "node.example.org:443",
                "node-b.internal:4000"
            ]
        );
        assert!(a.answers_to("node.example.org"));
        assert!(a.answers_to("node.example.org:443"));
        assert!(!a.answers_to("node.example.org:4000"));
        assert!(a.answers_to("NODE-B.internal:4000"));
        let a = Authorities::new(None, Some("http://n1.sim.invalid:80"), &[]);
        assert_eq!(a.names(), ["n1.sim.invalid"]);
        assert!(a.answers_to("n1.sim.invalid:80"));
        // Nothing configured, nothing bound: nothing is addressed to this node.
        assert!(!Authorities::new(None, None, &[]).answers_to("localhost"));
    }
}
