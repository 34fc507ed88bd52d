//! Printers: findings as JSON lines, a JSON array, or a table for people; the run summary as
//! text. Kept apart from detection so sinks (SIEM formats) plug in beside them.

use std::io::{self, Write};

use crate::detect::Finding;
use crate::scan::Summary;
use crate::sink::format::{ocsf, FormatContext};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One finding per line (JSON).
    Jsonl,
    /// One JSON array.
    Json,
    /// A table for people.
    Text,
    /// One OCSF 1.8.0 Detection Finding (class 2004) per line: activity Create, Update for a
    /// finding whose own `activity` is `update`.
    Ocsf,
}

pub fn write_findings(w: &mut dyn Write, findings: &[Finding], format: Format) -> io::Result<()> {
    write_findings_with(w, findings, format, &FormatContext::from_env())
}

/// [`write_findings`] with an explicit context (version, account, region, host, now) for the
/// formats that need one (OCSF).
pub fn write_findings_with(
    w: &mut dyn Write,
    findings: &[Finding],
    format: Format,
    ctx: &FormatContext,
) -> io::Result<()> {
    match format {
        Format::Jsonl => {
            for f in findings {
                serde_json::to_writer(&mut *w, f)?;
                w.write_all(b"\n")?;
            }
        }
        Format::Json => {
            serde_json::to_writer_pretty(&mut *w, findings)?;
            w.write_all(b"\n")?;
        }
        Format::Text => write_table(w, findings)?,
        Format::Ocsf => ocsf::write_jsonl(w, findings, ctx, ocsf::Activity::Create)?,
    }
    w.flush()
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

fn write_table(w: &mut dyn Write, findings: &[Finding]) -> io::Result<()> {
    if findings.is_empty() {
        return writeln!(w, "No findings: no in-scope egress matched a rule.");
    }
    let header = [
        "SEVERITY",
        "RULE",
        "CATEGORY",
        "RESOURCE",
        "ENI",
        "DESTINATION",
        "PATH",
        "SERVICE",
        "FLOWS",
        "BYTES",
        "FIRST SEEN",
    ];
    let rows: Vec<[String; 11]> = findings
        .iter()
        .map(|f| {
            let resource = f
                .resource
                .as_ref()
                .map_or_else(|| "-".to_string(), |r| format!("{}/{}", r.kind, r.name));
            let dest = match f.dst_port {
                Some(p) if f.dst_ip.as_deref().is_some_and(|ip| ip.contains(':')) => {
                    format!("[{}]:{p}", f.dst())
                }
                Some(p) => format!("{}:{p}", f.dst()),
                None => f.dst().to_string(),
            };
            let service = match (&f.dst_service, &f.dst_region) {
                (Some(s), Some(r)) => format!("{s} {r}"),
                (Some(s), None) => s.clone(),
                _ => "-".into(),
            };
            [
                f.severity.as_str().to_uppercase(),
                f.rule.clone(),
                f.category.clone(),
                resource,
                f.eni.clone(),
                dest,
                f.path.to_string(),
                service,
                f.flows.to_string(),
                human_bytes(f.bytes),
                f.first_seen.clone().unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |w: &mut dyn Write, cells: &[&str]| -> io::Result<()> {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<width$}  ", width = widths[i]));
            }
        }
        writeln!(w, "{}", s.trim_end())
    };
    line(w, &header)?;
    for r in &rows {
        let cells: Vec<&str> = r.iter().map(String::as_str).collect();
        line(w, &cells)?;
    }
    writeln!(w)?;
    for f in findings {
        writeln!(w, "[{}] {} {}", f.severity.as_str(), &f.id[..12], f.title)?;
    }
    Ok(())
}

/// The one-line human summary printed to stderr at the end of a run.
pub fn summary_line(s: &Summary) -> String {
    format!(
        "egresswatch: {} files, {} records ({} NODATA, {} SKIPDATA), {} malformed skipped, {} failed files{}, {} findings, {} in {:.2}s",
        s.files,
        s.records,
        s.nodata,
        s.skipdata,
        s.skipped,
        s.failed_files,
        if s.empty_files > 0 {
            format!(", {} files with no record", s.empty_files)
        } else {
            String::new()
        },
        s.findings,
        human_bytes(s.bytes_read),
        s.elapsed_ms as f64 / 1000.0
    ) + &unattributed_part(s)
}

/// The closing line's word on ENIs no source knows (empty when there are none).
fn unattributed_part(s: &Summary) -> String {
    let u = &s.unattributed;
    if u.enis == 0 {
        return String::new();
    }
    format!(
        "; {} unattributed ENIs ({} records, {} NAT/IGW egress; could be SageMaker: {} ENIs, {})",
        u.enis,
        u.records,
        human_bytes(u.egress_bytes_nat_igw),
        u.could_be_sagemaker.enis,
        human_bytes(u.could_be_sagemaker.egress_bytes_nat_igw)
    )
}
