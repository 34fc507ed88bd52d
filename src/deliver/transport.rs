//! Transports: how each kind of sink puts findings on the wire and reads the receiver's
//! confirmation. Formatting lives in `crate::sink::format`; this module owns I/O and triage.

use std::io::Write;
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::config::{read_secret, Payload, Secret, SinkConfig, SinkKind};
use super::engine::{Outcome, Transport};
use super::retry::parse_retry_after;
use super::spool::Entry;
use crate::detect::Finding;
use crate::sink::format::{self, ecs, hec, ocsf, syslog, Delivery, FormatContext};

fn activity(e: &Entry) -> ocsf::Activity {
    if e.activity == 2 {
        ocsf::Activity::Update
    } else {
        ocsf::Activity::Create
    }
}

/// Builds the transport a sink's configuration describes. Every reason it reports (logged,
/// and kept in `rejected.ndjson`) is scrubbed of the sink's secrets and of URL paths.
pub fn build(cfg: &SinkConfig, ctx: FormatContext) -> Result<Box<dyn Transport>, String> {
    let inner = build_inner(cfg, ctx).map_err(|e| crate::logging::redact_urls(&e))?;
    let mut secrets: Vec<String> = Vec::new();
    if let Ok(Some(t)) = read_secret(cfg.token_env.as_deref(), cfg.token_file.as_deref(), "token") {
        secrets.push(t.expose().to_string());
    }
    if let Ok(Some(u)) = read_secret(cfg.url_env.as_deref(), cfg.url_file.as_deref(), "url") {
        let u = u.expose().trim_end_matches('/');
        secrets.push(u.to_string());
        // The path alone (a receiver may echo the request path it refused).
        if let Some(i) = u
            .find("://")
            .and_then(|i| u[i + 3..].find('/').map(|j| i + 3 + j))
        {
            secrets.push(u[i..].to_string());
        }
    }
    if cfg.kind == SinkKind::Securityhub {
        for k in ["AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"] {
            if let Ok(v) = std::env::var(k) {
                secrets.push(v);
            }
        }
    }
    // Short values would scrub ordinary words; real tokens are long.
    secrets.retain(|s| s.len() >= 8);
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    Ok(Box::new(Scrubbed { inner, secrets }))
}

/// A transport whose outcome reasons never carry a secret: receivers and HTTP libraries may
/// repeat the URL (a webhook's token is its path) or echo a token in an error body.
struct Scrubbed {
    inner: Box<dyn Transport>,
    secrets: Vec<String>,
}

impl Scrubbed {
    fn scrub(&self, text: &str) -> String {
        let mut t = text.to_string();
        for s in &self.secrets {
            t = t.replace(s.as_str(), "***");
        }
        crate::logging::redact_urls(&t)
    }
}

impl Transport for Scrubbed {
    fn max_batch(&self) -> usize {
        self.inner.max_batch()
    }

    fn send(&mut self, batch: &[Entry]) -> Vec<Outcome> {
        let mut out = self.inner.send(batch);
        for o in &mut out {
            match o {
                Outcome::Accepted => {}
                Outcome::Retry { reason, .. } => *reason = self.scrub(reason),
                Outcome::Reject(r) | Outcome::Halt(r) => *r = self.scrub(r),
            }
        }
        out
    }
}

