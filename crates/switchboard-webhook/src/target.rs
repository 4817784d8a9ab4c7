//! The SSRF guard: which target URLs and addresses deliveries may reach.
//!
//! A target must be an absolute `http` or `https` URL with a host. Its
//! addresses must be public, which is decided from maintained tables rather
//! than a hand-written list:
//!
//! * every block of the IANA IPv4 and IPv6 Special-Purpose Address
//!   registries is refused (loopback, private, shared, link-local,
//!   documentation, benchmarking, reserved, NAT64 local-use `64:ff9b:1::/48`,
//!   discard-only, ORCHID, SRv6 SIDs, …), as the crate `iprfc` carries them
//!   (`iprfc::RFC6890`: a version-pinned snapshot generated from IANA's
//!   registry files, refreshed with the crate). Blocks the registry marks
//!   globally reachable (anycast services such as AS112 or PCP) are refused
//!   too: no webhook receiver lives there;
//! * multicast (`224.0.0.0/4`, `ff00::/8`, IANA's multicast registries);
//! * IPv6 outside global unicast `2000::/3` (the IANA IPv6 Address Space
//!   registry reserves the rest or gives it to ULA, link-local and
//!   multicast);
//! * an IPv6 address that carries an IPv4 address (IPv4-mapped
//!   `::ffff:0:0/96`, IPv4-compatible `::/96`, NAT64 `64:ff9b::/96`, 6to4
//!   `2002::/16`) is judged by that IPv4 address, so a DNS64 network still
//!   reaches public IPv4 receivers while `::ffff:127.0.0.1` stays refused.
//!
//! `ip_network`'s `is_global` and the standard library's (unstable)
//! `is_global` were considered: the first is a short hand list that misses
//! NAT64, 6to4, Teredo, ORCHID and the discard-only block; the second is not
//! stable. `iprfc` is the table IANA's registry files generate.
//!
//! The check runs when a subscription is created ([`check_target`]) and
//! again on every delivery: IP-literal URLs are checked before sending, and
//! host names are resolved by [`GuardedResolver`], which hands the HTTP
//! client only allowed addresses, so a DNS answer that changes between the
//! two checks (DNS rebinding) cannot reach a private address either.
//!
//! A refusal tells the client only that the target is not allowed: naming
//! the address a host resolves to would map internal names for whoever can
//! subscribe. [`TargetError::detail`] has the host and address, for logs.
//!
//! [`TargetPolicy::allow_private`] turns the address check off, for tests
//! and local development only.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use iprfc::{Ipv6Net, RFC6890};
use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Longest accepted target URL.
pub const MAX_URL_LEN: usize = 2048;

/// Which targets are allowed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TargetPolicy {
    /// Allow loopback, private and other non-public addresses (tests and
    /// local development only).
    pub allow_private: bool,
}

/// Why a target was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// Not an absolute URL, too long, or without a host.
    #[error("target_url must be an absolute http or https URL: {0}")]
    InvalidUrl(String),
    /// A scheme other than http and https.
    #[error("target_url must use http or https, not {0}")]
    Scheme(String),
    /// The host name does not resolve.
    #[error("the host {0} does not resolve")]
    Unresolvable(String),
    /// The host is or resolves to a non-public address. The message says
    /// only that the target is not allowed; [`TargetError::detail`] names
    /// the host and address for the operator's log.
    #[error("the target is not allowed: webhooks are delivered only to public internet addresses")]
    Forbidden {
        /// The URL's host.
        host: String,
        /// The refused address.
        ip: IpAddr,
    },
}

impl TargetError {
    /// The error with every detail, for logs only (never for clients): for
    /// a refused address, the host and the address it resolved to.
    #[must_use]
    pub fn detail(&self) -> String {
        match self {
            Self::Forbidden { host, ip } => format!(
                "the host {host} resolves to {ip}, which is not a public address (IANA special-purpose, multicast or non-global-unicast)"
            ),
            other => other.to_string(),
        }
    }
}

