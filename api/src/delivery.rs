//! Sending webhooks: where the server may send ([`Policy`]: public addresses by default, and
//! the hosts the operator names), the HTTP client (reqwest over rustls, no redirects, no
//! proxy, short timeouts, every resolved address checked at connect time), the Standard
//! Webhooks signature, and the worker that fans events out and sends what is due. What is
//! due and what each attempt did are kept by [`crate::service::webhooks`].

use crate::error::{ApiError, ApiResult};
use crate::service::webhooks::{self as hooks, Outcome};
use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use sea_orm::DatabaseConnection;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// Longest webhook URL accepted.
pub const MAX_URL: usize = 2_000;

/// One `--webhook-allow` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Allowed {
    /// Any host whose every address is public (on the internet), over https.
    Public,
    /// This host name or address, whatever its address, over http or https.
    Host(String),
    /// Any host under this domain (`*.example.org`: `.example.org`).
    Under(String),
}

/// Where webhooks may be sent: by default any public host over https; the operator may
/// name more hosts (`serve --webhook-allow`), which may then be private and plain http. A
/// key can never make the server reach an address the policy does not allow: the URL is
/// checked at creation and at each delivery, and every address a name resolves to is
/// checked when the connection is made (so a name cannot be re-pointed at the intranet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy(Vec<Allowed>);

impl Default for Policy {
    fn default() -> Self {
        Policy(vec![Allowed::Public])
    }
}

impl Policy {
    /// From `--webhook-allow` values: `public`, a host (`hooks.example.org`, `10.0.0.7`,
    /// `[fd00::7]`) or `*.domain`; `none` allows nothing. No value: `public`.
    pub fn parse(items: &[String]) -> Result<Policy, String> {
        let mut out = Vec::new();
        for raw in items.iter().flat_map(|i| i.split(',')) {
            let item = raw.trim().to_ascii_lowercase();
            let item = item.trim_start_matches('[').trim_end_matches(']');
            match item {
                "" => {}
                "public" => out.push(Allowed::Public),
                "none" => return Ok(Policy(Vec::new())),
                _ => {
                    let host = item.strip_prefix("*.");
                    let name = host.unwrap_or(item);
                    if name.len() > 253
                        || !name
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"-.:".contains(&b))
                        || name.starts_with('.')
                    {
                        return Err(format!(
                            "--webhook-allow {raw}: a host name, an address, *.domain, public or none"
                        ));
                    }
                    out.push(match host {
                        Some(h) => Allowed::Under(format!(".{h}")),
                        None => Allowed::Host(name.to_string()),
                    });
                }
            }
        }
        if out.is_empty() {
            out.push(Allowed::Public);
        }
        Ok(Policy(out))
    }

    fn public(&self) -> bool {
        self.0.contains(&Allowed::Public)
    }

    /// Whether the operator named this host (lower-case, without brackets).
    fn names(&self, host: &str) -> bool {
        self.0.iter().any(|a| match a {
            Allowed::Host(h) => h == host,
            Allowed::Under(d) => host.ends_with(d.as_str()),
            Allowed::Public => false,
        })
    }

    /// Checks a URL without resolving it: its form, its scheme, and an address written in
    /// it. Returns the URL and whether its host is one the operator named.
    pub fn check_url(&self, raw: &str) -> ApiResult<(Url, bool)> {
        let bad = |why: &str| ApiError::bad_input("url", why.to_string());
        if raw.len() > MAX_URL {
            return Err(bad("at most 2,000 characters"));
        }
        let url = Url::parse(raw.trim()).map_err(|e| bad(&format!("not a URL: {e}")))?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad(
                "no user or password in the URL: the receiver checks the signature instead",
            ));
        }
        let host = match url.host() {
            Some(url::Host::Domain(d)) => d.to_ascii_lowercase(),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            None => return Err(bad("the URL has no host")),
        };
        let named = self.names(&host);
        match (url.scheme(), named) {
            ("https", _) | ("http", true) => {}
            ("http", false) => {
                return Err(bad(
                    "use https (plain http only to a host the operator allows: serve --webhook-allow)",
                ));
            }
            _ => return Err(bad("an http or https URL")),
        }
        if !named {
            if !self.public() {
                return Err(refused(
                    &host,
                    "this server sends webhooks to no host but those it allows",
                ));
            }
            if let Ok(ip) = host.parse::<IpAddr>()
                && !is_public(ip)
            {
                return Err(refused(&host, "a private, loopback or reserved address"));
            }
            if host == "localhost" || host.ends_with(".localhost") {
                return Err(refused(&host, "a loopback name"));
            }
        }
        Ok((url, named))
    }

    /// Checks a new webhook's URL: [`Self::check_url`], and a name not named by the
    /// operator must resolve, to public addresses only.
    pub async fn check_new(&self, raw: &str) -> ApiResult<Url> {
        let (url, named) = self.check_url(raw)?;
        if named || url.host_str().is_some_and(|h| h.parse::<IpAddr>().is_ok()) {
            return Ok(url);
        }
        let host = url.host_str().unwrap_or_default().to_string();
        let found = tokio::time::timeout(
            Duration::from_secs(5),
            tokio::net::lookup_host((host.as_str(), 443)),
        )
        .await;
        let addrs: Vec<SocketAddr> = match found {
            Ok(Ok(a)) => a.collect(),
            _ => {
                return Err(ApiError::bad_input(
                    "url",
                    format!("the host {host} cannot be resolved; check the URL"),
                ));
            }
        };
        if addrs.is_empty() || addrs.iter().any(|a| !is_public(a.ip())) {
            return Err(refused(
                &host,
                "it resolves to a private or loopback address",
            ));
        }
        Ok(url)
    }
}

