//! TLS and proxies for outbound connections (README "Security"): an HTTPS receiver on 127.0.0.1
//! with a certificate made here (a test CA and a leaf for 127.0.0.1, by the openssl CLI) refuses
//! to be trusted by default and is trusted with `ca_file`; a CONNECT / forwarding proxy written
//! here sees the sink's and the AWS SDK's traffic when HTTPS_PROXY / HTTP_PROXY say so, and none
//! of it when NO_PROXY names the host.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn bin() -> String {
    common::memlimit::bin()
}

/// Runs egresswatch with no proxy variable inherited, then `env`.
fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(bin());
    c.args(args);
    for k in [
        "HTTPS_PROXY",
        "https_proxy",
        "HTTP_PROXY",
        "http_proxy",
        "ALL_PROXY",
        "all_proxy",
        "NO_PROXY",
        "no_proxy",
    ] {
        c.env_remove(k);
    }
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

struct Pki {
    ca: PathBuf,
    leaf: PathBuf,
    key: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl CLI");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA and a leaf certificate for 127.0.0.1 signed by it (webpki refuses a self-signed CA
/// certificate used as the server's own).
fn pki(dir: &Path) -> Pki {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut a = vec!["req", "-x509"];
    a.extend(ec);
    a.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=egresswatch test CA",
    ]);
    openssl(dir, &a);
    let mut a = vec!["req"];
    a.extend(ec);
    a.extend([
        "-keyout",
        "leaf.key",
        "-out",
        "leaf.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    openssl(dir, &a);
    std::fs::write(
        dir.join("leaf.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "leaf.pem",
            "-days",
            "2",
            "-extfile",
            "leaf.ext",
        ],
    );
    Pki {
        ca: dir.join("ca.pem"),
        leaf: dir.join("leaf.pem"),
        key: dir.join("leaf.key"),
    }
}

/// An HTTPS receiver answering every request `200 {}`; counts the requests it read.
struct Https {
    port: u16,
    requests: Arc<AtomicUsize>,
}

fn https_receiver(pki: &Pki) -> Https {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&pki.leaf)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(&pki.key).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = Arc::new(
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let requests = Arc::new(AtomicUsize::new(0));
    let count = requests.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(tcp) = stream else { continue };
            let cfg = cfg.clone();
            let count = count.clone();
            std::thread::spawn(move || {
                let _ = tcp.set_read_timeout(Some(Duration::from_secs(10)));
                let Ok(conn) = rustls::ServerConnection::new(cfg) else {
                    return;
                };
                let mut tls = BufReader::new(rustls::StreamOwned::new(conn, tcp));
                // Keep-alive: answer requests until the client closes (or the handshake fails,
                // which is the refused case).
                while let Some(len) = read_head(&mut tls) {
                    let mut body = vec![0; len];
                    if tls.read_exact(&mut body).is_err() {
                        return;
                    }
                    count.fetch_add(1, Ordering::SeqCst);
                    let w = tls.get_mut();
                    if w
                        .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: application/json\r\n\r\n{}")
                        .and_then(|_| w.flush())
                        .is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    Https { port, requests }
}

/// Reads a request head; returns its Content-Length.
fn read_head(r: &mut impl BufRead) -> Option<usize> {
    let mut len = 0;
    let mut first = true;
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).ok()? == 0 {
            return None;
        }
        let h = h.trim_end();
        if h.is_empty() {
            return if first { None } else { Some(len) };
        }
        first = false;
        if let Some((k, v)) = h.split_once(':') {
            if k.trim().eq_ignore_ascii_case("content-length") {
                len = v.trim().parse().ok()?;
            }
        }
    }
}

/// A proxy on 127.0.0.1: `CONNECT host:port` tunnels, absolute-form requests
/// (`GET http://host:port/path`) are forwarded; every first request line is recorded. It only
/// ever connects to 127.0.0.1.
struct Proxy {
    port: u16,
    seen: Arc<Mutex<Vec<String>>>,
}

fn proxy() -> Proxy {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(client) = stream else { continue };
            let log = log.clone();
            std::thread::spawn(move || {
                let _ = tunnel(client, &log);
            });
        }
    });
    Proxy { port, seen }
}