fn build_inner(cfg: &SinkConfig, ctx: FormatContext) -> Result<Box<dyn Transport>, String> {
    let secret =
        |what: &str| read_secret(cfg.token_env.as_deref(), cfg.token_file.as_deref(), what);
    let url = || -> Result<String, String> {
        if let Some(u) = &cfg.url {
            return Ok(u.trim_end_matches('/').to_string());
        }
        match read_secret(cfg.url_env.as_deref(), cfg.url_file.as_deref(), "url")? {
            Some(s) => Ok(s.expose().trim_end_matches('/').to_string()),
            None => Err("no url".into()),
        }
    };
    let timeout = Duration::from_secs(cfg.timeout_secs.max(1));
    Ok(match cfg.kind {
        SinkKind::File => Box::new(FileSink {
            path: cfg.path.clone().ok_or("file sink needs path")?,
            payload: cfg.payload,
            ctx,
        }),
        SinkKind::Hec => Box::new(HecSink {
            http: Http::new(timeout, cfg.ca_file.as_deref())?,
            url: url()?,
            token: secret("HEC token")?.ok_or("HEC needs token_env or token_file")?,
            opts: hec::HecOptions {
                index: cfg.index.clone(),
                sourcetype: cfg.sourcetype.clone(),
                payload: hec::EventPayload::Finding,
            },
            ack: cfg.ack,
            channel: channel_id(&cfg.name),
            batch: cfg.batch_size.unwrap_or(100),
            ctx,
        }),
        SinkKind::Elastic => Box::new(ElasticSink {
            http: Http::new(timeout, cfg.ca_file.as_deref())?,
            url: url()?,
            token: secret("Elastic API key")?,
            index: cfg
                .index
                .clone()
                .unwrap_or_else(|| "egresswatch-findings".into()),
            batch: cfg.batch_size.unwrap_or(200),
            ctx,
        }),
        SinkKind::Webhook | SinkKind::Slack => Box::new(WebhookSink {
            http: Http::new(timeout, cfg.ca_file.as_deref())?,
            url: url()?,
            token: secret("webhook token")?,
            slack: cfg.kind == SinkKind::Slack,
        }),
        SinkKind::Securityhub => {
            let region = cfg.region.clone().ok_or("securityhub needs region")?;
            let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
            let (Some(access_key), Some(secret_key)) =
                (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY"))
            else {
                return Err("securityhub needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment".into());
            };
            let mut ctx = ctx.with_region(region.clone());
            if let Some(a) = &cfg.account_id {
                ctx = ctx.with_account(a.clone());
            }
            Box::new(SecurityHubSink {
                http: Http::new(timeout, cfg.ca_file.as_deref())?,
                endpoint: cfg
                    .url
                    .clone()
                    .map(|u| u.trim_end_matches('/').to_string())
                    .unwrap_or_else(|| format!("https://securityhub.{region}.amazonaws.com")),
                region,
                creds: sigv4::Credentials {
                    access_key,
                    secret_key,
                    session_token: env("AWS_SESSION_TOKEN"),
                },
                ctx,
            })
        }
        SinkKind::Syslog => Box::new(SyslogSink {
            address: cfg.address.clone().ok_or("syslog needs address")?,
            tls: if cfg.tls {
                Some(tls_config(cfg.ca_file.as_deref())?)
            } else {
                None
            },
            server_name: cfg.server_name.clone(),
            opts: syslog::SyslogOptions {
                payload: if cfg.payload == Payload::Cef {
                    syslog::Payload::Cef
                } else {
                    syslog::Payload::Json
                },
                ..Default::default()
            },
            timeout,
            conn: None,
            ctx,
        }),
    })
}

fn channel_id(name: &str) -> String {
    // A stable per-sink channel GUID (HEC wants a GUID; any stable one works).
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(format!("egresswatch/hec-channel/{name}"));
    let h: String = d[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// A minimal HTTP client: status, Retry-After and body, with connection errors surfaced.
struct Http {
    agent: ureq::Agent,
}

struct Reply {
    status: u16,
    retry_after: Option<Duration>,
    body: Vec<u8>,
}

impl Http {
    /// Certificates are always verified: against `ca_file` (PEM, replacing the built-in roots,
    /// as for syslog) when given, else the Mozilla roots of `webpki-roots`. There is no
    /// switch to turn verification off. Proxies come from the environment (`ALL_PROXY`,
    /// `HTTPS_PROXY`, `HTTP_PROXY`, with `NO_PROXY` exceptions; ureq's `Proxy::try_from_env`).
    fn new(timeout: Duration, ca_file: Option<&std::path::Path>) -> Result<Http, String> {
        let mut config = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false);
        if let Some(path) = ca_file {
            let roots = http_roots(path)?;
            config = config.tls_config(ureq::tls::TlsConfig::builder().root_certs(roots).build());
        }
        let agent: ureq::Agent = config.build().into();
        Ok(Http { agent })
    }

    fn post(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        content_type: &str,
        body: Vec<u8>,
    ) -> Result<Reply, String> {
        let mut req = self.agent.post(url).header("Content-Type", content_type);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        // ureq's errors may repeat the URL, whose path can be a secret (webhooks, Slack).
        let mut resp = req
            .send(&body[..])
            .map_err(|e| crate::logging::redact_urls(&e.to_string()))?;
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let body = resp
            .body_mut()
            .with_config()
            .limit(16 * 1024 * 1024)
            .read_to_vec()
            .map_err(|e| e.to_string())?;
        Ok(Reply {
            status,
            retry_after,
            body,
        })
    }
}

/// The trust roots of an HTTPS sink's `ca_file`: every certificate of the PEM bundle.
fn http_roots(path: &std::path::Path) -> Result<ureq::tls::RootCerts, String> {
    use ureq::tls::PemItem;
    let pem = std::fs::read(path).map_err(|e| format!("ca_file {}: {e}", path.display()))?;
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(&pem) {
        // Keys or CRLs beside the certificates are not roots.
        if let PemItem::Certificate(c) =
            item.map_err(|e| format!("ca_file {}: {e}", path.display()))?
        {
            certs.push(c);
        }
    }
    if certs.is_empty() {
        return Err(format!("ca_file {}: no certificate", path.display()));
    }
    Ok(ureq::tls::RootCerts::new_with_certs(&certs))
}

/// Maps a whole-request HTTP result to one outcome for every entry.
fn whole(n: usize, reply: Result<&Reply, &str>) -> Vec<Outcome> {
    let o = match reply {
        Err(e) => Outcome::Retry {
            reason: format!("request failed: {e}"),
            after: None,
        },
        Ok(r) => match format::classify_http_status(r.status) {
            Delivery::Ok => Outcome::Accepted,
            Delivery::Retryable => Outcome::Retry {
                reason: format!("HTTP {}", r.status),
                after: r.retry_after,
            },
            Delivery::Permanent if matches!(r.status, 401 | 403 | 404 | 405) => {
                Outcome::Halt(format!(
                    "HTTP {}: check the sink's url and credentials ({})",
                    r.status,
                    String::from_utf8_lossy(&r.body)
                        .chars()
                        .take(200)
                        .collect::<String>()
                ))
            }
            Delivery::Permanent => Outcome::Reject(format!(
                "HTTP {}: {}",
                r.status,
                String::from_utf8_lossy(&r.body)
                    .chars()
                    .take(200)
                    .collect::<String>()
            )),
        },
    };
    vec![o; n]
}

struct FileSink {
    path: std::path::PathBuf,
    payload: Payload,
    ctx: FormatContext,
}

impl Transport for FileSink {
    fn max_batch(&self) -> usize {
        1000
    }

    fn send(&mut self, batch: &[Entry]) -> Vec<Outcome> {
        let mut buf = Vec::new();
        for e in batch {
            let line = match self.payload {
                Payload::Ocsf => ocsf::to_json(&e.finding, &self.ctx, activity(e)),
                Payload::Cef => syslog::cef(&e.finding, &self.ctx),
                Payload::Json => serde_json::to_string(&e.finding).unwrap_or_default(),
            };
            buf.extend_from_slice(line.as_bytes());
            buf.push(b'\n');
        }
        let result = (|| -> std::io::Result<()> {
            if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)?;
            }
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)?;
            let len = f.metadata()?.len();
            let r = f.write_all(&buf).and_then(|()| f.sync_data());
            if r.is_err() {
                // A write that stopped half-way (disk full, file too large) is cut back to the
                // last whole line: the batch stays spooled and is written again whole, so the
                // file never holds a torn line glued to the retry's first record.
                let _ = f.set_len(len).and_then(|()| f.sync_data());
            }
            r
        })();
        match result {
            Ok(()) => vec![Outcome::Accepted; batch.len()],
            Err(e) => vec![
                Outcome::Retry {
                    reason: format!("{}: {e}", self.path.display()),
                    after: None
                };
                batch.len()
            ],
        }
    }
}

