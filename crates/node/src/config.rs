//! The node's configuration: a TOML file, overridden by command-line flags and environment
//! variables (the CLI applies those on top of [`Config::from_toml`]).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// How SQLite commits reach the disk (ignored for PostgreSQL).
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Durability {
    /// A commit survives the process being killed (`synchronous=NORMAL`).
    #[default]
    Process,
    /// A commit survives a power cut (`synchronous=FULL`).
    Power,
}

/// Another organisation's node this one knows.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Peer {
    /// Its base URL, e.g. `http://127.0.0.1:4001`.
    pub url: String,
    /// Its node key (base58 ed25519 public key).
    pub key: String,
}

/// Everything a node needs to start.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where the node keeps its database and key (default `./accord-data`).
    pub data_dir: PathBuf,
    /// The address to listen on (default `127.0.0.1:4000`).
    pub listen: SocketAddr,
    /// The database: `sqlite:PATH` or `postgres://…` (default: `node.db` in the data directory).
    pub database: Option<String>,
    /// How SQLite commits reach the disk.
    pub durability: Durability,
    /// The node's keystore (default `node-key.json` in the data directory; created on first
    /// start, encrypted with the passphrase from `$ACCORD_PASSPHRASE` or `passphrase_file`).
    pub key: Option<PathBuf>,
    /// A file holding the keystore's passphrase.
    pub passphrase_file: Option<PathBuf>,
    /// The network byte, as a character: `L` (mainnet) or `T` (testnet; the default).
    pub network: char,
    /// Known peer nodes.
    pub peers: Vec<Peer>,
    /// This node's URL as the other nodes list it in their `peers`: an identity whose `node`
    /// is this URL names this node (default: none; identities name it by its key).
    pub public_url: Option<String>,
    /// Public keys (base58) allowed to administer the node besides its own key: register any
    /// identity, read any chain.
    pub admins: Vec<String>,
    /// The largest request body accepted, in bytes (default 4 MiB).
    pub body_limit: usize,
    /// Requests per second allowed to one key, sustained (default 1000; 0 for no limit).
    pub rate_limit: u32,
    /// Requests one key may make in a burst above the sustained rate (default 2000).
    pub rate_burst: u32,
    /// The largest clock difference accepted on signed requests, in seconds (default 300).
    pub max_clock_skew: u64,
    /// Names (`host` or `host:port`) this node answers to besides its listen address and the
    /// authority of `public_url`: a signed request covers the authority it was sent to, and
    /// one addressed to any other is refused (default none).
    pub authorities: Vec<String>,
    /// How events reach the other parties' nodes.
    pub delivery: Delivery,
    /// How this node runs system actions.
    pub system: System,
    /// Who may register identities here, and how much.
    pub identities: Identities,
}

/// Whose system actions this node carries out (`system.accept`).
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Accept {
    /// Only for an identity whose other sign keys (besides this node's key as its `system`
    /// key) are all keys of identities an administrator of this node registered: the users
    /// its operator enrolled.
    #[default]
    Enrolled,
    /// As `Enrolled`, but any registered identity counts, those users registered for
    /// themselves included: with `identities.self_register` on, anyone may become one with a
    /// single request, so this is for nodes whose operator accepts that.
    Registered,
    /// For any identity that names this node's key as its `system` key (for a node whose
    /// operator accepts every process that names it, e.g. a public service).
    Any,
    /// For no one: this node runs no system actions.
    None,
}

impl Accept {
    /// The setting's name in the configuration.
    pub fn name(self) -> &'static str {
        match self {
            Accept::Enrolled => "enrolled",
            Accept::Registered => "registered",
            Accept::Any => "any",
            Accept::None => "none",
        }
    }
}

