//! Where a webhook may be POSTed. A webhook URL is chosen by staff but read
//! by Candor from inside the network, so it could aim Candor at the host
//! itself, the intranet or a cloud's metadata service. Its host is resolved
//! and every address checked when the webhook is added, and again on every
//! send (DNS can change); the send then dials only the addresses it checked.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::time::Duration;

/// How long resolving a webhook's host may take when it is added.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);

/// What an address is, as far as webhooks are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// A public address: always allowed.
    Public,
    /// On this host or an intranet: allowed with `webhook_allow_private`.
    Private(&'static str),
    /// Never a webhook receiver (unspecified, multicast, link-local, the
    /// documentation ranges, reserved): refused even then.
    Never(&'static str),
}

/// The class of an address, by the IANA special-purpose registries.
pub fn reach(ip: IpAddr) -> Reach {
    match ip {
        IpAddr::V4(v4) => reach_v4(v4),
        IpAddr::V6(v6) => reach_v6(v6),
    }
}

fn reach_v4(ip: Ipv4Addr) -> Reach {
    let [a, b, c, _] = ip.octets();
    match (a, b, c) {
        (0, _, _) => Reach::Never("an unspecified address"),
        (127, _, _) => Reach::Private("a loopback address"),
        (10, _, _) | (192, 168, _) => Reach::Private("a private address"),
        (172, 16..=31, _) => Reach::Private("a private address"),
        (100, 64..=127, _) => Reach::Private("a shared (carrier-grade NAT) address"),
        (169, 254, _) => Reach::Never("a link-local address"),
        (192, 0, 0) => Reach::Never("a reserved address"),
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => Reach::Never("a documentation address"),
        (198, 18..=19, _) => Reach::Never("a benchmarking address"),
        (224..=239, _, _) => Reach::Never("a multicast address"),
        (240..=255, _, _) => Reach::Never("a reserved address"),
        _ => Reach::Public,
    }
}

fn reach_v6(ip: Ipv6Addr) -> Reach {
    // An IPv4 address in IPv6 clothing is what it wraps, and never public:
    // a receiver has a plain address.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return match reach_v4(v4) {
            Reach::Public => Reach::Private("an IPv4-mapped address"),
            other => other,
        };
    }
    let s = ip.segments();
    if ip.is_unspecified() {
        Reach::Never("an unspecified address")
    } else if ip.is_loopback() {
        Reach::Private("a loopback address")
    } else if s[0] & 0xff00 == 0xff00 {
        Reach::Never("a multicast address")
    } else if s[0] & 0xffc0 == 0xfe80 {
        Reach::Never("a link-local address")
    } else if s[0] & 0xfe00 == 0xfc00 || s[0] & 0xffc0 == 0xfec0 {
        Reach::Private("a unique-local address")
    } else if s[0] == 0x2001 && s[1] == 0x0db8 {
        Reach::Never("a documentation address")
    } else if s[0] == 0x0064 && s[1] == 0xff9b {
        // NAT64 can carry any IPv4 address, the private ones included.
        Reach::Private("a NAT64 address")
    } else if s[0] & 0xe000 != 0x2000 {
        // Outside 2000::/3, the only global unicast block: IPv4-compatible,
        // discard-only and other reserved space.
        Reach::Never("a reserved address")
    } else {
        Reach::Public
    }
}

/// Why an address is refused, or `None` when a webhook may be sent there.
pub fn refusal(ip: IpAddr, allow_private: bool) -> Option<&'static str> {
    match reach(ip) {
        Reach::Public => None,
        Reach::Private(_) if allow_private => None,
        Reach::Private(what) | Reach::Never(what) => Some(what),
    }
}

/// A host named `localhost` (or under it) is this machine (RFC 6761), on
/// any resolver: answered here, without asking DNS.
fn is_localhost(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    host == "localhost" || host.ends_with(".localhost")
}

/// The addresses of `host`: itself when it is an address, the loopback
/// addresses for `localhost`, else what DNS answers.
async fn addresses(host: &str, port: u16) -> std::io::Result<Vec<SocketAddr>> {
    let literal = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = literal.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    if is_localhost(host) {
        return Ok(vec![
            SocketAddr::new(Ipv4Addr::LOCALHOST.into(), port),
            SocketAddr::new(Ipv6Addr::LOCALHOST.into(), port),
        ]);
    }
    let found: Vec<SocketAddr> = tokio::net::lookup_host((host, port)).await?.collect();
    if found.is_empty() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "no address",
        ));
    }
    Ok(found)
}

/// Checks a webhook URL as it is added: `Err` says why it is refused, in
/// words for staff (field `webhook`).
pub async fn check_new(url: &str, allow_private: bool) -> Result<(), String> {
    let parsed = url::Url::parse(url).map_err(|_| "is not an absolute URL".to_string())?;
    let host = match parsed.host() {
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).to_string(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).to_string(),
        Some(url::Host::Domain(name)) => name.to_string(),
        None => return Err("must name a host".into()),
    };
    let port = parsed.port_or_known_default().unwrap_or(443);
    let found = tokio::time::timeout(RESOLVE_TIMEOUT, addresses(&host, port))
        .await
        .map_err(|_| format!("names a host, `{host}`, that did not resolve in time"))?
        .map_err(|_| format!("names a host, `{host}`, that does not resolve"))?;
    for addr in found {
        if let Some(what) = refusal(addr.ip(), allow_private) {
            let hint = match reach(addr.ip()) {
                Reach::Private(_) => {
                    "; Candor POSTs to such addresses only with webhook_allow_private set"
                }
                _ => "; Candor never POSTs there",
            };
            return Err(format!("points to {what} (`{host}`){hint}"));
        }
    }
    Ok(())
}

