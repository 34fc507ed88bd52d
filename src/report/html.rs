//! The report as one self-contained HTML file: inline CSS (allowed by its hash in the
//! Content-Security-Policy, which forbids every other source, so the file can make no request
//! when opened from an e-mail attachment), inline SVG charts drawn here, and no JavaScript.
//! Every string from the inventory, the logs or the findings passes through [`esc`].

use std::collections::BTreeMap;
use std::fmt::Write as _;

use base64::Engine as _;
use sha2::{Digest, Sha256};

use super::{human_bytes, Report, State};

const CSS: &str = r#"
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1b1f24;margin:0;background:#f6f7f9}
main{max-width:1200px;margin:0 auto;padding:16px 24px 48px}
h1{font-size:24px;margin:8px 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:2px solid #d0d7de;padding-bottom:4px}
h3{font-size:15px;margin:16px 0 6px}
table{border-collapse:collapse;width:100%;background:#fff;margin:6px 0 12px;font-size:13px}
th,td{border:1px solid #d0d7de;padding:4px 6px;text-align:left;vertical-align:top;overflow-wrap:anywhere}
th{background:#eef1f4}
td.n{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}
table.kv th{width:220px}
code{font:12px ui-monospace,SFMono-Regular,Menlo,monospace;background:#eef1f4;padding:1px 3px}
.badge{display:inline-block;padding:1px 7px;border-radius:9px;font-weight:600;font-size:12px;white-space:nowrap}
.held{background:#dafbe1;color:#116329}.violated{background:#ffebe9;color:#a40e26}.not-observable{background:#fff8c5;color:#7d4e00}
.sev-critical{color:#fff;background:#8b0000}.sev-high{color:#fff;background:#cf222e}.sev-medium{background:#fb8f44}.sev-low{background:#d4a72c}.sev-info{background:#d0d7de}
.cards{display:flex;gap:12px;flex-wrap:wrap;margin:12px 0}
.card{background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:10px 14px;min-width:140px}
.card b{display:block;font-size:22px}
.tags{font-size:12px;color:#424a53}
.chart{background:#fff;border:1px solid #d0d7de;margin:6px 0 14px;max-width:100%;height:auto}
details summary{cursor:pointer;color:#0969da}
small{color:#57606a}
@media print{body{background:#fff}.chart,table{page-break-inside:avoid}}
"#;

/// Escapes text and attribute values (always double-quoted here).
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    esc_into(&mut out, s);
    out
}

fn esc_into(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Controls other than tab/newline have no business in a report; shown as U+FFFD.
            c if c.is_control() && c != '\n' && c != '\t' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
}

fn csp_hash(css: &str) -> String {
    let d = Sha256::digest(css.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(d)
}

const PATH_COLORS: &[(&str, &str)] = &[
    ("gateway-endpoint", "#2da44e"),
    ("interface-endpoint", "#54aeff"),
    ("local", "#8c959f"),
    ("nat-gateway", "#fb8f44"),
    ("internet-gateway", "#cf222e"),
    ("other", "#8250df"),
];

fn color(path: &str) -> &'static str {
    PATH_COLORS
        .iter()
        .find(|(p, _)| *p == path)
        .map_or("#6e7781", |(_, c)| c)
}

/// A round axis maximum at or above `v`.
fn nice_max(v: u64) -> u64 {
    if v == 0 {
        return 1;
    }
    let mut step = 1u64;
    while step.saturating_mul(10) <= v {
        step = step.saturating_mul(10);
    }
    for m in [1, 2, 5, 10] {
        let c = step.saturating_mul(m);
        if c >= v {
            return c;
        }
    }
    v
}

fn egress_chart(r: &Report, o: &mut String) {
    let mut days: BTreeMap<&str, Vec<(&str, u64)>> = BTreeMap::new();
    for d in &r.charts.egress_by_day {
        days.entry(d.day.as_str())
            .or_default()
            .push((d.path.as_str(), d.bytes));
    }
    let (w, h, left, bottom, top) = (760.0f64, 280.0f64, 80.0f64, 40.0f64, 30.0f64);
    let _ = write!(
        o,
        r#"<svg class="chart" id="chart-egress" role="img" aria-label="Egress per day by path" width="{w}" height="{h}" viewBox="0 0 {w} {h}" xmlns="http://www.w3.org/2000/svg">"#
    );
    if days.is_empty() {
        let _ = write!(o, r#"<text x="20" y="40">No egress observed.</text></svg>"#);
        return;
    }
    let max = nice_max(
        days.values()
            .map(|v| v.iter().map(|x| x.1).sum::<u64>())
            .max()
            .unwrap_or(0),
    );
    let plot_h = h - bottom - top;
    let n = days.len() as f64;
    let slot = (w - left - 10.0) / n;
    let bar = (slot * 0.7).clamp(1.0, 60.0);
    for t in 0..=4 {
        let v = max as f64 * t as f64 / 4.0;
        let y = top + plot_h - plot_h * t as f64 / 4.0;
        let _ = write!(
            o,
            r##"<line x1="{left}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#d0d7de"/><text x="{}" y="{:.1}" font-size="11" text-anchor="end">{}</text>"##,
            w - 10.0,
            left - 4.0,
            y + 4.0,
            esc(&human_bytes(v as u64))
        );
    }
    for (i, (day, parts)) in days.iter().enumerate() {
        let x = left + slot * i as f64 + (slot - bar) / 2.0;
        let mut y = top + plot_h;
        for (path, _) in PATH_COLORS {
            let Some(&(_, bytes)) = parts.iter().find(|(p, _)| p == path) else {
                continue;
            };
            let hgt = plot_h * bytes as f64 / max as f64;
            y -= hgt;
            let _ = write!(
                o,
                r#"<rect class="bar" data-day="{}" data-path="{}" data-bytes="{bytes}" x="{x:.1}" y="{y:.1}" width="{bar:.1}" height="{:.1}" fill="{}"><title>{} {}: {}</title></rect>"#,
                esc(day),
                esc(path),
                hgt.max(0.5),
                color(path),
                esc(day),
                esc(path),
                esc(&human_bytes(bytes))
            );
        }
        if days.len() <= 31 || i % (days.len() / 15).max(1) == 0 {
            let _ = write!(
                o,
                r#"<text x="{:.1}" y="{:.1}" font-size="11" text-anchor="middle">{}</text>"#,
                x + bar / 2.0,
                h - bottom + 14.0,
                esc(day)
            );
        }
    }
    let mut lx = left;
    for (path, c) in PATH_COLORS {
        let _ = write!(
            o,
            r#"<rect x="{lx:.0}" y="8" width="10" height="10" fill="{c}"/><text x="{:.0}" y="17" font-size="11">{path}</text>"#,
            lx + 14.0
        );
        lx += 14.0 + 7.0 * path.len() as f64 + 16.0;
    }
    o.push_str("</svg>");
}

fn top_chart(r: &Report, o: &mut String) {
    let rows = &r.charts.top_nat_igw;
    let (w, row_h, left) = (760.0f64, 26.0f64, 300.0f64);
    let h = 40.0 + row_h * rows.len().max(1) as f64;
    let _ = write!(
        o,
        r#"<svg class="chart" id="chart-top" role="img" aria-label="Top resources by NAT and IGW bytes" width="{w}" height="{h}" viewBox="0 0 {w} {h}" xmlns="http://www.w3.org/2000/svg">"#
    );
    if rows.is_empty() {
        o.push_str(
            r#"<text x="20" y="30">No traffic through NAT or internet gateways.</text></svg>"#,
        );
        return;
    }
    let max = nice_max(
        rows.iter()
            .map(|x| x.nat_bytes + x.igw_bytes)
            .max()
            .unwrap_or(0),
    );
    let span = w - left - 90.0;
    for (i, row) in rows.iter().enumerate() {
        let y = 30.0 + row_h * i as f64;
        let label: String = row.resource.chars().take(44).collect();
        let _ = write!(
            o,
            r#"<text x="{:.0}" y="{:.1}" font-size="12" text-anchor="end">{}</text>"#,
            left - 6.0,
            y + 14.0,
            esc(&label)
        );
        let nw = span * row.nat_bytes as f64 / max as f64;
        let iw = span * row.igw_bytes as f64 / max as f64;
        let _ = write!(
            o,
            r#"<rect class="bar" data-resource="{}" data-nat="{}" data-igw="{}" x="{left}" y="{y:.1}" width="{nw:.1}" height="18" fill="{}"><title>{}: NAT {}</title></rect><rect x="{:.1}" y="{y:.1}" width="{iw:.1}" height="18" fill="{}"><title>{}: IGW {}</title></rect><text x="{:.1}" y="{:.1}" font-size="11">{}</text>"#,
            esc(&row.resource),
            row.nat_bytes,
            row.igw_bytes,
            color("nat-gateway"),
            esc(&row.resource),
            esc(&human_bytes(row.nat_bytes)),
            left + nw,
            color("internet-gateway"),
            esc(&row.resource),
            esc(&human_bytes(row.igw_bytes)),
            left + nw + iw + 4.0,
            y + 14.0,
            esc(&human_bytes(row.nat_bytes + row.igw_bytes))
        );
    }
    o.push_str("</svg>");
}

fn findings_chart(r: &Report, o: &mut String) {
    let mut resources: Vec<&str> = r
        .charts
        .findings_over_time
        .iter()
        .map(|x| x.resource.as_str())
        .collect();
    resources.sort_unstable();
    resources.dedup();
    resources.truncate(25);
    let mut days: Vec<&str> = r
        .charts
        .findings_over_time
        .iter()
        .map(|x| x.day.as_str())
        .collect();
    days.sort_unstable();
    days.dedup();
    let (left, cell, top) = (300.0f64, 28.0f64, 24.0f64);
    let w = (left + cell * days.len().max(1) as f64 + 20.0).max(400.0);
    let h = top + cell * resources.len().max(1) as f64 + 40.0;
    let _ = write!(
        o,
        r#"<svg class="chart" id="chart-findings" role="img" aria-label="Findings over time per resource" width="{w:.0}" height="{h:.0}" viewBox="0 0 {w:.0} {h:.0}" xmlns="http://www.w3.org/2000/svg">"#
    );
    if resources.is_empty() {
        o.push_str(r#"<text x="20" y="30">No flow findings.</text></svg>"#);
        return;
    }
    let max = r
        .charts
        .findings_over_time
        .iter()
        .map(|x| x.findings)
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    for (ri, res) in resources.iter().enumerate() {
        let y = top + cell * ri as f64;
        let label: String = res.chars().take(44).collect();
        let _ = write!(
            o,
            r#"<text x="{:.0}" y="{:.1}" font-size="12" text-anchor="end">{}</text>"#,
            left - 6.0,
            y + cell / 2.0 + 4.0,
            esc(&label)
        );
    }
    for (di, day) in days.iter().enumerate() {
        let x = left + cell * di as f64 + cell / 2.0;
        let _ = write!(
            o,
            r#"<text x="{x:.1}" y="{:.1}" font-size="10" text-anchor="end" transform="rotate(-45 {x:.1} {:.1})">{}</text>"#,
            h - 28.0,
            h - 28.0,
            esc(day)
        );
    }
    for p in &r.charts.findings_over_time {
        let (Some(ri), Some(di)) = (
            resources.iter().position(|x| *x == p.resource),
            days.iter().position(|x| *x == p.day),
        ) else {
            continue;
        };
        let cx = left + cell * di as f64 + cell / 2.0;
        let cy = top + cell * ri as f64 + cell / 2.0;
        let rad = 3.0 + 9.0 * (p.findings as f64 / max).sqrt();
        let _ = write!(
            o,
            r##"<circle class="dot" data-resource="{}" data-day="{}" data-findings="{}" cx="{cx:.1}" cy="{cy:.1}" r="{rad:.1}" fill="#cf222e" fill-opacity="0.7"><title>{} {}: {} findings</title></circle>"##,
            esc(&p.resource),
            esc(&p.day),
            p.findings,
            esc(&p.resource),
            esc(&p.day),
            p.findings
        );
    }
    o.push_str("</svg>");
}

fn opt(v: &Option<impl ToString>) -> String {
    v.as_ref()
        .map_or_else(|| "-".to_string(), |x| x.to_string())
}

fn kv(o: &mut String, k: &str, v: &str) {
    let _ = write!(o, "<tr><th>{}</th><td>{}</td></tr>", esc(k), v);
}

/// Renders the report.
pub fn render(r: &Report) -> String {
    let mut o = String::with_capacity(64 * 1024 + r.findings.len() * 400);
    let _ = write!(
        o,
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'sha256-{}'; img-src data:; form-action 'none'; base-uri 'none'"><meta name="viewport" content="width=device-width, initial-scale=1"><meta name="generator" content="egresswatch {}"><title>{} - {}</title><style>{CSS}</style></head><body><main>"#,
        csp_hash(CSS),
        esc(&r.tool.version),
        esc(&r.title),
        esc(&r.generated_at)
    );
    let _ = write!(
        o,
        "<h1>{}</h1><p>Generated {} by {} {}. Every number below is reproducible with the command shown and verifiable against <code>MANIFEST.sha256</code>.</p>",
        esc(&r.title),
        esc(&r.generated_at),
        esc(&r.tool.name),
        esc(&r.tool.version)
    );

    // Summary cards.
    let count = |s: State| r.controls.iter().filter(|c| c.state == s).count();
    let _ = write!(
        o,
        r#"<div class="cards"><div class="card" id="count-held"><b>{}</b>controls held</div><div class="card" id="count-violated"><b>{}</b>controls violated</div><div class="card" id="count-not-observable"><b>{}</b>not observable</div><div class="card" id="count-findings"><b>{}</b>findings ({} posture)</div></div>"#,
        count(State::Held),
        count(State::Violated),
        count(State::NotObservable),
        r.findings.len(),
        r.population.posture_findings
    );

    // Header: what auditors check in system-generated evidence.
    o.push_str(r#"<h2 id="information">Report information</h2><table class="kv" id="info">"#);
    kv(
        &mut o,
        "Tool",
        &format!("{} {}", esc(&r.tool.name), esc(&r.tool.version)),
    );
    kv(&mut o, "Generated", &esc(&r.generated_at));
    kv(
        &mut o,
        "Command",
        &format!(r#"<code id="command">{}</code>"#, esc(&r.command.join(" "))),
    );
    let packs: Vec<String> = r
        .packs
        .iter()
        .map(|p| {
            format!(
                "{} <b>{}</b> {} <small>({}; sha256 <code>{}</code>)</small>",
                esc(&p.kind),
                esc(&p.name),
                esc(&p.version),
                esc(&p.file),
                esc(&p.sha256)
            )
        })
        .collect();
    kv(&mut o, "Rule packs and tables", &packs.join("<br>"));
    kv(
        &mut o,
        "Inventory",
        &format!(
            "{}: {} files recognised, {} ignored; files modified up to {}; ip-ranges.json of {}",
            esc(&r.inventory.source),
            r.inventory.files.len(),
            r.inventory.ignored.len(),
            esc(&opt(&r.inventory.snapshot_time)),
            esc(&opt(&r.inventory.ip_ranges_date))
        ),
    );
    kv(
        &mut o,
        "Period covered",
        &format!(
            r#"<span id="period">{} to {}</span>"#,
            esc(&opt(&r.period.start)),
            esc(&opt(&r.period.end))
        ),
    );
    let p = &r.population;
    kv(
        &mut o,
        "Population",
        &format!(
            r#"<span id="population" data-objects="{}" data-records="{}" data-enis="{}" data-resources="{}">objects {} ({} failed), records {} ({} NODATA, {} SKIPDATA, {} malformed skipped), bytes read {}, SageMaker ENIs observed {} of {} in the inventory, resources {}</span>"#,
            opt(&p.objects),
            opt(&p.records),
            p.enis_observed,
            p.resources,
            opt(&p.objects),
            opt(&p.failed_objects),
            opt(&p.records),
            opt(&p.nodata),
            opt(&p.skipdata),
            opt(&p.skipped),
            p.bytes_read.map_or("-".into(), human_bytes),
            p.enis_observed,
            p.enis_in_inventory,
            p.resources
        ),
    );
    o.push_str("</table>");
    o.push_str(r#"<h3>Flow-log coverage and gaps</h3><table id="coverage"><tr><th>Flow log</th><th>Attached to</th><th>Objects</th><th>First hour</th><th>Last hour</th><th>Hours with no object</th></tr>"#);
    for f in &r.period.flow_logs {
        let gaps = if f.objects == 0 {
            "no object in the period".to_string()
        } else if f.missing_hours.is_empty() {
            "none".to_string()
        } else if f.missing_hours.len() <= 12 {
            esc(&f.missing_hours.join(", "))
        } else {
            format!(
                "<details><summary>{} hours</summary>{}</details>",
                f.missing_hours.len(),
                esc(&f.missing_hours.join(", "))
            )
        };
        let _ = write!(
            o,
            r#"<tr class="flowlog" data-flow-log="{}" data-objects="{}" data-gaps="{}"><td>{}</td><td>{}</td><td class="n">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>"#,
            esc(&f.flow_log_id),
            f.objects,
            f.missing_hours.len(),
            esc(&f.flow_log_id),
            esc(&opt(&f.resource_id)),
            f.objects,
            esc(&opt(&f.first_hour)),
            esc(&opt(&f.last_hour)),
            gaps
        );
    }
    if r.period.objects_unnamed > 0 {
        let _ = write!(
            o,
            r#"<tr><td colspan="6">{} objects without an AWS flow-log object name (their flow log and hour are unknown)</td></tr>"#,
            r.period.objects_unnamed
        );
    }
    o.push_str("</table>");
    if !r.errors.is_empty() {
        o.push_str(r#"<h3>Objects that failed</h3><table id="errors"><tr><th>Object</th><th>Error</th></tr>"#);
        for e in &r.errors {
            let _ = write!(
                o,
                "<tr><td>{}</td><td>{}</td></tr>",
                esc(&e.file),
                esc(&e.error)
            );
        }
        o.push_str("</table>");
    }

    // Controls.
    o.push_str(r#"<h2 id="controls-title">Controls</h2><p>One row per control and resource. <b>held</b>: the traffic (or, for configuration controls, the inventory) shows the control in force; <b>violated</b>: findings or configuration show it was not; <b>not observable</b>: the evidence cannot exist, and why.</p><table id="controls"><tr><th>Control</th><th>Resource</th><th>State</th><th>Evidence</th><th>Bytes</th><th>Findings</th><th>Requirements</th></tr>"#);
    for c in &r.controls {
        let links: Vec<String> = c
            .finding_ids
            .iter()
            .map(|id| {
                format!(
                    r##"<a href="#f-{0}"><code>{1}</code></a>"##,
                    esc(id),
                    esc(&id[..id.len().min(8)])
                )
            })
            .collect();
        let _ = write!(
            o,
            r#"<tr class="control" data-control="{}" data-resource="{}" data-state="{}" data-bytes="{}" data-findings="{}"><td>{}<br><small>{}</small></td><td>{}</td><td><span class="badge {}">{}</span></td><td>{}</td><td class="n">{}</td><td>{}</td><td class="tags">PCI DSS {}<br>HIPAA {}<br>SOC 2 {}</td></tr>"#,
            esc(&c.control),
            esc(&c.resource),
            c.state.as_str(),
            c.bytes,
            c.finding_ids.len(),
            esc(&c.control_name),
            esc(&c.control),
            esc(&c.resource),
            c.state.as_str(),
            c.state.as_str(),
            esc(&c.evidence),
            esc(&human_bytes(c.bytes)),
            links.join(" "),
            esc(&c.requirements.pci_dss.join(", ")),
            esc(&c.requirements.hipaa.join(", ")),
            esc(&c.requirements.soc2.join(", "))
        );
    }
    o.push_str("</table>");

    // Charts.
    let _ = write!(
        o,
        r#"<h2 id="charts">Charts</h2><h3>Egress per day by path</h3><p><small>Source: {}.</small></p>"#,
        esc(&r.charts.egress_source)
    );
    egress_chart(r, &mut o);
    o.push_str("<h3>Top resources by NAT and internet-gateway bytes</h3>");
    top_chart(r, &mut o);
    o.push_str("<h3>Findings over time per resource</h3>");
    findings_chart(r, &mut o);

    // Cost.
    let _ = write!(
        o,
        r#"<h2 id="cost-title">Avoidable NAT gateway charges</h2><p>NAT gateway data processing for traffic a gateway or interface endpoint would have carried, over the observed {:.2} days and at that rate per 30 days. Prices: {} (as of {}, {}).</p><table id="cost"><tr><th>VPC</th><th>Region</th><th>Service</th><th>Bytes through NAT</th><th>NAT charge</th><th>Endpoint charge</th><th>Avoidable / 30 days</th><th>Statement</th></tr>"#,
        r.cost.period_days,
        esc(&r.cost.source),
        esc(&r.cost.date),
        esc(&r.cost.currency)
    );
    for c in &r.cost.rows {
        let _ = write!(
            o,
            r#"<tr class="cost" data-vpc="{}" data-service="{}" data-bytes="{}"><td>{}</td><td>{}</td><td>{}</td><td class="n">{}</td><td class="n">{:.2}</td><td class="n">{:.2}</td><td class="n">{:.2}</td><td>{}</td></tr>"#,
            esc(&c.vpc_id),
            esc(&c.service),
            c.bytes,
            esc(&c.vpc_id),
            esc(&c.region),
            esc(&c.service),
            esc(&human_bytes(c.bytes)),
            c.nat_cost,
            c.endpoint_cost,
            c.avoidable_per_month,
            esc(&c.statement)
        );
    }
    if r.cost.rows.is_empty() {
        o.push_str(r#"<tr><td colspan="8">No AWS-service traffic through NAT gateways in the period.</td></tr>"#);
    }
    o.push_str("</table>");

    // Traffic totals (bounded in the HTML; complete in traffic.csv and the JSON).
    const TRAFFIC_ROWS: usize = 300;
    let mut traffic: Vec<&super::TrafficRow> = r.traffic.iter().collect();
    traffic.sort_by_key(|t| std::cmp::Reverse(t.bytes));
    let _ = write!(
        o,
        r#"<h2 id="traffic-title">Traffic by resource, destination class and path</h2><p>{} rows{}.</p><table id="traffic"><tr><th>Resource</th><th>VPC</th><th>Destination</th><th>Path</th><th>Service</th><th>Endpoint</th><th>Flows</th><th>Bytes</th></tr>"#,
        r.traffic.len(),
        if r.traffic.len() > TRAFFIC_ROWS {
            format!(", the {TRAFFIC_ROWS} largest shown (all in traffic.csv)")
        } else {
            String::new()
        }
    );
    for t in traffic.iter().take(TRAFFIC_ROWS) {
        let _ = write!(
            o,
            r#"<tr class="traffic" data-bytes="{}"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class="n">{}</td><td class="n">{}</td></tr>"#,
            t.bytes,
            esc(&t.resource),
            esc(&t.vpc_id),
            esc(&t.dst_class),
            esc(&t.path),
            esc(&t.dst_service),
            esc(&t.via_endpoint),
            t.flows,
            esc(&human_bytes(t.bytes))
        );
    }
    o.push_str("</table>");

    // Evidence appendix. Object names are listed once and cited by number, which keeps the file
    // small with many findings.
    let mut files: Vec<&str> = r
        .findings
        .iter()
        .flat_map(|f| f.evidence.iter().map(|e| &*e.file))
        .collect();
    files.sort_unstable();
    files.dedup();
    let _ = write!(
        o,
        r#"<h2 id="appendix">Evidence appendix</h2><p>{} findings. Evidence cites <code>object:line</code> (the line or Parquet row of each flow record); objects are numbered below.</p>"#,
        r.findings.len()
    );
    const EVIDENCE_SHOWN: usize = 3;
    let mut rows = String::with_capacity(r.findings.len() * 360);
    for f in &r.findings {
        let res = f
            .resource
            .as_ref()
            .map_or_else(|| "-".to_string(), |x| format!("{}/{}", x.kind, x.name));
        let ev: Vec<String> = f
            .evidence
            .iter()
            .map(|e| {
                let n = files.binary_search(&&*e.file).map_or(0, |i| i + 1);
                format!("O{n}:{}", e.line)
            })
            .collect();
        let more = f.evidence_omitted + ev.len().saturating_sub(EVIDENCE_SHOWN) as u64;
        let dst = match f.dst_port {
            Some(p) => format!("{}:{p}", f.dst()),
            None => f.dst().to_string(),
        };
        let _ = write!(
            rows,
            r#"<tr id="f-{}" class="finding" data-rule="{}" data-bytes="{}"><td><span class="badge sev-{}">{}</span></td><td>{}</td><td>{}<br><small>{}</small></td><td>{}</td><td>{}</td><td>{}</td><td class="n">{}</td><td>{}</td><td>{}{}</td></tr>"#,
            esc(&f.id),
            esc(&f.rule),
            f.bytes,
            f.severity.as_str(),
            f.severity.as_str(),
            esc(&f.rule),
            esc(&f.title),
            esc(&f.id),
            esc(&res),
            esc(&dst),
            esc(&f.path),
            f.bytes,
            esc(f.first_seen.as_deref().unwrap_or("-")),
            ev.iter()
                .take(EVIDENCE_SHOWN)
                .cloned()
                .collect::<Vec<_>>()
                .join(" "),
            if more > 0 {
                format!(" <small>+{more}</small>")
            } else {
                String::new()
            }
        );
    }
    let head = r#"<table id="findings"><tr><th>Severity</th><th>Rule</th><th>Finding</th><th>Resource</th><th>Destination</th><th>Path</th><th>Bytes</th><th>First seen</th><th>Evidence</th></tr>"#;
    if r.findings.len() > 200 {
        let _ = write!(
            o,
            "<details open><summary>{} findings</summary>{head}{rows}</table></details>",
            r.findings.len()
        );
    } else {
        let _ = write!(o, "{head}{rows}</table>");
    }
    o.push_str(r#"<h3>Objects cited</h3><table id="objects"><tr><th>#</th><th>Object</th></tr>"#);
    for (i, f) in files.iter().enumerate() {
        let _ = write!(o, r#"<tr><td>O{}</td><td>{}</td></tr>"#, i + 1, esc(f));
    }
    o.push_str("</table>");
    // Rule descriptions once, not per finding.
    let mut rules: BTreeMap<&str, (&str, &str)> = BTreeMap::new();
    for f in &r.findings {
        rules.entry(&f.rule).or_insert((&f.control, &f.description));
    }
    o.push_str(r#"<h3>Rules</h3><table id="rules"><tr><th>Rule</th><th>Control</th><th>Description</th></tr>"#);
    for (id, (control, desc)) in rules {
        let _ = write!(
            o,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(id),
            esc(control),
            esc(desc)
        );
    }
    o.push_str("</table></main></body></html>\n");
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            esc(r#"<script>alert("x")</script>'&</svg>"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&#39;&amp;&lt;/svg&gt;"
        );
        assert_eq!(esc("a\u{0}b"), "a\u{fffd}b");
    }

    #[test]
    fn axis_maxima_are_round() {
        assert_eq!(nice_max(0), 1);
        assert_eq!(nice_max(7), 10);
        assert_eq!(nice_max(1_300), 2_000);
        assert_eq!(nice_max(5_000), 5_000);
    }
}