struct HecSink {
    http: Http,
    url: String,
    token: Secret,
    opts: hec::HecOptions,
    ack: bool,
    channel: String,
    batch: usize,
    ctx: FormatContext,
}

impl HecSink {
    fn post_events(&self, findings: &[Finding]) -> Result<Reply, String> {
        let body = hec::batch(findings, &self.ctx, &self.opts).into_bytes();
        let auth = format!("Splunk {}", self.token.expose());
        self.http.post(
            &format!("{}/services/collector/event", self.url),
            &[
                ("Authorization", &auth),
                ("X-Splunk-Request-Channel", &self.channel),
            ],
            "application/json",
            body,
        )
    }

    /// Polls the indexer acknowledgement until the request is indexed or the wait expires.
    fn wait_ack(&self, ack_id: u64) -> Result<bool, String> {
        let auth = format!("Splunk {}", self.token.expose());
        let started = Instant::now();
        let mut wait = Duration::from_millis(50);
        while started.elapsed() < Duration::from_secs(30) {
            let r = self.http.post(
                &format!("{}/services/collector/ack", self.url),
                &[
                    ("Authorization", &auth),
                    ("X-Splunk-Request-Channel", &self.channel),
                ],
                "application/json",
                hec::ack_request(&[ack_id]).into_bytes(),
            )?;
            if r.status == 200 {
                if let Ok(acks) = hec::parse_ack_response(&r.body) {
                    if acks.get(&ack_id) == Some(&true) {
                        return Ok(true);
                    }
                }
            } else if format::classify_http_status(r.status) == Delivery::Permanent {
                return Err(format!("ack query: HTTP {}", r.status));
            }
            std::thread::sleep(wait);
            wait = (wait * 2).min(Duration::from_secs(2));
        }
        Ok(false)
    }