fn tunnel(client: TcpStream, log: &Mutex<Vec<String>>) -> std::io::Result<()> {
    let mut r = BufReader::new(client.try_clone()?);
    let mut line = String::new();
    r.read_line(&mut line)?;
    let line = line.trim_end().to_string();
    log.lock().unwrap().push(line.clone());
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let authority = if method == "CONNECT" {
        target.to_string()
    } else {
        let rest = target.strip_prefix("http://").unwrap_or(target);
        rest.split('/').next().unwrap_or("").to_string()
    };
    // Loopback only, whatever the request says.
    let port: u16 = authority
        .rsplit_once(':')
        .and_then(|(h, p)| (h == "127.0.0.1" || h == "localhost").then_some(p))
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("refused target {authority}")))?;
    let mut upstream = TcpStream::connect(("127.0.0.1", port))?;
    if method == "CONNECT" {
        // Skip the CONNECT request's headers.
        loop {
            let mut h = String::new();
            if r.read_line(&mut h)? == 0 || h.trim_end().is_empty() {
                break;
            }
        }
        (&client).write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")?;
    } else {
        // Forward the request line in origin form; the rest as it comes.
        let path = target
            .strip_prefix("http://")
            .and_then(|t| t.find('/').map(|i| &t[i..]))
            .unwrap_or("/");
        let version = parts.next().unwrap_or("HTTP/1.1");
        upstream.write_all(format!("{method} {path} {version}\r\n").as_bytes())?;
    }
    // Whatever the reader buffered past the head goes first.
    let buffered = r.buffer().to_vec();
    upstream.write_all(&buffered)?;
    let mut up_read = upstream.try_clone()?;
    let mut down = client.try_clone()?;
    let back = std::thread::spawn(move || {
        let _ = std::io::copy(&mut up_read, &mut down);
        let _ = down.shutdown(Shutdown::Write);
    });
    let mut from_client = r.into_inner();
    let _ = std::io::copy(&mut from_client, &mut upstream);
    let _ = upstream.shutdown(Shutdown::Write);
    let _ = back.join();
    Ok(())
}

fn write_route(dir: &Path, port: u16, ca_file: Option<&Path>) -> String {
    let path = dir.join("route.toml");
    let ca = ca_file
        .map(|p| format!("ca_file = \"{}\"\n", p.display()))
        .unwrap_or_default();
    std::fs::write(
        &path,
        format!(
            "[spool]\ndir = \"{}\"\nmax_size = \"64MiB\"\n\n[[sink]]\nname = \"hook\"\ntype = \"webhook\"\nurl = \"https://127.0.0.1:{port}/hook\"\ntimeout_secs = 5\n{ca}",
            dir.join(format!("spool-{}", ca_file.is_some())).display()
        ),
    )
    .unwrap();
    path.display().to_string()
}

fn demo(route: &str, timeout: &str, env: &[(&str, &str)]) -> Output {
    run(
        &[
            "demo",
            "--format",
            "jsonl",
            "-o",
            "/dev/null",
            "--route",
            route,
            "--deliver-timeout",
            timeout,
        ],
        env,
    )
}