/// Parses a target URL: absolute `http`/`https` with a host, at most
/// [`MAX_URL_LEN`] characters. Addresses are not checked here.
pub fn parse_target(url: &str) -> Result<Url, TargetError> {
    if url.len() > MAX_URL_LEN {
        return Err(TargetError::InvalidUrl(format!(
            "longer than {MAX_URL_LEN} characters"
        )));
    }
    let parsed = Url::parse(url.trim()).map_err(|e| TargetError::InvalidUrl(e.to_string()))?;
    match parsed.scheme() {
        "http" | "https" => {}
        other => return Err(TargetError::Scheme(other.chars().take(20).collect())),
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(TargetError::InvalidUrl("no host".into()));
    }
    Ok(parsed)
}

/// The URL's host as an IP address, when it is an IP literal.
#[must_use]
pub fn literal_ip(url: &Url) -> Option<IpAddr> {
    match url.host()? {
        url::Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
        url::Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
        url::Host::Domain(_) => None,
    }
}

/// Checks a target URL for subscribing: it parses, and unless the policy
/// allows private targets, every address its host resolves to (or its IP
/// literal) is public.
pub async fn check_target(url: &str, policy: TargetPolicy) -> Result<Url, TargetError> {
    let parsed = parse_target(url)?;
    if policy.allow_private {
        return Ok(parsed);
    }
    let host = parsed.host_str().unwrap_or_default().to_string();
    if let Some(ip) = literal_ip(&parsed) {
        return check_ip(&host, ip).map(|()| parsed);
    }
    let port = parsed.port_or_known_default().unwrap_or(443);
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), port))
        .await
        .map_err(|_| TargetError::Unresolvable(host.clone()))?
        .collect();
    if addrs.is_empty() {
        return Err(TargetError::Unresolvable(host));
    }
    for addr in addrs {
        check_ip(&host, addr.ip())?;
    }
    Ok(parsed)
}

/// Checks the address of an IP-literal URL before sending (host names are
/// checked by [`GuardedResolver`]).
pub fn check_literal(url: &Url, policy: TargetPolicy) -> Result<(), TargetError> {
    if policy.allow_private {
        return Ok(());
    }
    match literal_ip(url) {
        Some(ip) => check_ip(url.host_str().unwrap_or_default(), ip),
        None => Ok(()),
    }
}

fn check_ip(host: &str, ip: IpAddr) -> Result<(), TargetError> {
    if is_public(ip) {
        Ok(())
    } else {
        Err(TargetError::Forbidden {
            host: host.to_string(),
            ip,
        })
    }
}

/// Whether `ip` is a public unicast address that deliveries may reach.
///
/// ```
/// use switchboard_webhook::target::is_public;
/// assert!(is_public("93.184.216.34".parse().unwrap()));
/// assert!(!is_public("127.0.0.1".parse().unwrap()));
/// assert!(!is_public("::ffff:10.0.0.1".parse().unwrap()));
/// ```
#[must_use]
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

/// IPv6 global unicast (IANA IPv6 Address Space registry): everything
/// outside it is reserved, unique local, link-local or multicast.
const GLOBAL_UNICAST: Ipv6Net = Ipv6Net::new_assert(Ipv6Addr::new(0x2000, 0, 0, 0, 0, 0, 0, 0), 3);

fn is_public_v4(ip: Ipv4Addr) -> bool {
    !ip.is_multicast() && !RFC6890.ipv4_nets().iter().any(|net| net.contains(&ip))
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = embedded_ipv4(ip) {
        return is_public_v4(v4);
    }
    GLOBAL_UNICAST.contains(&ip) && !RFC6890.ipv6_nets().iter().any(|net| net.contains(&ip))
}