    fn send_findings(&self, findings: &[Finding]) -> Vec<Outcome> {
        let n = findings.len();
        let reply = match self.post_events(findings) {
            Ok(r) => r,
            Err(e) => return whole(n, Err(&e)),
        };
        let parsed = hec::parse_response(&reply.body).ok();
        match hec::classify(reply.status, parsed.as_ref().map(|p| p.code)) {
            Delivery::Ok => {
                if !self.ack {
                    return vec![Outcome::Accepted; n];
                }
                match parsed.and_then(|p| p.ack_id) {
                    None => vec![Outcome::Halt("indexer acknowledgement is on but HEC returned no ackId: enable it on the token or set ack = false".into()); n],
                    Some(id) => match self.wait_ack(id) {
                        Ok(true) => vec![Outcome::Accepted; n],
                        Ok(false) => vec![Outcome::Retry { reason: format!("ackId {id} not indexed within 30s"), after: None }; n],
                        Err(e) => vec![Outcome::Retry { reason: e, after: None }; n],
                    },
                }
            }
            Delivery::Retryable => vec![
                Outcome::Retry {
                    reason: format!(
                        "HEC HTTP {} code {:?}",
                        reply.status,
                        parsed.map(|p| p.code)
                    ),
                    after: reply.retry_after
                };
                n
            ],
            Delivery::Permanent => {
                let code = parsed.as_ref().map(|p| p.code);
                // Token, index or channel problems halt the sink; a bad event is isolated by
                // re-sending the batch one event at a time.
                if matches!(reply.status, 401 | 403) || matches!(code, Some(1..=4 | 7 | 10 | 11)) {
                    vec![
                        Outcome::Halt(format!(
                            "HEC HTTP {} code {code:?}: check token, index and channel settings",
                            reply.status
                        ));
                        n
                    ]
                } else if n > 1 {
                    findings
                        .iter()
                        .flat_map(|f| self.send_findings(std::slice::from_ref(f)))
                        .collect()
                } else {
                    vec![
                        Outcome::Reject(format!(
                            "HEC HTTP {} code {code:?}: {}",
                            reply.status,
                            String::from_utf8_lossy(&reply.body)
                        ));
                        n
                    ]
                }
            }
        }
    }
}

impl Transport for HecSink {
    fn max_batch(&self) -> usize {
        self.batch
    }

    fn send(&mut self, batch: &[Entry]) -> Vec<Outcome> {
        let findings: Vec<Finding> = batch.iter().map(|e| e.finding.clone()).collect();
        self.send_findings(&findings)
    }
}

struct ElasticSink {
    http: Http,
    url: String,
    token: Option<Secret>,
    index: String,
    batch: usize,
    ctx: FormatContext,
}

impl Transport for ElasticSink {
    fn max_batch(&self) -> usize {
        self.batch
    }