#[test]
fn https_sinks_verify_certificates_and_trust_a_ca_file_and_honour_proxies() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path());
    let rx = https_receiver(&pki);

    // Default roots: the test CA is unknown, so the certificate is refused and nothing is sent.
    let route = write_route(dir.path(), rx.port, None);
    let out = demo(&route, "2s", &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "spooled is not a failure: {stderr}");
    assert_eq!(rx.requests.load(Ordering::SeqCst), 0, "{stderr}");
    eprintln!(
        "refused: {}",
        stderr
            .lines()
            .find(|l| l.contains("certificate"))
            .unwrap_or("")
    );
    assert!(
        stderr.contains("certificate") && stderr.contains("UnknownIssuer"),
        "a clear certificate error: {stderr}"
    );
    assert!(stderr.contains("stay spooled"), "{stderr}");

    // With the CA as ca_file every finding is delivered.
    let trusted = dir.path().join("trusted");
    std::fs::create_dir_all(&trusted).unwrap();
    let route = write_route(&trusted, rx.port, Some(&pki.ca));
    let out = demo(&route, "20s", &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let delivered = rx.requests.load(Ordering::SeqCst);
    assert_eq!(delivered, 18, "the demo's findings: {stderr}");

    // HTTPS_PROXY: the sink tunnels through the proxy (CONNECT to the receiver).
    let px = proxy();
    let proxy_url = format!("http://127.0.0.1:{}", px.port);
    let via = dir.path().join("via-proxy");
    std::fs::create_dir_all(&via).unwrap();
    let route = write_route(&via, rx.port, Some(&pki.ca));
    let out = demo(&route, "20s", &[("HTTPS_PROXY", &proxy_url)]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        rx.requests.load(Ordering::SeqCst),
        delivered + 18,
        "{stderr}"
    );
    let seen = px.seen.lock().unwrap().clone();
    eprintln!("proxy saw: {seen:?}");
    let connect = format!("CONNECT 127.0.0.1:{} ", rx.port);
    assert!(
        !seen.is_empty() && seen.iter().all(|l| l.starts_with(&connect)),
        "the proxy tunnelled the sink's connections: {seen:?}"
    );

    // NO_PROXY naming the host: straight to the receiver, the proxy sees nothing more.
    let before = seen.len();
    let direct = dir.path().join("no-proxy");
    std::fs::create_dir_all(&direct).unwrap();
    let route = write_route(&direct, rx.port, Some(&pki.ca));
    let out = demo(
        &route,
        "20s",
        &[("HTTPS_PROXY", &proxy_url), ("NO_PROXY", "127.0.0.1")],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        rx.requests.load(Ordering::SeqCst),
        delivered + 36,
        "{stderr}"
    );
    assert_eq!(px.seen.lock().unwrap().len(), before, "bypassed");
}

/// A raw HTTP/1.1 request to moto (unsigned requests are accepted); returns the status.
fn moto_request(url: &str, method: &str, path: &str) -> u16 {
    let addr = url.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    resp.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

#[test]
fn the_aws_sdk_goes_through_http_proxy_and_not_with_no_proxy() {
    let Some(moto) = common::moto::moto() else {
        return;
    };
    assert_eq!(moto_request(&moto.url, "PUT", "/trail"), 200);
    let px = proxy();
    let proxy_url = format!("http://127.0.0.1:{}", px.port);
    let root = env!("CARGO_MANIFEST_DIR");
    let flows = format!("{root}/samples/flowlogs");
    let inv = format!("{root}/samples/inventory");
    let args = [
        "scan",
        &flows,
        "--inventory",
        &inv,
        "--cloudtrail",
        "s3://trail/AWSLogs/",
        "--endpoint-url",
        &moto.url,
        "--aws-region",
        "us-east-1",
        "-o",
        "/dev/null",
    ];
    let creds = [
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ];
    let mut env = creds.to_vec();
    env.push(("HTTP_PROXY", &proxy_url));
    let out = run(&args, &env);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let moto_host = moto.url.trim_start_matches("http://").to_string();
    let seen = px.seen.lock().unwrap().clone();
    eprintln!("proxy saw: {seen:?}");
    assert!(
        seen.iter()
            .any(|l| l.contains(&moto_host) && l.contains("/trail")),
        "the S3 listing went through the proxy: {seen:?}"
    );

    let before = seen.len();
    env.push(("NO_PROXY", "127.0.0.1"));
    let out = run(&args, &env);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(px.seen.lock().unwrap().len(), before, "bypassed: {stderr}");
}
