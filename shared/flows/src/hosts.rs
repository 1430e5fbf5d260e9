//! Where the service may connect: the ERP base URLs an operator may configure, checked when a URL is saved,
//! again when a connection is built, and once more at connect time (DNS answers), so a tenant cannot point
//! a connection — and its credentials — at an internal address (SSRF).
//!
//! - **Exact Online**: `https` to one of Exact's published regional sites ([`EXACT_HOSTS`]) on port 443.
//! - **Vantagepoint** (customer-hosted): `https` to a public address. An IP literal must be public; a host
//!   name is resolved at connect time by [`PublicOnlyResolver`], which refuses answers that are not public
//!   (loopback, private, link-local, CGNAT, unique-local, multicast, documentation, ...), so a name that
//!   resolves — or re-resolves — to an internal address is never connected to.
//! - **Allowed hosts** ([`AllowedErpHosts`], the `AllowedErpHosts` deployment setting, environment
//!   `ALLOWED_ERP_HOSTS`, empty in production): listed hosts (optionally with a port) are exempt from both
//!   rules, http included. The local stack and the tests list `127.0.0.1` for the emulators.
//!
//! No URL may carry user info. The clients never follow redirects, so a checked URL is the only place a
//! credential goes.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use url::{Host, Url};

/// Exact Online's regional sites (Netherlands, Belgium, Germany, United Kingdom, United States, France,
/// Spain).
pub const EXACT_HOSTS: &[&str] = &[
    "start.exactonline.nl",
    "start.exactonline.be",
    "start.exactonline.de",
    "start.exactonline.co.uk",
    "start.exactonline.com",
    "start.exactonline.fr",
    "start.exactonline.es",
];

/// The environment variable the Lambda functions read [`AllowedErpHosts`] from.
pub const ALLOWED_ERP_HOSTS_ENV: &str = "ALLOWED_ERP_HOSTS";

/// Which ERP a base URL is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErpSystem {
    Exact,
    Vantagepoint,
}

/// Hosts exempt from the public-address rules (the emulators of the local stack and the tests).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedErpHosts {
    /// Lower-case host, and the port when one was listed.
    entries: Vec<(String, Option<u16>)>,
}

impl AllowedErpHosts {
    /// None allowed: production.
    pub fn none() -> Self {
        Self::default()
    }

    /// A comma- or space-separated list of `host` or `host:port` (IPv6 in brackets: `[::1]:8080`).
    pub fn parse(list: &str) -> Result<Self, String> {
        let mut entries = Vec::new();
        for item in list
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|s| !s.is_empty())
        {
            let url = Url::parse(&format!("http://{item}/"))
                .map_err(|e| format!("allowed ERP host {item:?} is not a host[:port]: {e}"))?;
            let host = url
                .host_str()
                .filter(|h| !h.is_empty())
                .ok_or_else(|| format!("allowed ERP host {item:?} has no host"))?;
            if url.path() != "/" || !url.username().is_empty() {
                return Err(format!("allowed ERP host {item:?} is not a host[:port]"));
            }
            entries.push((host.to_ascii_lowercase(), url.port()));
        }
        Ok(Self { entries })
    }

    /// From `ALLOWED_ERP_HOSTS` (absent or empty: none).
    pub fn from_env() -> Result<Self, String> {
        Self::parse(&std::env::var(ALLOWED_ERP_HOSTS_ENV).unwrap_or_default())
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether `host` (and `port`, when the entry names one) is listed.
    pub fn allows(&self, host: &str, port: Option<u16>) -> bool {
        let host = host.to_ascii_lowercase();
        self.entries
            .iter()
            .any(|(h, p)| *h == host && (p.is_none() || *p == port))
    }

    fn allows_url(&self, url: &Url) -> bool {
        url.host_str()
            .is_some_and(|h| self.allows(h, url.port_or_known_default()))
    }
}

/// Whether connecting to `ip` reaches the public internet (not this host, a private network, or a
/// special-purpose range).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || a >= 240
        || (a == 100 && (64..128).contains(&b)) // CGNAT 100.64.0.0/10
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19))) // benchmarking 198.18.0.0/15
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let segments = ip.segments();
    // NAT64 (64:ff9b::/96) embeds an IPv4 address.
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let [a, b] = segments[6].to_be_bytes();
        let [c, d] = segments[7].to_be_bytes();
        return is_public_v4(Ipv4Addr::new(a, b, c, d));
    }
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (segments[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
        || (segments[0] & 0xffc0) == 0xfe80 // link local fe80::/10
        || (segments[0] & 0xffc0) == 0xfec0 // site local (deprecated)
        || (segments[0] == 0x2001 && segments[1] == 0x0db8) // documentation
        || segments[..6] == [0, 0, 0, 0, 0, 0]) // IPv4-compatible
}