    fn send(&mut self, batch: &[Entry]) -> Vec<Outcome> {
        let findings: Vec<Finding> = batch.iter().map(|e| e.finding.clone()).collect();
        let body =
            ecs::bulk_body(&findings, &self.index, ecs::BulkAction::Index, &self.ctx).into_bytes();
        let auth = self
            .token
            .as_ref()
            .map(|t| format!("ApiKey {}", t.expose()));
        let headers: Vec<(&str, &str)> =
            auth.iter().map(|a| ("Authorization", a.as_str())).collect();
        let reply = match self.http.post(
            &format!("{}/_bulk", self.url),
            &headers,
            "application/x-ndjson",
            body,
        ) {
            Ok(r) => r,
            Err(e) => return whole(batch.len(), Err(&e)),
        };
        if reply.status != 200 {
            return whole(batch.len(), Ok(&reply));
        }
        let items = match ecs::parse_bulk_response(&reply.body) {
            Ok(items) if items.len() == batch.len() => items,
            Ok(items) => {
                return whole(
                    batch.len(),
                    Err(&format!(
                        "bulk response has {} items for {} documents",
                        items.len(),
                        batch.len()
                    )),
                )
            }
            Err(e) => return whole(batch.len(), Err(&e.to_string())),
        };
        items
            .into_iter()
            .map(|it| match it.outcome {
                Delivery::Ok => Outcome::Accepted,
                Delivery::Retryable => Outcome::Retry {
                    reason: format!(
                        "bulk item {}: {}",
                        it.status,
                        it.error_type.unwrap_or_default()
                    ),
                    after: reply.retry_after,
                },
                Delivery::Permanent => Outcome::Reject(format!(
                    "bulk item {}: {} {}",
                    it.status,
                    it.error_type.unwrap_or_default(),
                    it.reason.unwrap_or_default()
                )),
            })
            .collect()
    }
}

struct WebhookSink {
    http: Http,
    url: String,
    token: Option<Secret>,
    slack: bool,
}

impl Transport for WebhookSink {
    fn max_batch(&self) -> usize {
        1
    }

    fn send(&mut self, batch: &[Entry]) -> Vec<Outcome> {
        batch
            .iter()
            .map(|e| {
                let body = if self.slack {
                    format::slack::slack_body(&e.finding)
                } else {
                    serde_json::to_string(&e.finding).unwrap_or_default()
                };
                let auth = self
                    .token
                    .as_ref()
                    .map(|t| format!("Bearer {}", t.expose()));
                let headers: Vec<(&str, &str)> =
                    auth.iter().map(|a| ("Authorization", a.as_str())).collect();
                let r = self
                    .http
                    .post(&self.url, &headers, "application/json", body.into_bytes());
                let mut o = match &r {
                    Ok(reply) => whole(1, Ok(reply)),
                    Err(err) => whole(1, Err(err)),
                };
                o.pop().unwrap_or(Outcome::Retry {
                    reason: "no outcome".into(),
                    after: None,
                })
            })
            .collect()
    }
}