fn refused(host: &str, why: &str) -> ApiError {
    ApiError::bad_input(
        "url",
        format!(
            "this server does not send webhooks to {host} ({why}); use a public https URL, \
             or ask the operator to allow the host (serve --webhook-allow {host})"
        ),
    )
}

/// Whether an address is on the public internet: not loopback, private, link-local,
/// shared (CGNAT), documentation, benchmarking, multicast, reserved or unspecified; an
/// IPv6 address carrying an IPv4 one is judged by it.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return public_v4(v4);
            }
            let s = v6.segments();
            // NAT64 (64:ff9b::/96) carries an IPv4 address in its last 32 bits
            if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                return public_v4(Ipv4Addr::new(
                    (s[6] >> 8) as u8,
                    s[6] as u8,
                    (s[7] >> 8) as u8,
                    s[7] as u8,
                ));
            }
            !(v6.is_unspecified()
                || v6.is_loopback()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (s[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
                || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated) fec0::/10
                || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
                || s[..6] == [0, 0, 0, 0, 0, 0] // IPv4-compatible (deprecated)
                || s[0] == 0x0100 && s[1..4] == [0, 0, 0]) // discard-only 100::/64
        }
    }
}

fn public_v4(ip: Ipv4Addr) -> bool {
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
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19))) // benchmarking
}

/// Resolves names for the client and keeps only the addresses the policy allows: a name
/// the operator named may be anywhere; any other only on the public internet.
struct Guard(Arc<Policy>);

impl Resolve for Guard {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.0.clone();
        let host = name.as_str().to_ascii_lowercase();
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let named = policy.names(&host);
            let kept: Vec<SocketAddr> = found
                .into_iter()
                .filter(|a| named || (policy.public() && is_public(a.ip())))
                .collect();
            if kept.is_empty() {
                return Err(format!(
                    "refused: {host} resolves to no address this server may send to"
                )
                .into());
            }
            let addrs: Addrs = Box::new(kept.into_iter());
            Ok(addrs)
        })
    }
}

/// How webhooks are sent.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// Where they may go.
    pub policy: Policy,
    /// How long one attempt may take, connection included.
    pub timeout: Duration,
    /// The wait after the first failed attempt; it doubles after each (at most an hour).
    pub backoff: Duration,
    /// How long after its event a delivery is retried before it is given up.
    pub give_up_after: Duration,
    /// How often the worker looks for events and due deliveries it was not woken for.
    pub poll: Duration,
    /// Deliveries sent at once.
    pub concurrency: usize,
    /// How long events are kept after they happened, with their deliveries and attempts
    /// (those still pending stay until they finish).
    pub keep: Duration,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            policy: Policy::default(),
            timeout: Duration::from_secs(10),
            backoff: Duration::from_secs(10),
            give_up_after: Duration::from_secs(24 * 3600),
            poll: Duration::from_secs(1),
            concurrency: 8,
            keep: Duration::from_secs(30 * 24 * 3600),
        }
    }
}