/// Registered identities: who may register them, how large, how many, how often (the
/// `[identities]` table).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Identities {
    /// The largest identity document taken by `POST /identities`, in bytes of the request
    /// body (default 16384, at least 256). An identity is a few keys and names; the limit keeps
    /// the registry from being used as free storage.
    pub max_bytes: usize,
    /// How many registered identities may name one key (default 8, at least 1). Administrators
    /// register beyond it, and administrators' keys are not counted; identities an administrator
    /// registered count like any other when a user registers one more.
    pub max_per_key: u32,
    /// Registrations and removals one key may make a minute: a token bucket of this many,
    /// refilled at this many a minute (default 30; 0 for no limit). Administrators are not
    /// limited by it (the node-wide `rate_limit` still applies).
    pub register_per_minute: u32,
    /// Whether any key may register an identity that names it (default true). When false, only
    /// administrators register identities, e.g. for a node whose operator enrols its users.
    pub self_register: bool,
    /// New identities users may register for themselves a minute, on the whole node: a token
    /// bucket of this many, refilled at this many a minute (default 60; 0 for no limit). Keys
    /// cost nothing, so a quota per key alone does not bound the registry.
    pub self_register_per_minute: u32,
    /// Identities users registered for themselves that the node holds at most (default
    /// 10000); administrators' registrations are not counted.
    pub max_self_registered: u64,
}

impl Default for Identities {
    fn default() -> Self {
        Identities {
            max_bytes: 16 * 1024,
            max_per_key: 8,
            register_per_minute: 30,
            self_register: true,
            self_register_per_minute: 60,
            max_self_registered: 10_000,
        }
    }
}

/// How this node runs system actions (the `[system]` table).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct System {
    /// Hosts HTTP triggers may call, by name or address (an IPv6 address with or without its
    /// brackets); empty: any host (default empty).
    pub hosts: Vec<String>,
    /// Whether HTTP triggers may call private, loopback and link-local addresses (default
    /// false).
    pub allow_private: bool,
    /// How long an HTTP trigger's call may take, in milliseconds (default 10000).
    pub timeout_ms: u64,
    /// Whose system actions this node carries out: `"enrolled"` (default: only for identities
    /// of users an administrator registered here), `"registered"` (users who registered
    /// themselves too), `"any"` or `"none"`. An identity on a chain is written by whoever
    /// writes the chain, so naming this node's key as its `system` key is not this node's
    /// operator agreeing; an administrator's registration is.
    pub accept: Accept,
}

impl Default for System {
    fn default() -> Self {
        System {
            hosts: Vec::new(),
            allow_private: false,
            timeout_ms: 10_000,
            accept: Accept::Enrolled,
        }
    }
}

/// How events reach the other parties' nodes (the `[delivery]` table).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Delivery {
    /// The first retry's delay in milliseconds; each later one doubles it (default 1000).
    pub backoff_ms: u64,
    /// The longest delay between retries, in milliseconds (default 600000).
    pub backoff_max_ms: u64,
    /// Failed attempts in a row after which a delivery is dead until replayed (default 16).
    pub max_attempts: u32,
    /// How long one attempt may take, in milliseconds (default 30000).
    pub timeout_ms: u64,
    /// Attempts under way at once (default 64; one peer gets at most a quarter of them).
    pub concurrency: usize,
}

impl Default for Delivery {
    fn default() -> Self {
        Delivery {
            backoff_ms: 1000,
            backoff_max_ms: 600_000,
            max_attempts: 16,
            timeout_ms: 30_000,
            concurrency: 64,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("accord-data"),
            listen: SocketAddr::from(([127, 0, 0, 1], 4000)),
            database: None,
            durability: Durability::Process,
            key: None,
            passphrase_file: None,
            network: 'T',
            peers: Vec::new(),
            public_url: None,
            admins: Vec::new(),
            body_limit: 4 << 20,
            rate_limit: 1000,
            rate_burst: 2000,
            max_clock_skew: 300,
            authorities: Vec::new(),
            delivery: Delivery::default(),
            system: System::default(),
            identities: Identities::default(),
        }
    }
}

