//! CSV siblings of the report: one row per finding, one per (resource, destination class,
//! path, service, endpoint) with bytes, and the controls table.

use super::{Report, ReportError};

/// Spreadsheets run cells that start with these as formulas; names come from untrusted places
/// (job names, tags), so such cells get a leading apostrophe (OWASP CSV injection advice).
pub fn cell(s: &str) -> std::borrow::Cow<'_, str> {
    match s.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') => format!("'{s}").into(),
        _ => s.into(),
    }
}

fn table(
    name: &str,
    header: &[&str],
    rows: impl Iterator<Item = Vec<String>>,
) -> Result<(String, Vec<u8>), ReportError> {
    let err = |source| ReportError::Csv {
        path: name.to_string(),
        source,
    };
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(header).map_err(err)?;
    for r in rows {
        w.write_record(r.iter().map(|c| cell(c).into_owned()))
            .map_err(err)?;
    }
    let bytes = w.into_inner().map_err(|e| ReportError::Write {
        path: name.to_string(),
        source: std::io::Error::other(e.to_string()),
    })?;
    Ok((name.to_string(), bytes))
}

fn opt<T: ToString>(v: &Option<T>) -> String {
    v.as_ref().map_or_else(String::new, T::to_string)
}

/// (file name, contents) of each CSV file.
pub fn render(r: &Report) -> Result<Vec<(String, Vec<u8>)>, ReportError> {
    let findings = table(
        "findings.csv",
        &[
            "id",
            "rule",
            "category",
            "severity",
            "title",
            "control",
            "resource",
            "eni",
            "vpc_id",
            "subnet_id",
            "dst_ip",
            "dst_port",
            "path",
            "dst_service",
            "dst_region",
            "first_seen",
            "last_seen",
            "flows",
            "packets",
            "bytes",
            "evidence",
            "evidence_omitted",
        ],
        r.findings.iter().map(|f| {
            vec![
                f.id.clone(),
                f.rule.clone(),
                f.category.clone(),
                f.severity.as_str().to_string(),
                f.title.clone(),
                f.control.clone(),
                f.resource
                    .as_ref()
                    .map_or_else(String::new, |x| format!("{}/{}", x.kind, x.name)),
                f.eni.clone(),
                opt(&f.vpc_id),
                opt(&f.subnet_id),
                f.dst().to_string(),
                opt(&f.dst_port),
                f.path.clone(),
                opt(&f.dst_service),
                opt(&f.dst_region),
                opt(&f.first_seen),
                opt(&f.last_seen),
                f.flows.to_string(),
                f.packets.to_string(),
                f.bytes.to_string(),
                f.evidence
                    .iter()
                    .map(|e| format!("{}:{}", e.file, e.line))
                    .collect::<Vec<_>>()
                    .join(" "),
                f.evidence_omitted.to_string(),
            ]
        }),
    )?;
    let traffic = table(
        "traffic.csv",
        &[
            "resource",
            "vpc_id",
            "dst_class",
            "path",
            "dst_service",
            "via_endpoint",
            "flows",
            "packets",
            "bytes",
        ],
        r.traffic.iter().map(|t| {
            vec![
                t.resource.clone(),
                t.vpc_id.clone(),
                t.dst_class.clone(),
                t.path.clone(),
                t.dst_service.clone(),
                t.via_endpoint.clone(),
                t.flows.to_string(),
                t.packets.to_string(),
                t.bytes.to_string(),
            ]
        }),
    )?;
    let controls = table(
        "controls.csv",
        &[
            "control",
            "control_name",
            "resource",
            "vpc_id",
            "state",
            "evidence",
            "bytes",
            "finding_ids",
            "pci_dss",
            "hipaa",
            "soc2",
        ],
        r.controls.iter().map(|c| {
            vec![
                c.control.clone(),
                c.control_name.clone(),
                c.resource.clone(),
                opt(&c.vpc_id),
                c.state.as_str().to_string(),
                c.evidence.clone(),
                c.bytes.to_string(),
                c.finding_ids.join(" "),
                c.requirements.pci_dss.join(" "),
                c.requirements.hipaa.join(" "),
                c.requirements.soc2.join(" "),
            ]
        }),
    )?;
    Ok(vec![findings, traffic, controls])
}