/// Checks a base URL an operator gives for `system`; `Err` says why it is refused, in operator terms.
pub fn check_erp_url(
    system: ErpSystem,
    raw: &str,
    allowed: &AllowedErpHosts,
) -> Result<(), String> {
    let url = Url::parse(raw.trim()).map_err(|_| "must be an absolute http(s) URL".to_owned())?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("must be an http(s) URL".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not contain a user name or password".into());
    }
    let Some(host) = url.host() else {
        return Err("must name a host".into());
    };
    if allowed.allows_url(&url) {
        return Ok(());
    }
    if url.scheme() != "https" {
        return Err("must use https".into());
    }
    match system {
        ErpSystem::Exact => {
            let name = match host {
                Host::Domain(d) => d.to_ascii_lowercase(),
                _ => String::new(),
            };
            let name = name.trim_end_matches('.');
            if !EXACT_HOSTS.contains(&name) || url.port_or_known_default() != Some(443) {
                return Err(format!(
                    "must be one of Exact Online's sites: {}",
                    EXACT_HOSTS
                        .iter()
                        .map(|h| format!("https://{h}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
        ErpSystem::Vantagepoint => {
            let literal = match host {
                Host::Ipv4(v4) => Some(IpAddr::V4(v4)),
                Host::Ipv6(v6) => Some(IpAddr::V6(v6)),
                Host::Domain(_) => None,
            };
            if literal.is_some_and(|ip| !is_public(ip)) {
                return Err(
                    "must be a public address (not loopback, private or link-local)".into(),
                );
            }
        }
    }
    Ok(())
}

/// A DNS resolver for the ERP clients that answers only public addresses (see the module doc), except for
/// allowed hosts. Checking the answer at connect time is what stops a name that resolves to an internal
/// address, or is re-pointed there after the URL was saved.
#[derive(Debug, Clone)]
pub struct PublicOnlyResolver {
    allowed: Arc<AllowedErpHosts>,
}

impl PublicOnlyResolver {
    pub fn new(allowed: AllowedErpHosts) -> Self {
        Self {
            allowed: Arc::new(allowed),
        }
    }
}

impl reqwest::dns::Resolve for PublicOnlyResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allowed = self.allowed.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            // The URL check already matched the port of an allowed entry.
            let exempt = allowed
                .entries
                .iter()
                .any(|(h, _)| h.eq_ignore_ascii_case(&host));
            let answers: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let usable: Vec<SocketAddr> = answers
                .into_iter()
                .filter(|a| exempt || is_public(a.ip()))
                .collect();
            if usable.is_empty() {
                let refused: Box<dyn std::error::Error + Send + Sync> = format!(
                    "{host} resolves to no public address; the service does not connect there"
                )
                .into();
                return Err(refused);
            }
            let addrs: reqwest::dns::Addrs = Box::new(usable.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn exact_connections_go_to_exact_s_regional_sites_only() {
        let none = AllowedErpHosts::none();
        for ok in [
            "https://start.exactonline.nl",
            "https://START.exactonline.co.uk/",
            "https://start.exactonline.com:443",
        ] {
            assert!(check_erp_url(ErpSystem::Exact, ok, &none).is_ok(), "{ok}");
        }
        for bad in [
            "http://start.exactonline.nl",
            "https://start.exactonline.nl.evil.example",
            "https://evil.example/start.exactonline.nl",
            "https://start.exactonline.nl:8443",
            "https://user:pw@start.exactonline.nl",
            "https://127.0.0.1",
            "https://exactonline.nl",
        ] {
            assert!(
                check_erp_url(ErpSystem::Exact, bad, &none).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn vantagepoint_needs_https_to_a_public_address() {
        let none = AllowedErpHosts::none();
        assert!(
            check_erp_url(
                ErpSystem::Vantagepoint,
                "https://vp.example.com/Acme",
                &none
            )
            .is_ok()
        );
        assert!(check_erp_url(ErpSystem::Vantagepoint, "https://8.8.8.8/vp", &none).is_ok());
        for bad in [
            "http://vp.example.com/Acme",
            "https://127.0.0.1/vp",
            "https://10.1.2.3/vp",
            "https://172.16.0.1/vp",
            "https://192.168.1.1/vp",
            "https://169.254.169.254/latest/meta-data",
            "https://100.64.0.1/vp",
            "https://0.0.0.0/vp",
            "https://[::1]/vp",
            "https://[fd00::1]/vp",
            "https://[fe80::1]/vp",
            "https://[::ffff:127.0.0.1]/vp",
            "https://[64:ff9b::a9fe:a9fe]/vp",
            "https://u:p@vp.example.com/",
            "ftp://vp.example.com/",
            "not a url",
        ] {
            assert!(
                check_erp_url(ErpSystem::Vantagepoint, bad, &none).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn allowed_hosts_let_the_emulators_in_and_nothing_else() {
        let allowed = AllowedErpHosts::parse("127.0.0.1, localhost:8080").unwrap();
        assert!(check_erp_url(ErpSystem::Exact, "http://127.0.0.1:4000", &allowed).is_ok());
        assert!(check_erp_url(ErpSystem::Vantagepoint, "http://127.0.0.1:9/vp", &allowed).is_ok());
        assert!(check_erp_url(ErpSystem::Vantagepoint, "http://localhost:8080/", &allowed).is_ok());
        assert!(
            check_erp_url(ErpSystem::Vantagepoint, "http://localhost:8081/", &allowed).is_err()
        );
        assert!(check_erp_url(ErpSystem::Vantagepoint, "http://10.0.0.1/", &allowed).is_err());
        assert!(AllowedErpHosts::parse("http://x/y").is_err());
        assert!(AllowedErpHosts::parse("").unwrap().is_empty());
    }

    #[tokio::test]
    async fn the_resolver_refuses_names_that_resolve_to_internal_addresses() {
        use reqwest::dns::Resolve;
        use std::str::FromStr;
        let strict = PublicOnlyResolver::new(AllowedErpHosts::none());
        let name = reqwest::dns::Name::from_str("localhost").unwrap();
        assert!(strict.resolve(name).await.is_err());
        let lenient = PublicOnlyResolver::new(AllowedErpHosts::parse("localhost").unwrap());
        let name = reqwest::dns::Name::from_str("localhost").unwrap();
        assert!(lenient.resolve(name).await.is_ok());
    }
}