/// An authority (`host` or `host:port`) in the form RFC 9421 gives `@authority` for `scheme`:
/// lower case, without the scheme's default port; an IP address in its shortest form (IPv6 in
/// brackets). Anything else (a scheme, a path, user information, an empty host, a port that
/// is not a number from 1 to 65535) is an error saying what.
pub fn normal_authority(text: &str, scheme: &str) -> Result<String, String> {
    let text = text.to_ascii_lowercase();
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (inside, after) = rest
            .split_once(']')
            .ok_or("an IPv6 address opened with `[` is not closed with `]`")?;
        let ip: std::net::Ipv6Addr = inside
            .parse()
            .map_err(|_| format!("`[{inside}]` is not an IPv6 address"))?;
        let port = match after {
            "" => None,
            p => Some(
                p.strip_prefix(':')
                    .ok_or("`]` must be followed by `:port` or nothing")?,
            ),
        };
        (format!("[{ip}]"), port)
    } else {
        let (host, port) = match text.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (text.as_str(), None),
        };
        if host.is_empty() {
            return Err("the host is empty".into());
        }
        if host.contains(':') {
            return Err("an IPv6 address must be written in brackets, e.g. `[::1]:4000`".into());
        }
        if let Ok(ip) = host.parse::<std::net::Ipv4Addr>() {
            (ip.to_string(), port)
        } else if host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        {
            (host.to_string(), port)
        } else {
            return Err(format!(
                "`{host}` is not a host name (letters, digits, `-` and `.`) or an IP address"
            ));
        }
    };
    let Some(port) = port else {
        return Ok(host);
    };
    let number: u16 = port
        .parse()
        .ok()
        .filter(|p| *p > 0 && port.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| format!("the port `{port}` is not a number from 1 to 65535"))?;
    let default = match scheme {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    };
    if default == Some(number) {
        Ok(host)
    } else {
        Ok(format!("{host}:{number}"))
    }
}

/// The authority of an `http://` or `https://` URL, normalised as [`normal_authority`] does.
pub fn url_authority(url: &str) -> Result<String, String> {
    let (scheme, rest) = url.split_once("://").ok_or("the URL has no `scheme://`")?;
    let scheme = scheme.to_ascii_lowercase();
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = rest.get(..end).unwrap_or(rest);
    if authority.contains('@') {
        return Err("user information (`user@`) is not taken".into());
    }
    normal_authority(authority, &scheme)
}

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

impl Config {
    /// Reads a TOML configuration. Unknown keys are errors (with line and column), so a typo
    /// does not silently fall back to a default.
    pub fn from_toml(text: &str, origin: &Path) -> Result<Config, ConfigError> {
        let config: Config =
            toml::from_str(text).map_err(|e| ConfigError(format!("{}: {e}", origin.display())))?;
        config.check()?;
        Ok(config)
    }