enum Conn {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Conn {
    fn write_all_flush(&mut self, buf: &[u8]) -> std::io::Result<()> {
        match self {
            Conn::Plain(s) => {
                s.write_all(buf)?;
                s.flush()
            }
            Conn::Tls(s) => {
                s.write_all(buf)?;
                s.flush()
            }
        }
    }
}

fn tls_config(ca_file: Option<&std::path::Path>) -> Result<Arc<rustls::ClientConfig>, String> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::CertificateDer;
    let mut roots = rustls::RootCertStore::empty();
    match ca_file {
        Some(path) => {
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
                .map_err(|e| format!("ca_file {}: {e}", path.display()))?
                .collect::<Result<_, _>>()
                .map_err(|e| format!("ca_file {}: {e}", path.display()))?;
            if certs.is_empty() {
                return Err(format!("ca_file {}: no certificate", path.display()));
            }
            for c in certs {
                roots
                    .add(c)
                    .map_err(|e| format!("ca_file {}: {e}", path.display()))?;
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(cfg))
}

struct SyslogSink {
    address: String,
    tls: Option<Arc<rustls::ClientConfig>>,
    server_name: Option<String>,
    opts: syslog::SyslogOptions,
    timeout: Duration,
    conn: Option<Conn>,
    ctx: FormatContext,
}

impl SyslogSink {
    fn connect(&self) -> Result<Conn, String> {
        use std::net::ToSocketAddrs;
        let addr = self
            .address
            .to_socket_addrs()
            .map_err(|e| format!("{}: {e}", self.address))?
            .next()
            .ok_or_else(|| format!("{}: no address", self.address))?;
        let tcp = TcpStream::connect_timeout(&addr, self.timeout)
            .map_err(|e| format!("{}: {e}", self.address))?;
        let _ = tcp.set_write_timeout(Some(self.timeout));
        let _ = tcp.set_nodelay(true);
        match &self.tls {
            None => Ok(Conn::Plain(tcp)),
            Some(cfg) => {
                let host = self.server_name.clone().unwrap_or_else(|| {
                    self.address
                        .rsplit_once(':')
                        .map_or(self.address.clone(), |(h, _)| h.to_string())
                });
                let name = rustls_pki_types::ServerName::try_from(host.clone())
                    .map_err(|e| format!("TLS server name {host}: {e}"))?;
                let conn =
                    rustls::ClientConnection::new(cfg.clone(), name).map_err(|e| e.to_string())?;
                let mut stream = rustls::StreamOwned::new(conn, tcp);
                // Complete the handshake now so certificate errors surface as such.
                while stream.conn.is_handshaking() {
                    stream
                        .conn
                        .complete_io(&mut stream.sock)
                        .map_err(|e| format!("TLS handshake with {}: {e}", self.address))?;
                }
                Ok(Conn::Tls(Box::new(stream)))
            }
        }
    }
}

impl Drop for SyslogSink {
    fn drop(&mut self) {
        // End TLS sessions with close_notify so the receiver does not log a truncated stream.
        if let Some(Conn::Tls(s)) = self.conn.as_mut() {
            s.conn.send_close_notify();
            let _ = s.flush();
        }
    }
}

impl Transport for SyslogSink {
    fn max_batch(&self) -> usize {
        200
    }

    fn send(&mut self, batch: &[Entry]) -> Vec<Outcome> {
        let mut buf = String::new();
        for e in batch {
            buf.push_str(&syslog::framed(&e.finding, &self.ctx, &self.opts));
        }
        if self.conn.is_none() {
            match self.connect() {
                Ok(c) => self.conn = Some(c),
                Err(e) => {
                    let halt = e.contains("certificate") || e.contains("InvalidCertificate");
                    let o = if halt {
                        Outcome::Halt(e)
                    } else {
                        Outcome::Retry {
                            reason: e,
                            after: None,
                        }
                    };
                    return vec![o; batch.len()];
                }
            }
        }
        let result = match self.conn.as_mut() {
            Some(c) => c.write_all_flush(buf.as_bytes()),
            None => Err(std::io::Error::other("not connected")),
        };
        match result {
            Ok(()) => vec![Outcome::Accepted; batch.len()],
            Err(e) => {
                // The connection is gone: reconnect next time and send the batch again.
                self.conn = None;
                vec![
                    Outcome::Retry {
                        reason: format!("syslog write to {}: {e}", self.address),
                        after: None
                    };
                    batch.len()
                ]
            }
        }
    }
}

/// AWS Signature Version 4 through `aws-sigv4`, the signer the AWS SDKs use: the EC2 and
/// SageMaker calls of `inventory collect` and the Security Hub sink are plain HTTP requests (no
/// SDK client for those services is linked), so they only borrow the SDK's signer.
pub mod sigv4 {
    use std::time::SystemTime;

    use aws_sigv4::http_request::{self, SignableBody, SignableRequest, SigningSettings};
    use aws_sigv4::sign::v4;

    pub struct Credentials {
        pub access_key: String,
        pub secret_key: String,
        pub session_token: Option<String>,
    }

    /// The request could not be signed (a URL or header value SigV4 cannot canonicalise).
    #[derive(Debug, thiserror::Error)]
    #[error("SigV4 signing: {0}")]
    pub struct SignError(String);

    /// Headers to add (`x-amz-date`, `x-amz-security-token` with a session token,
    /// `authorization`) to `method url` sent with `headers` and `body`. Every header in `headers`
    /// except the ones proxies rewrite (user-agent and the like) is signed, so all of them must be
    /// sent unchanged; `host` is taken from `url` (with its port, as HTTP clients send it).
    #[allow(clippy::too_many_arguments)] // one per SigV4 input; a struct would only rename them
    pub fn sign_request(
        creds: &Credentials,
        region: &str,
        service: &str,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        time: SystemTime,
    ) -> Result<Vec<(String, String)>, SignError> {
        let identity = aws_credential_types::Credentials::new(
            creds.access_key.clone(),
            creds.secret_key.clone(),
            creds.session_token.clone(),
            None,
            "egresswatch",
        )
        .into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(region)
            .name(service)
            .time(time)
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| SignError(e.to_string()))?
            .into();
        let request = SignableRequest::new(
            method,
            url,
            headers.iter().copied(),
            SignableBody::Bytes(body),
        )
        .map_err(|e| SignError(e.to_string()))?;
        let (instructions, _signature) = http_request::sign(request, &params)
            .map_err(|e| SignError(e.to_string()))?
            .into_parts();
        Ok(instructions
            .headers()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect())
    }

    /// [`sign_request`] for a POST of `body` with `content_type` and the `extra` headers (such as
    /// `x-amz-target`), which must be sent as given.
    #[allow(clippy::too_many_arguments)]
    pub fn sign_post(
        creds: &Credentials,
        region: &str,
        service: &str,
        url: &str,
        content_type: &str,
        body: &[u8],
        time: SystemTime,
        extra: &[(&str, &str)],
    ) -> Result<Vec<(String, String)>, SignError> {
        let mut headers = Vec::with_capacity(extra.len() + 1);
        headers.push(("content-type", content_type));
        headers.extend_from_slice(extra);
        sign_request(creds, region, service, "POST", url, &headers, body, time)
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use std::time::{Duration, UNIX_EPOCH};

        fn at(unix: u64) -> SystemTime {
            UNIX_EPOCH + Duration::from_secs(unix)
        }

        fn auth(h: &[(String, String)]) -> &str {
            &h.iter()
                .find(|(k, _)| k == "authorization")
                .expect("authorization header")
                .1
        }

        #[test]
        fn matches_the_aws_documentation_signing_key_example() {
            // Signing key derivation from the AWS SigV4 documentation example
            // (secret wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY, 20120215, us-east-1, iam).
            let k = v4::generate_signing_key(
                "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                at(1_329_264_000), // 2012-02-15T00:00:00Z
                "us-east-1",
                "iam",
            );
            let hex: String = k.as_ref().iter().map(|b| format!("{b:02x}")).collect();
            assert_eq!(
                hex,
                "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
            );
        }

        #[test]
        fn signs_the_aws_documentation_request_example() {
            // The documentation's worked example: IAM ListUsers, 2015-08-30T12:36:00Z.
            let creds = Credentials {
                access_key: "AKIDEXAMPLE".into(),
                secret_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
                session_token: None,
            };
            let h = sign_request(
                &creds,
                "us-east-1",
                "iam",
                "GET",
                "https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08",
                &[(
                    "content-type",
                    "application/x-www-form-urlencoded; charset=utf-8",
                )],
                b"",
                at(1_440_938_160),
            )
            .unwrap();
            assert_eq!(
                auth(&h),
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, \
                 SignedHeaders=content-type;host;x-amz-date, \
                 Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
            );
            assert!(h
                .iter()
                .any(|(k, v)| k == "x-amz-date" && v == "20150830T123600Z"));
        }

        // The two requests below were signed independently with botocore's SigV4Auth (the
        // Python SDK's signer) at 2026-11-22T14:00:00Z: a Security Hub import with a session
        // token, and a SageMaker JSON call with x-amz-target to a local port, as collect sends.
        #[test]
        fn security_hub_post_with_session_token_matches_botocore() {
            let creds = Credentials {
                access_key: "AKIDEXAMPLE".into(),
                secret_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
                session_token: Some("session-token-example".into()),
            };
            let h = sign_post(
                &creds,
                "eu-west-1",
                "securityhub",
                "https://securityhub.eu-west-1.amazonaws.com/findings/import",
                "application/json",
                br#"{"Findings":[]}"#,
                at(1_795_356_000),
                &[],
            )
            .unwrap();
            assert_eq!(
                auth(&h),
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261122/eu-west-1/securityhub/aws4_request, \
                 SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, \
                 Signature=ff0a039b2b4bbf68e4f00dc4f9b815a71ab62acd09350e035cd0a4d3598a164f"
            );
            assert!(h
                .iter()
                .any(|(k, v)| k == "x-amz-security-token" && v == "session-token-example"));
        }

        #[test]
        fn sagemaker_json_call_to_a_local_port_matches_botocore() {
            let creds = Credentials {
                access_key: "testing".into(),
                secret_key: "testing".into(),
                session_token: None,
            };
            let h = sign_post(
                &creds,
                "us-east-1",
                "sagemaker",
                "http://127.0.0.1:5000/",
                "application/x-amz-json-1.1",
                br#"{"MaxResults":100}"#,
                at(1_795_356_000),
                &[("x-amz-target", "SageMaker.ListTrainingJobs")],
            )
            .unwrap();
            assert_eq!(
                auth(&h),
                "AWS4-HMAC-SHA256 Credential=testing/20261122/us-east-1/sagemaker/aws4_request, \
                 SignedHeaders=content-type;host;x-amz-date;x-amz-target, \
                 Signature=dd8a4ffe295e0c712dad02a9affa3032bfab62c8163f76917a688831cc1ce301"
            );
        }

        #[test]
        fn unsignable_url_is_an_error_not_a_panic() {
            let creds = Credentials {
                access_key: "a".into(),
                secret_key: "b".into(),
                session_token: None,
            };
            let r = sign_post(
                &creds,
                "us-east-1",
                "ec2",
                "not a url",
                "text/plain",
                b"",
                at(0),
                &[],
            );
            assert!(r.is_err());
        }
    }
}

struct SecurityHubSink {
    http: Http,
    endpoint: String,
    region: String,
    creds: sigv4::Credentials,
    ctx: FormatContext,
}

impl Transport for SecurityHubSink {
    fn max_batch(&self) -> usize {
        format::asff::MAX_BATCH
    }