impl WebhookConfig {
    /// The wait before attempt `n + 1` after `n` failed ones: `backoff` × 2ⁿ⁻¹, at most an
    /// hour, plus up to a tenth more (so that receivers coming back are not hit at once).
    pub fn wait_after(&self, failed: u32) -> Duration {
        let base = self
            .backoff
            .saturating_mul(1u32 << failed.saturating_sub(1).min(16))
            .min(Duration::from_secs(3600));
        base + base.mul_f64(rand::random::<f64>() * 0.1)
    }
}

/// The sending side: the client and the settings.
#[derive(Clone)]
pub struct Sender {
    client: reqwest::Client,
    config: Arc<WebhookConfig>,
}

impl Sender {
    /// A sender under `config`.
    pub fn new(config: WebhookConfig) -> ApiResult<Self> {
        crate::install_crypto();
        let policy = Arc::new(config.policy.clone());
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(5)))
            .user_agent(concat!("logbook-webhooks/", env!("CARGO_PKG_VERSION")))
            .dns_resolver(Arc::new(Guard(policy)))
            .build()
            .map_err(|e| ApiError::Internal(format!("the webhook client: {e}")))?;
        Ok(Self {
            client,
            config: Arc::new(config),
        })
    }

    /// Its settings.
    pub fn config(&self) -> &WebhookConfig {
        &self.config
    }

    /// Posts `body` to `url` as message `id`, signed with each of `secrets` (Standard
    /// Webhooks: the signatures space-separated in one header; a receiver accepts any it can
    /// check); what happened.
    pub async fn post(&self, url: &str, secrets: &[&str], id: &str, body: &[u8]) -> Outcome {
        let started = std::time::Instant::now();
        let ms = || started.elapsed().as_millis().min(i32::MAX as u128) as i32;
        let failed = |error: String, ms: i32| Outcome::Failed {
            response: None,
            error: Some(error),
            ms,
        };
        let url = match self.config.policy.check_url(url) {
            Ok((u, _)) => u,
            Err(e) => return failed(e.to_string(), 0),
        };
        let ts = chrono::Utc::now().timestamp();
        let signed: Result<Vec<String>, _> = secrets
            .iter()
            .map(|s| standardwebhooks::Webhook::new(s).and_then(|w| w.sign(id, ts, body)))
            .collect();
        let signature = match signed {
            Ok(s) => s.join(" "),
            Err(e) => return failed(format!("cannot sign: {e}"), 0),
        };
        let sent = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header(standardwebhooks::HEADER_WEBHOOK_ID, id)
            .header(standardwebhooks::HEADER_WEBHOOK_TIMESTAMP, ts.to_string())
            .header(standardwebhooks::HEADER_WEBHOOK_SIGNATURE, signature)
            .body(body.to_vec())
            .send()
            .await;
        match sent {
            // the body is not read: only the status matters
            Ok(r) if r.status().is_success() => Outcome::Delivered {
                response: i32::from(r.status().as_u16()),
                ms: ms(),
            },
            Ok(r) => Outcome::Failed {
                response: Some(i32::from(r.status().as_u16())),
                error: r
                    .status()
                    .is_redirection()
                    .then(|| "redirects are not followed".to_string()),
                ms: ms(),
            },
            Err(e) => failed(describe(&e), ms()),
        }
    }
}

/// A failed request, in a line (with its cause: a refused address, a timeout …).
fn describe(e: &reqwest::Error) -> String {
    let mut text = if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_connect() {
        "could not connect".to_string()
    } else {
        "request failed".to_string()
    };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text.chars().take(300).collect()
}

/// Deliveries claimed and sent at a time.
const PAGE: u64 = 64;

/// Fans new events out and sends a page of the deliveries now due, `concurrency` at a time;
/// returns how many were claimed.
pub async fn run_once(db: &DatabaseConnection, sender: &Sender) -> ApiResult<usize> {
    hooks::fan_out(db, 500).await?;
    let due = hooks::claim_due(db, PAGE).await?;
    hooks::deliver_all(db, sender, due).await
}

/// How often the worker removes events older than [`WebhookConfig::keep`].
pub const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Events removed by one statement of [`prune`].
const PRUNE_BATCH: u64 = 1_000;