    /// Checks values that parse but cannot work.
    pub fn check(&self) -> Result<(), ConfigError> {
        if !self.network.is_ascii_alphanumeric() {
            return Err(ConfigError(format!(
                "network must be one ASCII letter or digit (L for mainnet, T for testnet), not {:?}",
                self.network
            )));
        }
        if self.body_limit < 1024 {
            return Err(ConfigError(format!(
                "body_limit is {} bytes; it must be at least 1024",
                self.body_limit
            )));
        }
        let d = &self.delivery;
        if d.max_attempts == 0 || d.concurrency == 0 || d.timeout_ms == 0 {
            return Err(ConfigError(
                "delivery.max_attempts, delivery.concurrency and delivery.timeout_ms must be above 0"
                    .into(),
            ));
        }
        if self.system.timeout_ms == 0 {
            return Err(ConfigError("system.timeout_ms must be above 0".into()));
        }
        let i = &self.identities;
        if i.max_bytes < 256 {
            return Err(ConfigError(format!(
                "identities.max_bytes is {} bytes; it must be at least 256 (an identity with one key takes about 150)",
                i.max_bytes
            )));
        }
        if i.max_per_key == 0 {
            return Err(ConfigError(
                "identities.max_per_key must be at least 1 (to register no identities, set identities.self_register = false)".into(),
            ));
        }
        if d.backoff_max_ms < d.backoff_ms {
            return Err(ConfigError(format!(
                "delivery.backoff_max_ms ({}) is below delivery.backoff_ms ({})",
                d.backoff_max_ms, d.backoff_ms
            )));
        }
        if let Some(url) = &self.public_url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(ConfigError(format!(
                    "public_url must start with http:// or https://, not {url:?}"
                )));
            }
            url_authority(url).map_err(|e| ConfigError(format!("public_url {url:?}: {e}")))?;
        }
        for (n, name) in self.authorities.iter().enumerate() {
            normal_authority(name, "http")
                .map_err(|e| ConfigError(format!("authorities[{n}] {name:?}: {e}")))?;
        }
        let own = self
            .public_url
            .as_deref()
            .map(|u| u.trim_end_matches('/').to_ascii_lowercase());
        for (n, peer) in self.peers.iter().enumerate() {
            if own.as_deref() == Some(&peer.url.trim_end_matches('/').to_ascii_lowercase()) {
                return Err(ConfigError(format!(
                    "peers[{n}].url is this node's public_url ({}): a peer is another node",
                    peer.url
                )));
            }
            if !(peer.url.starts_with("http://") || peer.url.starts_with("https://")) {
                return Err(ConfigError(format!(
                    "peers[{n}].url must start with http:// or https://, not {:?}",
                    peer.url
                )));
            }
            accord_crypto::base58::decode(&peer.key)
                .ok()
                .filter(|k| k.len() == 32)
                .ok_or_else(|| {
                    ConfigError(format!(
                        "peers[{n}].key must be a base58 ed25519 public key, not {:?}",
                        peer.key
                    ))
                })?;
        }
        Ok(())
    }

    /// The network byte.
    pub fn network_byte(&self) -> u8 {
        self.network as u8
    }

    /// The database URL in effect.
    pub fn database_url(&self) -> String {
        self.database
            .clone()
            .unwrap_or_else(|| format!("sqlite:{}", self.data_dir.join("node.db").display()))
    }

    /// The keystore path in effect.
    pub fn key_path(&self) -> PathBuf {
        self.key
            .clone()
            .unwrap_or_else(|| self.data_dir.join("node-key.json"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_full_file() {
        let c = Config::from_toml(
            r#"
data_dir = "/var/lib/accord"
listen = "0.0.0.0:8080"
database = "postgres://accord@db/accord"
durability = "power"
network = "L"
admins = ["GjSacB"]
body_limit = 65536
[[peers]]
url = "http://10.0.0.2:4000"
key = "4EcSxUkMxqxBEBUBL2oKz3ARVsbyRJTivWpNrYQGdguz"
[delivery]
backoff_ms = 50
max_attempts = 3
"#,
            Path::new("node.toml"),
        )
        .unwrap();
        assert_eq!(c.listen.port(), 8080);
        assert_eq!(c.durability, Durability::Power);
        assert_eq!(c.network_byte(), b'L');
        assert_eq!(c.peers.len(), 1);
        assert_eq!(c.database_url(), "postgres://accord@db/accord");
        assert_eq!(c.delivery.backoff_ms, 50);
        assert_eq!(c.delivery.max_attempts, 3);
        assert_eq!(c.delivery.timeout_ms, Delivery::default().timeout_ms);
    }

    #[test]
    fn names_what_is_wrong() {
        let err = Config::from_toml("listne = \"x\"", Path::new("node.toml")).unwrap_err();
        assert!(
            err.0.contains("node.toml") && err.0.contains("listne"),
            "{err}"
        );
        let err = Config::from_toml("listen = \"nowhere\"", Path::new("n.toml")).unwrap_err();
        assert!(err.0.contains("listen"), "{err}");
        let err = Config::from_toml(
            "[[peers]]\nurl = \"ftp://x\"\nkey = \"x\"",
            Path::new("n.toml"),
        )
        .unwrap_err();
        assert!(err.0.contains("peers[0].url"), "{err}");
        let err = Config::from_toml("body_limit = 3", Path::new("n.toml")).unwrap_err();
        assert!(err.0.contains("body_limit"), "{err}");
        let err =
            Config::from_toml("[delivery]\nmax_attempts = 0", Path::new("n.toml")).unwrap_err();
        assert!(err.0.contains("delivery.max_attempts"), "{err}");
        let err = Config::from_toml(
            "[delivery]\nbackoff_ms = 10\nbackoff_max_ms = 5",
            Path::new("n.toml"),
        )
        .unwrap_err();
        assert!(err.0.contains("backoff_max_ms"), "{err}");
        let err = Config::from_toml("[system]\ntimeout_ms = 0", Path::new("n.toml")).unwrap_err();
        assert!(err.0.contains("system.timeout_ms"), "{err}");
        let c = Config::from_toml(
            "[system]\nhosts = [\"hooks.example\"]\nallow_private = true",
            Path::new("n.toml"),
        )
        .unwrap();
        assert_eq!(c.system.hosts, vec!["hooks.example".to_string()]);
        assert!(c.system.allow_private);
        let err = Config::from_toml("[delivery]\nretries = 1", Path::new("n.toml")).unwrap_err();
        assert!(err.0.contains("retries"), "{err}");
        let err = Config::from_toml("public_url = \"node-a\"", Path::new("n.toml")).unwrap_err();
        assert!(err.0.contains("public_url"), "{err}");
        let err = Config::from_toml(
            "public_url = \"http://a.example/\"\n[[peers]]\nurl = \"http://A.example\"\nkey = \"US517G5965aydkZ46HS38QLi7UQiSojurfbQfKCELFx\"",
            Path::new("n.toml"),
        )
        .unwrap_err();
        assert!(err.0.contains("is this node's public_url"), "{err}");
    }

    #[test]
    fn authorities_are_host_and_port() {
        let c = Config::from_toml(
            "authorities = [\"Node.Example.org\", \"10.0.0.5:4000\", \"[::1]:4000\"]",
            Path::new("n.toml"),
        )
        .unwrap();
        assert_eq!(c.authorities.len(), 3);
        for (bad, why) in [
            ("http://node.example.org", "authorities[0]"),
            ("node.example.org/accord", "not a host name"),
            ("node.example.org:0", "port `0`"),
            ("node.example.org:99999", "port `99999`"),
            (":4000", "host is empty"),
            ("::1", "in brackets"),
            ("[::1", "not closed"),
            ("[fe80::zz]:1", "not an IPv6 address"),
        ] {
            let err = Config::from_toml(&format!("authorities = [{bad:?}]"), Path::new("n.toml"))
                .unwrap_err();
            assert!(err.0.contains(why), "{bad}: {err}");
        }
        assert_eq!(
            normal_authority("NODE.example.org:80", "http").unwrap(),
            "node.example.org"
        );
        assert_eq!(normal_authority("[0:0::1]:443", "https").unwrap(), "[::1]");
        assert_eq!(
            url_authority("https://Node.example.org:8443/x?y").unwrap(),
            "node.example.org:8443"
        );
        let err =
            Config::from_toml("public_url = \"http://u@node\"", Path::new("n.toml")).unwrap_err();
        assert!(err.0.contains("user information"), "{err}");
        let err = Config::from_toml("replay_cache = 10", Path::new("n.toml")).unwrap_err();
        assert!(err.0.contains("replay_cache"), "no such setting now: {err}");
    }

    #[test]
    fn identities_and_system_acceptance_are_read_and_checked() {
        let c = Config::from_toml(
            "[identities]\nmax_bytes = 4096\nmax_per_key = 2\nregister_per_minute = 0\nself_register = false\nself_register_per_minute = 5\nmax_self_registered = 7\n[system]\naccept = \"any\"",
            Path::new("n.toml"),
        )
        .unwrap();
        assert_eq!(
            c.identities,
            Identities {
                max_bytes: 4096,
                max_per_key: 2,
                register_per_minute: 0,
                self_register: false,
                self_register_per_minute: 5,
                max_self_registered: 7,
            }
        );
        assert_eq!(c.system.accept, Accept::Any);
        let c =
            Config::from_toml("[system]\naccept = \"registered\"", Path::new("n.toml")).unwrap();
        assert_eq!(c.system.accept, Accept::Registered);
        let c = Config::from_toml("[system]\naccept = \"none\"", Path::new("n.toml")).unwrap();
        assert_eq!(c.system.accept, Accept::None);
        for (text, names) in [
            ("[identities]\nmax_bytes = 100", "identities.max_bytes"),
            ("[identities]\nmax_per_key = 0", "identities.max_per_key"),
            ("[identities]\nmax_ids = 3", "max_ids"),
            ("[system]\naccept = \"registred\"", "registred"),
        ] {
            let err = Config::from_toml(text, Path::new("n.toml")).unwrap_err();
            assert!(err.0.contains(names), "{text}: {err}");
        }
    }

    #[test]
    fn defaults() {
        let c = Config::default();
        assert_eq!(c.database_url(), "sqlite:accord-data/node.db");
        assert_eq!(c.key_path(), PathBuf::from("accord-data/node-key.json"));
        assert_eq!(c.system.accept, Accept::Enrolled);
        assert_eq!(
            (
                c.identities.max_bytes,
                c.identities.max_per_key,
                c.identities.register_per_minute,
                c.identities.self_register,
                c.identities.self_register_per_minute,
                c.identities.max_self_registered
            ),
            (16384, 8, 30, true, 60, 10_000)
        );
    }
}
