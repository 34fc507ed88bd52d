//! Syslog delivery into a real rsyslog (Debian's package, started here on 127.0.0.1): RFC 5424
//! with octet-counting framing over plain TCP and over TLS (a CA made in the test), CEF and JSON
//! payloads, and the CEF escaping of `|`, `\` and `=` as it lands in rsyslog's output file.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

fn rsyslogd() -> Option<PathBuf> {
    ["/usr/sbin/rsyslogd", "/sbin/rsyslogd"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// rsyslog is installed by scripts/test.sh; CI must have it, a developer machine may not.
fn require_rsyslog() -> Option<PathBuf> {
    match rsyslogd() {
        Some(p) => Some(p),
        None if std::env::var_os("CI").is_some() => {
            panic!("rsyslogd is not installed (scripts/test.sh installs it)")
        }
        None => {
            eprintln!("note: rsyslogd not installed; run scripts/test.sh to install it. Skipping.");
            None
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Rsyslog {
    child: Child,
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        // Stop only the process this test started.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_rsyslog(bin: &Path, dir: &Path, port: u16, tls: bool) -> Rsyslog {
    std::fs::create_dir_all(dir.join("work")).unwrap();
    let d = dir.display();
    let (global_tls, module) = if tls {
        (
            format!(
                " DefaultNetstreamDriver=\"ossl\" DefaultNetstreamDriverCAFile=\"{d}/ca.pem\" DefaultNetstreamDriverCertFile=\"{d}/server.pem\" DefaultNetstreamDriverKeyFile=\"{d}/server.key\""
            ),
            "module(load=\"imtcp\" StreamDriver.Name=\"ossl\" StreamDriver.Mode=\"1\" StreamDriver.AuthMode=\"anon\")".to_string(),
        )
    } else {
        (String::new(), "module(load=\"imtcp\")".to_string())
    };
    let conf = format!(
        r#"global(workDirectory="{d}/work"{global_tls})
{module}
input(type="imtcp" address="127.0.0.1" port="{port}" ruleset="test")
template(name="jsonl" type="list" option.jsonf="on") {{
  property(outname="pri" name="pri" format="jsonf")
  property(outname="hostname" name="hostname" format="jsonf")
  property(outname="app" name="app-name" format="jsonf")
  property(outname="msgid" name="msgid" format="jsonf")
  property(outname="sd" name="structured-data" format="jsonf")
  property(outname="msg" name="msg" format="jsonf")
}}
ruleset(name="test") {{
  action(type="omfile" file="{d}/out.jsonl" template="jsonl")
}}
"#
    );
    std::fs::write(dir.join("rsyslog.conf"), conf).unwrap();
    let child = Command::new(bin)
        .args(["-n", "-f"])
        .arg(dir.join("rsyslog.conf"))
        .arg("-i")
        .arg(dir.join("rsyslogd.pid"))
        .stdout(std::fs::File::create(dir.join("rsyslogd.out")).unwrap())
        .stderr(std::fs::File::create(dir.join("rsyslogd.err")).unwrap())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "rsyslogd did not listen: {}",
            std::fs::read_to_string(dir.join("rsyslogd.err")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Rsyslog { child }
}

fn wait_lines(path: &Path, n: usize) -> Vec<serde_json::Value> {
    let t0 = Instant::now();
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        if lines.len() >= n || t0.elapsed() > Duration::from_secs(20) {
            return lines;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The built-in pack with titles and descriptions full of CEF-special characters.
fn tricky_rules(dir: &Path) -> PathBuf {
    let pack = egresswatch::detect::rules::BUILTIN
        .replace("title = \"{kind} {name} sent data to internet address", "title = \"pipe | backslash \\\\ equals = {kind} {name} sent data to internet address")
        .replace(
            "description = \"\"\"Accepted traffic from a SageMaker ENI to a public address",
            "description = \"\"\"a=b and c\\\\d | Accepted traffic from a SageMaker ENI to a public address",
        );
    assert!(pack.contains("pipe | backslash"));
    let path = dir.join("tricky.toml");
    std::fs::write(&path, pack).unwrap();
    path
}

fn run_demo(route: &Path, rules: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_egresswatch"))
        .args([
            "demo",
            "--format",
            "jsonl",
            "--deliver-timeout",
            "30s",
            "--route",
        ])
        .arg(route)
        .arg("--rules")
        .arg(rules)
        .output()
        .unwrap()
}

#[test]
fn cef_over_tcp_lands_in_rsyslog_with_correct_escaping() {
    let Some(bin) = require_rsyslog() else { return };
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let _rs = start_rsyslog(&bin, dir.path(), port, false);
    let route = dir.path().join("route.toml");
    std::fs::write(
        &route,
        format!(
            "[spool]\ndir = \"{}/spool\"\n\n[[sink]]\nname = \"siem\"\ntype = \"syslog\"\naddress = \"127.0.0.1:{port}\"\npayload = \"cef\"\n",
            dir.path().display()
        ),
    )
    .unwrap();
    let out = run_demo(&route, &tricky_rules(dir.path()));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = wait_lines(&dir.path().join("out.jsonl"), 18);
    assert_eq!(lines.len(), 18, "every finding arrives as one message");
    for l in &lines {
        assert_eq!(l["app"], "egresswatch");
        assert!(
            l["msg"]
                .as_str()
                .unwrap()
                .starts_with("CEF:0|egresswatch|egresswatch|"),
            "{l}"
        );
        assert!(
            l["sd"].as_str().unwrap().contains("egresswatch@32473"),
            "{l}"
        );
    }
    let tricky: Vec<&str> = lines
        .iter()
        .map(|l| l["msg"].as_str().unwrap())
        .filter(|m| m.contains("pipe"))
        .collect();
    assert!(!tricky.is_empty());
    for m in tricky {
        // Header: `|` and `\` escaped; extension: `=` and `\` escaped, `|` left alone.
        assert!(m.contains("|pipe \\| backslash \\\\ equals = "), "{m}");
        assert!(m.contains("msg=a\\=b and c\\\\d | Accepted"), "{m}");
    }
    let err = std::fs::read_to_string(dir.path().join("rsyslogd.err")).unwrap_or_default()
        + &std::fs::read_to_string(dir.path().join("rsyslogd.out")).unwrap_or_default();
    assert!(
        !err.contains("Framing Error"),
        "octet counts must be byte lengths: {err}"
    );
}

#[test]
fn json_over_tls_with_a_test_ca() {
    let Some(bin) = require_rsyslog() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let sh = |args: &str| {
        let st = Command::new("sh")
            .arg("-c")
            .arg(args)
            .current_dir(d)
            .output()
            .unwrap();
        assert!(
            st.status.success(),
            "{args}: {}",
            String::from_utf8_lossy(&st.stderr)
        );
    };
    sh("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj '/CN=egresswatch test CA' -keyout ca.key -out ca.pem");
    sh("openssl req -newkey rsa:2048 -nodes -subj '/CN=localhost' -keyout server.key -out server.csr");
    sh("printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\nbasicConstraints=CA:FALSE\\n' > ext.cnf && openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile ext.cnf -out server.pem");
    let port = free_port();
    let _rs = start_rsyslog(&bin, d, port, true);
    let route = d.join("route.toml");
    std::fs::write(
        &route,
        format!(
            "[spool]\ndir = \"{0}/spool\"\n\n[[sink]]\nname = \"siem-tls\"\ntype = \"syslog\"\naddress = \"127.0.0.1:{port}\"\ntls = true\nca_file = \"{0}/ca.pem\"\nserver_name = \"localhost\"\npayload = \"json\"\n",
            d.display()
        ),
    )
    .unwrap();
    let out = run_demo(&route, &tricky_rules(d));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = wait_lines(&d.join("out.jsonl"), 18);
    assert_eq!(lines.len(), 18);
    let ids: std::collections::BTreeSet<String> = lines
        .iter()
        .map(|l| {
            let inner: serde_json::Value =
                serde_json::from_str(l["msg"].as_str().unwrap()).unwrap();
            inner["id"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(ids.len(), 18);

    // A receiver whose certificate the CA file does not vouch for halts the sink.
    let other = d.join("other");
    std::fs::create_dir_all(&other).unwrap();
    let sh2 = |args: &str| {
        let st = Command::new("sh")
            .arg("-c")
            .arg(args)
            .current_dir(&other)
            .output()
            .unwrap();
        assert!(st.status.success(), "{args}");
    };
    sh2("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj '/CN=someone else' -keyout k.pem -out wrong-ca.pem");
    let route2 = d.join("route2.toml");
    std::fs::write(
        &route2,
        format!(
            "[spool]\ndir = \"{0}/spool2\"\n\n[[sink]]\nname = \"siem-tls\"\ntype = \"syslog\"\naddress = \"127.0.0.1:{port}\"\ntls = true\nca_file = \"{1}/wrong-ca.pem\"\nserver_name = \"localhost\"\n",
            d.display(),
            other.display()
        ),
    )
    .unwrap();
    let out = run_demo(&route2, &tricky_rules(d));
    assert_eq!(
        out.status.code(),
        Some(5),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