/// Removes every event older than `keep` with its finished deliveries and their attempts, a
/// thousand at a time (each a short statement); returns how many events went.
pub async fn prune(db: &DatabaseConnection, keep: Duration) -> crate::error::ApiResult<u64> {
    let keep = chrono::Duration::from_std(keep).unwrap_or(chrono::Duration::MAX);
    let mut total = 0;
    loop {
        let n = hooks::prune(db, keep, PRUNE_BATCH).await?;
        total += n;
        if n < PRUNE_BATCH {
            break;
        }
    }
    if total > 0 {
        tracing::info!(
            events = total,
            "old webhook events removed with their deliveries"
        );
    }
    Ok(total)
}

/// The worker: [`run_once`] until nothing is due, then waits for a wake-up or `poll`; every
/// [`PRUNE_EVERY`] it [`prune`]s; stops when `stop` turns true (a delivery under way
/// finishes first).
pub async fn work(
    db: DatabaseConnection,
    sender: Sender,
    wake: Arc<tokio::sync::Notify>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let poll = sender.config.poll;
    let mut stoppable = true;
    let mut pruned: Option<std::time::Instant> = None;
    while !*stop.borrow() {
        if pruned.is_none_or(|t| t.elapsed() >= PRUNE_EVERY) {
            pruned = Some(std::time::Instant::now());
            if let Err(e) = prune(&db, sender.config.keep).await {
                tracing::error!(error = %e, "pruning webhook events");
            }
        }
        match run_once(&db, &sender).await {
            Ok(n) if n > 0 => continue,
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "webhook worker"),
        }
        tokio::select! {
            _ = tokio::time::timeout(poll, wake.notified()) => {}
            changed = stop.changed(), if stoppable => stoppable = changed.is_ok(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("an address")
    }

    #[test]
    fn only_internet_addresses_are_public() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "192.0.2.1",
            "198.18.0.1",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            "2001:db8::1",
        ] {
            assert!(!is_public(ip(private)), "{private}");
        }
        for public in [
            "1.1.1.1",
            "203.150.1.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(is_public(ip(public)), "{public}");
        }
    }

    #[test]
    fn the_default_policy_refuses_the_intranet_and_plain_http() {
        let p = Policy::default();
        let refused = |u: &str| p.check_url(u).is_err();
        assert!(refused("https://127.0.0.1/hook"));
        assert!(refused("https://[::1]:8443/hook"));
        assert!(refused("https://10.0.0.5/hook"));
        assert!(refused("https://169.254.169.254/latest/meta-data"));
        assert!(refused("https://localhost/hook"));
        assert!(refused("http://hooks.example.org/x"), "plain http");
        assert!(refused("ftp://hooks.example.org/x"));
        assert!(refused("https://user:pw@hooks.example.org/x"));
        assert!(refused(&format!("https://a.org/{}", "x".repeat(MAX_URL))));
        assert!(refused("not a url"));
        assert!(p.check_url("https://1.1.1.1/hook").is_ok());
        assert!(p.check_url("https://hooks.example.org/x").is_ok());
    }

    #[test]
    fn named_hosts_may_be_private_and_plain_http() {
        let p = Policy::parse(&["127.0.0.1, *.moph.go.th".into()]).expect("valid");
        assert!(p.check_url("http://127.0.0.1:9000/h").expect("named").1);
        assert!(p.check_url("http://hooks.moph.go.th/h").is_ok());
        // not public: nothing else
        assert!(p.check_url("https://hooks.example.org/h").is_err());
        assert!(p.check_url("http://127.0.0.2/h").is_err());
        let both = Policy::parse(&["public".into(), "[::1]".into()]).expect("valid");
        assert!(both.check_url("http://[::1]:9000/h").is_ok());
        assert!(both.check_url("https://hooks.example.org/h").is_ok());
        assert!(Policy::parse(&["a b".into()]).is_err());
        assert!(
            Policy::parse(&["none".into()])
                .expect("valid")
                .check_url("https://1.1.1.1/")
                .is_err()
        );
        assert_eq!(Policy::parse(&[]).expect("valid"), Policy::default());
    }

    #[test]
    fn retries_back_off_exponentially_up_to_an_hour() {
        let c = WebhookConfig::default();
        let w = |n| c.wait_after(n).as_secs_f64();
        assert!((10.0..=11.0).contains(&w(1)), "{}", w(1));
        assert!((20.0..=22.0).contains(&w(2)));
        assert!((80.0..=88.0).contains(&w(4)));
        assert!((3600.0..=3960.0).contains(&w(20)));
        assert!((3600.0..=3960.0).contains(&w(u32::MAX)));
    }
}