    fn send(&mut self, batch: &[Entry]) -> Vec<Outcome> {
        let findings: Vec<Finding> = batch.iter().map(|e| e.finding.clone()).collect();
        // UpdatedAt must advance on every re-send.
        let mut ctx = self.ctx.clone();
        ctx.now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(ctx.now_ms, |d| d.as_millis() as i64);
        let bodies = match format::asff::batch_import_bodies(&findings, &ctx) {
            Ok(b) => b,
            Err(e) => {
                return vec![
                    Outcome::Halt(format!(
                        "ASFF: {e} (set region and account_id on the sink)"
                    ));
                    batch.len()
                ]
            }
        };
        let Some(body) = bodies.into_iter().next() else {
            return Vec::new();
        };
        let url = format!("{}/findings/import", self.endpoint);
        let now =
            std::time::UNIX_EPOCH + std::time::Duration::from_millis(ctx.now_ms.max(0) as u64);
        let signed = match sigv4::sign_post(
            &self.creds,
            &self.region,
            "securityhub",
            &url,
            "application/json",
            body.as_bytes(),
            now,
            &[],
        ) {
            Ok(s) => s,
            // Only a malformed endpoint URL fails to sign; re-sending cannot fix that.
            Err(e) => return vec![Outcome::Halt(format!("{e} ({url})")); batch.len()],
        };
        let headers: Vec<(&str, &str)> = signed
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let reply = match self
            .http
            .post(&url, &headers, "application/json", body.into_bytes())
        {
            Ok(r) => r,
            Err(e) => return whole(batch.len(), Err(&e)),
        };
        if reply.status != 200 {
            return whole(batch.len(), Ok(&reply));
        }
        let resp = match format::asff::parse_batch_import_response(&reply.body) {
            Ok(r) => r,
            Err(e) => return whole(batch.len(), Err(&e.to_string())),
        };
        batch
            .iter()
            .map(
                |e| match resp.failed_findings.iter().find(|ff| ff.id == e.finding.id) {
                    None => Outcome::Accepted,
                    Some(ff) => match ff.delivery() {
                        Delivery::Retryable => Outcome::Retry {
                            reason: format!("{}: {}", ff.error_code, ff.error_message),
                            after: None,
                        },
                        _ => Outcome::Reject(format!("{}: {}", ff.error_code, ff.error_message)),
                    },
                },
            )
            .collect()
    }
}