/// The IPv4 address an IPv6 address carries, for the forms that reach an
/// IPv4 host: IPv4-mapped (`::ffff:0:0/96`), IPv4-compatible (`::/96`,
/// deprecated), NAT64 with the well-known prefix (`64:ff9b::/96`, RFC 6052)
/// and 6to4 (`2002::/16`, RFC 3056).
fn embedded_ipv4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let v4 = |hi: u16, lo: u16| {
        let [a, b] = hi.to_be_bytes();
        let [c, d] = lo.to_be_bytes();
        Ipv4Addr::new(a, b, c, d)
    };
    match s {
        [0, 0, 0, 0, 0, 0 | 0xffff, hi, lo] => Some(v4(hi, lo)),
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => Some(v4(hi, lo)),
        [0x2002, hi, lo, ..] => Some(v4(hi, lo)),
        _ => None,
    }
}

/// A DNS resolver for the delivery client that drops non-public addresses
/// (unless the policy allows them) and fails when none are left.
#[derive(Debug, Clone, Copy, Default)]
pub struct GuardedResolver {
    policy: TargetPolicy,
}

impl GuardedResolver {
    /// A resolver enforcing `policy`.
    #[must_use]
    pub const fn new(policy: TargetPolicy) -> Self {
        Self { policy }
    }