/// A send refused because the host is, or resolves to, an address webhooks
/// may not reach.
#[derive(Debug)]
pub struct Refused;

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("refused: address not allowed")
    }
}

impl std::error::Error for Refused {}

/// The host could not be resolved at send time.
#[derive(Debug)]
pub struct NotFound;

impl std::fmt::Display for NotFound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("host not found")
    }
}

impl std::error::Error for NotFound {}

/// The resolver of the webhook client: the addresses it hands the
/// connector are the ones it checked, so a name that changes between the
/// check and the connection cannot slip through.
pub struct GuardedResolver {
    pub allow_private: bool,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        let host = name.as_str().to_string();
        let resolving: Pin<Box<dyn Future<Output = _> + Send>> = Box::pin(async move {
            // Port 0: the connector puts in the URL's.
            let found = addresses(&host, 0)
                .await
                .map_err(|_| Box::new(NotFound) as Box<dyn std::error::Error + Send + Sync>)?;
            if found
                .iter()
                .any(|addr| refusal(addr.ip(), allow_private).is_some())
            {
                return Err(Box::new(Refused) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(found.into_iter()) as reqwest::dns::Addrs)
        });
        resolving
    }
}

/// Whether a URL whose host is an address literal may be POSTed to (the
/// resolver is not asked for those); names are checked by the resolver.
pub fn literal_allowed(url: &str, allow_private: bool) -> bool {
    let ip = match url::Url::parse(url)
        .ok()
        .and_then(|u| u.host().map(|h| h.to_owned()))
    {
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip),
        Some(url::Host::Domain(_)) => return true,
        None => return false,
    };
    refusal(ip, allow_private).is_none()
}

/// The host of a URL, for logs (the path and query may carry a secret).
pub fn host_of(url: &str) -> String {
    url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| "an unreadable URL".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn only_public_addresses_are_allowed_by_default() {
        for public in ["93.184.216.34", "8.8.8.8", "2606:4700::1111", "100.128.0.1"] {
            assert_eq!(reach(ip(public)), Reach::Public, "{public}");
        }
        for private in [
            "127.0.0.1",
            "127.255.0.9",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "100.64.0.1",
            "::1",
            "fc00::1",
            "fd12:3456::1",
            "::ffff:127.0.0.1",
            "::ffff:8.8.8.8",
            "64:ff9b::7f00:1",
        ] {
            assert!(matches!(reach(ip(private)), Reach::Private(_)), "{private}");
            assert!(refusal(ip(private), false).is_some(), "{private}");
            assert!(refusal(ip(private), true).is_none(), "{private}");
        }
        for never in [
            "0.0.0.0",
            "0.1.2.3",
            "169.254.169.254",
            "224.0.0.1",
            "255.255.255.255",
            "192.0.2.1",
            "198.51.100.7",
            "203.0.113.9",
            "::",
            "fe80::1",
            "ff02::1",
            "2001:db8::1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
        ] {
            assert!(matches!(reach(ip(never)), Reach::Never(_)), "{never}");
            assert!(refusal(ip(never), true).is_some(), "{never}");
        }
    }

    #[tokio::test]
    async fn loopback_in_every_spelling_is_refused_when_added() {
        for url in [
            "http://127.0.0.1/x",
            "http://[::1]/x",
            "http://0.0.0.0/x",
            "http://2130706433/x",
            "http://127.1/x",
            "http://0x7f000001/x",
            "http://localhost:8080/x",
            "http://LOCALHOST./x",
            "http://api.localhost/x",
            "http://169.254.169.254/latest/meta-data/",
            "http://[fe80::1]/x",
            "http://[::ffff:127.0.0.1]/x",
        ] {
            let why = check_new(url, false).await.unwrap_err();
            assert!(why.starts_with("points to"), "{url}: {why}");
        }
        check_new("http://127.0.0.1:9/x", true).await.unwrap();
        check_new("http://localhost:9/x", true).await.unwrap();
        assert!(check_new("http://0.0.0.0/x", true).await.is_err());
        assert!(check_new("http://169.254.169.254/x", true).await.is_err());
    }

    #[test]
    fn literal_hosts_are_checked_before_sending() {
        assert!(!literal_allowed("http://127.0.0.1:9/x", false));
        assert!(literal_allowed("http://127.0.0.1:9/x", true));
        assert!(literal_allowed("https://hooks.example.test/x", false));
        assert!(literal_allowed("https://93.184.216.34/x", false));
    }

    #[test]
    fn logs_name_the_host_only() {
        assert_eq!(
            host_of("https://hooks.example.test/T0/B1/secret?token=x"),
            "hooks.example.test"
        );
    }
}
