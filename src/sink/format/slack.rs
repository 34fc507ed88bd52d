//! Chat and generic webhooks: a Slack-compatible `{"text": ...}` body with a one-paragraph
//! summary (also accepted by Mattermost and Rocket.Chat incoming webhooks), and the generic
//! webhook bodies (the finding JSON itself, or `{"findings":[...]}`).

use serde::Serialize;

use crate::detect::Finding;

/// Slack's mrkdwn control characters: `&`, `<`, `>` must be sent as entities. Line breaks
/// become spaces (the summary is one paragraph).
pub fn escape_mrkdwn(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '\r' | '\n' => out.push(' '),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
}

fn human_bytes(b: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// One paragraph for people, e.g. `*HIGH* EW-002 internet-egress: <title>. training-job
/// fraud-train (arn:...) on eni-... sent 31.4 MiB in 3 flows to 203.0.113.50:443 via
/// nat-gateway between ... and ...; control: no-direct-internet-access. Finding 0a1b...`.
pub fn summary(f: &Finding) -> String {
    let mut s = String::with_capacity(512);
    s.push('*');
    s.push_str(&f.severity.as_str().to_uppercase());
    s.push_str("* ");
    escape_mrkdwn(&mut s, &f.rule);
    s.push(' ');
    escape_mrkdwn(&mut s, &f.category);
    s.push_str(": ");
    escape_mrkdwn(&mut s, f.title.trim_end_matches('.'));
    s.push_str(". ");
    match &f.resource {
        Some(r) => {
            escape_mrkdwn(&mut s, &format!("{} {}", r.kind, r.name));
            if let Some(arn) = &r.arn {
                s.push_str(" (");
                escape_mrkdwn(&mut s, arn);
                s.push(')');
            }
            s.push_str(" on ");
        }
        None => s.push_str("ENI "),
    }
    escape_mrkdwn(&mut s, &f.eni);
    // Only an IPv6 address is bracketed (an anomaly's class, `internet:203.0.113.0/24`, is not).
    let v6 = f.dst_ip.as_deref().is_some_and(|ip| ip.contains(':'));
    let dest = match f.dst_port {
        Some(p) if v6 => format!("[{}]:{p}", f.dst()),
        Some(p) => format!("{}:{p}", f.dst()),
        None => f.dst().to_string(),
    };
    s.push_str(&format!(
        " sent {} in {} flow{} to ",
        human_bytes(f.bytes),
        f.flows,
        if f.flows == 1 { "" } else { "s" }
    ));
    escape_mrkdwn(&mut s, &dest);
    if let Some(svc) = &f.dst_service {
        s.push_str(" (");
        escape_mrkdwn(&mut s, svc);
        if let Some(r) = &f.dst_region {
            s.push(' ');
            escape_mrkdwn(&mut s, r);
        }
        s.push(')');
    }
    s.push_str(" via ");
    s.push_str(&f.path);
    match (&f.first_seen, &f.last_seen) {
        (Some(a), Some(b)) if a != b => s.push_str(&format!(" between {a} and {b}")),
        (Some(a), _) => s.push_str(&format!(" at {a}")),
        _ => {}
    }
    s.push_str("; bypassed control: ");
    escape_mrkdwn(&mut s, &f.control);
    s.push_str(". Finding ");
    s.push_str(&f.id);
    if f.revision > 1 {
        s.push_str(&format!(" (revision {})", f.revision));
    }
    if let Some(e) = f.evidence.first() {
        s.push_str(", first evidence ");
        escape_mrkdwn(&mut s, &format!("{}:{}", e.file, e.line));
    }
    s.push('.');
    s
}

/// `{"text": <summary>}` for a Slack incoming webhook.
pub fn slack_body(f: &Finding) -> String {
    #[derive(Serialize)]
    struct Body {
        text: String,
    }
    serde_json::to_string(&Body { text: summary(f) }).expect("strings always serialize")
}

/// The generic webhook body for one finding: the finding JSON itself (the JSONL contract).
pub fn webhook_body(f: &Finding) -> String {
    serde_json::to_string(f).expect("findings always serialize")
}

/// The generic webhook body for a batch: `{"findings":[...]}`.
pub fn webhook_batch_body(findings: &[Finding]) -> String {
    #[derive(Serialize)]
    struct Body<'a> {
        findings: &'a [Finding],
    }
    serde_json::to_string(&Body { findings }).expect("findings always serialize")
}