    /// As an `Arc`, ready for `reqwest::ClientBuilder::dns_resolver`.
    #[must_use]
    pub fn shared(policy: TargetPolicy) -> Arc<Self> {
        Arc::new(Self::new(policy))
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy;
        let host = name.as_str().to_string();
        Box::pin(async move {
            let resolved: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map_err(|_| Box::new(TargetError::Unresolvable(host.clone())))?
                .collect();
            let first = resolved.first().map(SocketAddr::ip);
            let allowed: Vec<SocketAddr> = resolved
                .into_iter()
                .filter(|a| policy.allow_private || is_public(a.ip()))
                .collect();
            if allowed.is_empty() {
                let error = match first {
                    Some(ip) => TargetError::Forbidden { host, ip },
                    None => TargetError::Unresolvable(host),
                };
                return Err(Box::new(error) as Box<dyn std::error::Error + Send + Sync>);
            }
            let addrs: Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {

    use super::*;

    #[test]
    fn address_classes() {
        let cases: &[(&str, bool)] = &[
            ("93.184.216.34", true),
            ("8.8.8.8", true),
            ("1.1.1.1", true),
            ("172.32.0.1", true),
            ("100.128.0.1", true),
            ("0.0.0.0", false),
            ("0.1.2.3", false),
            ("127.0.0.1", false),
            ("127.255.255.254", false),
            ("10.1.2.3", false),
            ("172.16.0.1", false),
            ("172.31.255.255", false),
            ("192.168.1.1", false),
            ("169.254.169.254", false), // cloud metadata
            ("100.64.0.1", false),
            ("192.0.0.8", false),
            ("192.0.2.1", false),
            ("198.18.0.1", false),
            ("198.51.100.7", false),
            ("203.0.113.9", false),
            ("224.0.0.1", false),
            ("239.255.255.250", false),
            ("240.0.0.1", false),
            ("255.255.255.255", false),
            ("2606:4700:4700::1111", true),
            ("2a00:1450:4001:80b::200e", true),
            ("::", false),
            ("::1", false),
            ("::ffff:127.0.0.1", false),
            ("::ffff:10.0.0.1", false),
            ("::ffff:8.8.8.8", true),
            ("::127.0.0.1", false),
            ("64:ff9b::7f00:1", false),
            ("64:ff9b::808:808", true),
            ("2002:7f00:1::", false),
            ("2002:808:808::", true),
            ("fc00::1", false),
            ("fd12:3456::1", false),
            ("fe80::1", false),
            ("fec0::1", false),
            ("ff02::1", false),
            ("2001:db8::1", false),
            ("2001::1", false),
            ("100::1", false),
            // NAT64 local-use prefix (RFC 8215): network-specific, refused
            // whatever IPv4 address it may carry.
            ("64:ff9b:1::808:808", false),
            ("64:ff9b:1:ffff::1", false),
            ("64:ff9b:1::7f00:1", false),
            // Documentation (RFC 9637), SRv6 SIDs, AS112, discard-only.
            ("3fff::1", false),
            ("5f00::1", false),
            ("2620:4f:8000::1", false),
            ("100::dead", false),
            // Outside global unicast 2000::/3.
            ("4000::1", false),
            ("::1:0:0:1", false),
            // Multicast, which the special-purpose registries do not list.
            ("ff0e::1", false),
            ("224.0.0.251", false),
        ];
        for (ip, public) in cases {
            assert_eq!(is_public(ip.parse().unwrap()), *public, "{ip}");
        }
    }

    /// Every block of the IANA IPv4 and IPv6 special-purpose registries, as
    /// the table carries them: its first, middle and last address are
    /// refused (for the prefixes that carry an IPv4 address, those carry
    /// `0.0.0.0`, a middle address or `255.255.255.255`, all refused too),
    /// and the refusal names neither the host's address nor the block.
    #[test]
    fn every_iana_special_purpose_block_is_refused() {
        let blocks = RFC6890.ip_nets();
        assert!(
            blocks.len() >= 50,
            "the registry table has {} blocks",
            blocks.len()
        );
        for block in blocks {
            let (first, last) = (block.network(), block.broadcast());
            let middle = match (first, last) {
                (IpAddr::V4(a), IpAddr::V4(b)) => {
                    IpAddr::V4(Ipv4Addr::from(u32::from(a) / 2 + u32::from(b) / 2))
                }
                (IpAddr::V6(a), IpAddr::V6(b)) => {
                    IpAddr::V6(Ipv6Addr::from(u128::from(a) / 2 + u128::from(b) / 2))
                }
                _ => unreachable!("a block has one family"),
            };
            for ip in [first, middle, last] {
                let public = is_public(ip);
                let embeds_public =
                    matches!(ip, IpAddr::V6(v6) if embedded_ipv4(v6).is_some_and(is_public_v4));
                assert!(!public || embeds_public, "{ip} in {block} is accepted");
                let error = check_ip("vm.internal", ip).err();
                if let Some(e) = error {
                    let message = e.to_string();
                    assert!(message.contains("not allowed"), "{message}");
                    assert!(!message.contains(&ip.to_string()), "{message}");
                    assert!(!message.contains("vm.internal"), "{message}");
                    assert!(e.detail().contains(&ip.to_string()), "{}", e.detail());
                }
            }
        }
    }

    #[test]
    fn parse_refusals() {
        for (url, ok) in [
            ("https://hooks.zapier.com/hooks/standard/1/abc", true),
            ("http://example.com:8080/x?y=1", true),
            ("ftp://example.com/x", false),
            ("file:///etc/passwd", false),
            ("/relative/path", false),
            ("not a url", false),
            ("https://", false),
            ("", false),
        ] {
            assert_eq!(parse_target(url).is_ok(), ok, "{url}");
        }
        assert!(parse_target(&format!("https://example.com/{}", "a".repeat(MAX_URL_LEN))).is_err());
    }

    #[tokio::test]
    async fn subscribe_time_check() {
        let deny = TargetPolicy::default();
        let allow = TargetPolicy {
            allow_private: true,
        };
        for url in [
            "http://127.0.0.1:9/x",
            "http://[::1]:9/x",
            "http://[::ffff:127.0.0.1]:9/x",
            "http://10.0.0.1/x",
            "http://169.254.169.254/latest/meta-data",
            "http://0.0.0.0/",
            "http://localhost:9/x",
        ] {
            assert!(
                matches!(
                    check_target(url, deny).await,
                    Err(TargetError::Forbidden { .. })
                ),
                "{url}"
            );
            assert!(check_target(url, allow).await.is_ok(), "{url}");
        }
        assert!(check_target("http://93.184.216.34/x", deny).await.is_ok());
        let literal = parse_target("http://127.0.0.1/x").unwrap();
        assert!(check_literal(&literal, deny).is_err());
        assert!(check_literal(&literal, allow).is_ok());
    }
}
