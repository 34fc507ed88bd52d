//! The evidence report (`egresswatch report`): what auditors check in system-generated evidence
//! (tool, parameters, rule hashes, inventory, period and gaps, population), one row per control
//! and resource with its state and the bytes that prove it, charts, avoidable NAT cost, and the
//! evidence appendix. The model here is rendered to self-contained HTML ([`html`]), CSV
//! ([`csv_out`]) and JSON, and everything written is listed in a `MANIFEST.sha256`.

pub mod controls;
pub mod csv_out;
pub mod html;
pub mod posture;
pub mod prices;
pub mod requirements;
pub mod traffic;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path as FsPath, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::detect::Finding;
use crate::enrich::model::{Model, NONE, NO_SYM};
use crate::enrich::{DstClass, Inventory, Path};
use crate::scan::Summary;
use crate::source::layout::parse_key;
use crate::time::format_rfc3339;
use traffic::{Traffic, NO_DAY};

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("report: cannot write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("report: {file}: {message}")]
    Table { file: String, message: String },
    #[error("report: JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("report: CSV {path}: {source}")]
    Csv { path: String, source: csv::Error },
}

/// Binary units, as in the CLI's table.
pub fn human_bytes(b: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
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

pub fn day_name(day: i32) -> String {
    if day == NO_DAY {
        return "unknown".into();
    }
    format_rfc3339(day as i64 * 86_400)[..10].to_string()
}

/// A rule pack or table the report was produced with (name, version and hash: change control).
#[derive(Debug, Clone, Serialize)]
pub struct PackRef {
    pub kind: String,
    pub name: String,
    pub version: String,
    pub file: String,
    pub sha256: String,
}

impl PackRef {
    pub fn of(kind: &str, name: &str, version: &str, file: &str, text: &str) -> Self {
        PackRef {
            kind: kind.into(),
            name: name.into(),
            version: version.into(),
            file: file.into(),
            sha256: posture::hex(&Sha256::digest(text.as_bytes())),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Tool {
    pub name: String,
    pub version: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct InventoryRef {
    /// Where the inventory came from (folder, or "bundled samples").
    pub source: String,
    /// Recognised files with what they were recognised as.
    pub files: Vec<(String, Vec<String>)>,
    pub ignored: Vec<String>,
    /// Newest modification time of the inventory files (when they were collected), if known.
    pub snapshot_time: Option<String>,
    /// ip-ranges.json `createDate`.
    pub ip_ranges_date: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FlowLogCoverage {
    pub flow_log_id: String,
    /// What the flow log is attached to (from describe-flow-logs), if known.
    pub resource_id: Option<String>,
    pub objects: u64,
    pub first_hour: Option<String>,
    pub last_hour: Option<String>,
    /// Hours between the first and last object (and within the period) with no object.
    pub missing_hours: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Period {
    /// First and last record start seen (or, from a findings file, first and last seen).
    pub start: Option<String>,
    pub end: Option<String>,
    pub flow_logs: Vec<FlowLogCoverage>,
    /// Objects whose names are not AWS flow-log object names (their flow log is unknown).
    pub objects_unnamed: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Population {
    pub objects: Option<u64>,
    pub failed_objects: Option<u64>,
    pub records: Option<u64>,
    pub nodata: Option<u64>,
    pub skipdata: Option<u64>,
    pub skipped: Option<u64>,
    pub bytes_read: Option<u64>,
    /// SageMaker ENIs whose egress was observed.
    pub enis_observed: u64,
    pub enis_in_inventory: u64,
    pub resources: u64,
    pub findings: u64,
    pub posture_findings: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Requirements {
    pub pci_dss: Vec<String>,
    pub hipaa: Vec<String>,
    pub soc2: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    Held,
    Violated,
    NotObservable,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Held => "held",
            State::Violated => "violated",
            State::NotObservable => "not-observable",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ControlRow {
    pub control: String,
    pub control_name: String,
    /// `kind/name` of the resource, or the VPC, subnet or endpoint the row is about.
    pub resource: String,
    pub vpc_id: Option<String>,
    pub state: State,
    /// Why: the traffic that proves it held, what violated it, or why it cannot be observed.
    pub evidence: String,
    /// Bytes behind the statement (held: the traffic that proves it; violated: the offending).
    pub bytes: u64,
    pub finding_ids: Vec<String>,
    pub requirements: Requirements,
}

#[derive(Debug, Clone, Serialize)]
pub struct DayPath {
    pub day: String,
    pub path: String,
    pub bytes: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ResourceBytes {
    pub resource: String,
    pub nat_bytes: u64,
    pub igw_bytes: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ResourceDayCount {
    pub resource: String,
    pub day: String,
    pub findings: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Charts {
    /// Whether egress comes from traffic totals (`scan`) or only from findings.
    pub egress_source: String,
    pub egress_by_day: Vec<DayPath>,
    pub top_nat_igw: Vec<ResourceBytes>,
    pub findings_over_time: Vec<ResourceDayCount>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CostRow {
    pub vpc_id: String,
    pub region: String,
    pub service: String,
    pub bytes: u64,
    pub nat_per_gb: f64,
    /// Data-processing charge of that traffic through the NAT gateway, over the period.
    pub nat_cost: f64,
    /// What the endpoint would have charged for it.
    pub endpoint_cost: f64,
    pub avoidable: f64,
    /// `avoidable` at the observed rate over 30 days.
    pub avoidable_per_month: f64,
    pub endpoint: String,
    pub statement: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Cost {
    pub currency: String,
    pub source: String,
    pub date: String,
    pub period_days: f64,
    pub rows: Vec<CostRow>,
}

/// One row of the traffic CSV: bytes per (resource, destination class, path).
#[derive(Debug, Clone, Serialize)]
pub struct TrafficRow {
    pub resource: String,
    pub vpc_id: String,
    pub dst_class: String,
    pub path: String,
    pub dst_service: String,
    pub via_endpoint: String,
    pub flows: u64,
    pub packets: u64,
    pub bytes: u64,
}

/// Everything the HTML shows; written as the JSON file.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema: u32,
    pub title: String,
    pub tool: Tool,
    pub generated_at: String,
    pub command: Vec<String>,
    pub packs: Vec<PackRef>,
    pub inventory: InventoryRef,
    pub period: Period,
    pub population: Population,
    pub controls: Vec<ControlRow>,
    pub charts: Charts,
    pub cost: Cost,
    pub traffic: Vec<TrafficRow>,
    pub findings: Vec<Finding>,
    /// Errors and skips of the scan (files that failed), from its summary.
    pub errors: Vec<crate::scan::FileFailure>,
}

/// What a report is built from.
pub struct ReportInput<'a> {
    pub command: Vec<String>,
    pub generated_at: i64,
    pub inventory: &'a Inventory,
    pub inventory_source: String,
    pub model: &'a Model,
    /// Flow findings (from the scan or a findings file).
    pub findings: Vec<Finding>,
    pub summary: Option<&'a Summary>,
    pub traffic: Option<&'a Traffic>,
    /// Names of the scanned objects (for coverage and gaps).
    pub objects: &'a [String],
    pub packs: Vec<PackRef>,
    pub posture: &'a posture::PosturePack,
    pub requirements: &'a requirements::RequirementTable,
    pub prices: &'a prices::PriceTable,
}

pub(crate) fn resource_label(model: &Model, idx: u32) -> Option<String> {
    (idx != NONE)
        .then(|| model.resources.get(idx as usize))
        .flatten()
        .map(|r| format!("{}/{}", r.kind_str(), r.name))
}

fn hour_name(t: i64) -> String {
    format_rfc3339(t.div_euclid(3600) * 3600)
}

fn coverage(objects: &[String], inv: &Inventory) -> (Vec<FlowLogCoverage>, u64) {
    let mut by_log: BTreeMap<String, BTreeSet<i64>> = BTreeMap::new();
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    let mut unnamed = 0;
    for o in objects {
        match parse_key(o) {
            Some(k) => {
                by_log
                    .entry(k.flow_log_id.clone())
                    .or_default()
                    .insert(k.time.div_euclid(3600));
                *counts.entry(k.flow_log_id).or_default() += 1;
            }
            None => unnamed += 1,
        }
    }
    let mut out = Vec::new();
    for (id, hours) in &by_log {
        let first = hours.first().copied();
        let last = hours.last().copied();
        let mut missing = Vec::new();
        if let (Some(a), Some(b)) = (first, last) {
            // Bounded: a gap list longer than a year of hours says enough.
            for h in (a..=b).take(24 * 366) {
                if !hours.contains(&h) {
                    missing.push(hour_name(h * 3600));
                }
            }
        }
        out.push(FlowLogCoverage {
            flow_log_id: id.clone(),
            resource_id: inv
                .flow_logs
                .iter()
                .find(|f| &f.flow_log_id == id)
                .map(|f| f.resource_id.clone()),
            objects: counts.get(id).copied().unwrap_or(0),
            first_hour: first.map(|h| hour_name(h * 3600)),
            last_hour: last.map(|h| hour_name(h * 3600)),
            missing_hours: missing,
        });
    }
    // Flow logs the inventory lists that delivered no object in the period are a gap too.
    for f in &inv.flow_logs {
        if !by_log.contains_key(&f.flow_log_id) {
            out.push(FlowLogCoverage {
                flow_log_id: f.flow_log_id.clone(),
                resource_id: Some(f.resource_id.clone()),
                objects: 0,
                first_hour: None,
                last_hour: None,
                missing_hours: Vec::new(),
            });
        }
    }
    (out, unnamed)
}

fn inventory_ref(inv: &Inventory, source: &str) -> InventoryRef {
    let mut newest: Option<std::time::SystemTime> = None;
    for (f, _) in &inv.recognised {
        if let Ok(t) = std::fs::metadata(f).and_then(|m| m.modified()) {
            newest = Some(newest.map_or(t, |n| n.max(t)));
        }
    }
    InventoryRef {
        source: source.to_string(),
        files: inv
            .recognised
            .iter()
            .map(|(f, k)| {
                (
                    f.clone(),
                    k.iter()
                        .map(|k| {
                            serde_json::to_value(k)
                                .ok()
                                .and_then(|v| v.as_str().map(str::to_string))
                                .unwrap_or_default()
                        })
                        .collect(),
                )
            })
            .collect(),
        ignored: inv.ignored.clone(),
        snapshot_time: newest
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| format_rfc3339(d.as_secs() as i64)),
        ip_ranges_date: inv.ip_ranges.iter().find_map(|r| r.create_date.clone()),
    }
}

fn charts(model: &Model, traffic: Option<&Traffic>, findings: &[Finding]) -> Charts {
    let mut by_day: BTreeMap<(String, &'static str), u64> = BTreeMap::new();
    let mut top: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let source = match traffic {
        Some(t) => {
            for (k, c) in &t.cells {
                let path = Path::from_u8(k.path);
                let name = match path {
                    Path::GatewayEndpoint
                    | Path::InterfaceEndpoint
                    | Path::NatGateway
                    | Path::InternetGateway
                    | Path::Local => path.as_str(),
                    _ => "other",
                };
                *by_day.entry((day_name(k.day), name)).or_default() += c.bytes;
                if matches!(path, Path::NatGateway | Path::InternetGateway) {
                    let who = resource_label(model, k.resource).unwrap_or_else(|| k.eni.clone());
                    let e = top.entry(who).or_default();
                    if path == Path::NatGateway {
                        e.0 += c.bytes;
                    } else {
                        e.1 += c.bytes;
                    }
                }
            }
            "traffic totals of the scan (all egress of SageMaker ENIs)"
        }
        None => {
            for f in findings.iter().filter(|f| f.category != "posture") {
                let day = f
                    .first_seen
                    .as_deref()
                    .map_or("unknown".to_string(), |s| s.chars().take(10).collect());
                let path: &'static str = Path::ALL
                    .iter()
                    .find(|p| p.as_str() == f.path)
                    .map_or("other", |p| p.as_str());
                *by_day.entry((day, path)).or_default() += f.bytes;
                if matches!(f.path.as_str(), "nat-gateway" | "internet-gateway") {
                    let who = f
                        .resource
                        .as_ref()
                        .map_or_else(|| f.eni.clone(), |r| format!("{}/{}", r.kind, r.name));
                    let e = top.entry(who).or_default();
                    if f.path == "nat-gateway" {
                        e.0 += f.bytes;
                    } else {
                        e.1 += f.bytes;
                    }
                }
            }
            "findings only (no traffic totals: the traffic that raised nothing is not shown)"
        }
    };
    let mut top: Vec<ResourceBytes> = top
        .into_iter()
        .map(|(resource, (n, i))| ResourceBytes {
            resource,
            nat_bytes: n,
            igw_bytes: i,
        })
        .collect();
    top.sort_by(|a, b| {
        (b.nat_bytes + b.igw_bytes)
            .cmp(&(a.nat_bytes + a.igw_bytes))
            .then(a.resource.cmp(&b.resource))
    });
    top.truncate(10);
    let mut over: BTreeMap<(String, String), u64> = BTreeMap::new();
    for f in findings.iter().filter(|f| f.category != "posture") {
        let who = f
            .resource
            .as_ref()
            .map_or_else(|| f.eni.clone(), |r| format!("{}/{}", r.kind, r.name));
        let day = f
            .first_seen
            .as_deref()
            .map_or("unknown".to_string(), |s| s.chars().take(10).collect());
        *over.entry((who, day)).or_default() += 1;
    }
    Charts {
        egress_source: source.into(),
        egress_by_day: by_day
            .into_iter()
            .map(|((day, path), bytes)| DayPath {
                day,
                path: path.into(),
                bytes,
            })
            .collect(),
        top_nat_igw: top,
        findings_over_time: over
            .into_iter()
            .map(|((resource, day), findings)| ResourceDayCount {
                resource,
                day,
                findings,
            })
            .collect(),
    }
}

fn traffic_rows(model: &Model, traffic: &Traffic) -> Vec<TrafficRow> {
    type K = (String, String, u8, u8, u16, u32);
    let mut m: BTreeMap<K, traffic::Cell> = BTreeMap::new();
    for (k, c) in &traffic.cells {
        let who = resource_label(model, k.resource).unwrap_or_else(|| format!("eni/{}", k.eni));
        let vpc = model
            .eni_by_id
            .get(k.eni.as_str())
            .and_then(|&i| model.enis.get(i as usize))
            .and_then(|e| model.vpcs.get(e.vpc as usize))
            .map_or_else(String::new, |v| v.id.to_string());
        posture::add(
            m.entry((who, vpc, k.class, k.path, k.svc, k.via))
                .or_default(),
            c,
        );
    }
    m.into_iter()
        .map(
            |((resource, vpc_id, class, path, svc, via), c)| TrafficRow {
                resource,
                vpc_id,
                dst_class: DstClass::from_u8(class).as_str().into(),
                path: Path::from_u8(path).as_str().into(),
                dst_service: (svc != NO_SYM)
                    .then(|| model.services.name(svc))
                    .flatten()
                    .unwrap_or("")
                    .to_string(),
                via_endpoint: (via != NONE)
                    .then(|| model.enis.get(via as usize))
                    .flatten()
                    .map_or_else(String::new, |e| e.id.to_string()),
                flows: c.flows,
                packets: c.packets,
                bytes: c.bytes,
            },
        )
        .collect()
}

/// Builds the report: posture findings are evaluated here and added to the flow findings.
pub fn build(input: ReportInput<'_>) -> Report {
    let ReportInput {
        command,
        generated_at,
        inventory: inv,
        inventory_source,
        model,
        mut findings,
        summary,
        traffic,
        objects,
        packs,
        posture: posture_pack,
        requirements: reqs,
        prices: price_table,
    } = input;
    let posture_findings = posture::evaluate(posture_pack, inv, model, traffic);
    let n_posture = posture_findings.len() as u64;
    let n_flow = findings.len() as u64;
    findings.extend(posture_findings);
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(a.first_seen.cmp(&b.first_seen))
            .then(a.id.cmp(&b.id))
    });

    let (flow_logs, objects_unnamed) = coverage(objects, inv);
    let (mut start, mut end) = (i64::MAX, i64::MIN);
    if let Some(t) = traffic {
        for c in t.cells.values() {
            start = start.min(c.first);
            end = end.max(c.last);
        }
    }
    for f in &findings {
        if let Some(s) = f.first_seen.as_deref().and_then(crate::time::parse_rfc3339) {
            start = start.min(s);
        }
        if let Some(s) = f.last_seen.as_deref().and_then(crate::time::parse_rfc3339) {
            end = end.max(s);
        }
    }
    let known = start <= end;
    let period_days = if known {
        ((end - start).max(3600) as f64) / 86_400.0
    } else {
        1.0
    };

    let enis_observed = traffic.map_or(0, |t| {
        t.cells
            .keys()
            .map(|k| k.eni.as_str())
            .collect::<BTreeSet<_>>()
            .len() as u64
    });
    let population = Population {
        objects: summary.map(|s| s.files),
        failed_objects: summary.map(|s| s.failed_files),
        records: summary.map(|s| s.records),
        nodata: summary.map(|s| s.nodata),
        skipdata: summary.map(|s| s.skipdata),
        skipped: summary.map(|s| s.skipped),
        bytes_read: summary.map(|s| s.bytes_read),
        enis_observed,
        enis_in_inventory: model
            .enis
            .iter()
            .filter(|e| !e.resources.is_empty())
            .count() as u64,
        resources: controls::resources(inv, model).len() as u64,
        findings: n_flow,
        posture_findings: n_posture,
    };
    let controls = controls::rows(inv, model, traffic, &findings, reqs);
    let cost = prices::cost(inv, model, traffic, price_table, period_days);
    Report {
        schema: 1,
        title: "SageMaker egress evidence report".into(),
        tool: Tool {
            name: "egresswatch".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
        generated_at: format_rfc3339(generated_at),
        command,
        packs,
        inventory: inventory_ref(inv, &inventory_source),
        period: Period {
            start: known.then(|| format_rfc3339(start)),
            end: known.then(|| format_rfc3339(end)),
            flow_logs,
            objects_unnamed,
        },
        population,
        controls,
        charts: charts(model, traffic, &findings),
        cost,
        traffic: traffic.map_or_else(Vec::new, |t| traffic_rows(model, t)),
        findings,
        errors: summary.map_or_else(Vec::new, |s| s.errors.clone()),
    }
}

/// Where to write the report's files; `None` skips that output.
#[derive(Debug, Clone, Default)]
pub struct Outputs {
    pub html: Option<PathBuf>,
    pub json: Option<PathBuf>,
    pub csv_dir: Option<PathBuf>,
    /// The manifest; default `MANIFEST.sha256` beside the first output.
    pub manifest: Option<PathBuf>,
}

fn write_file(path: &FsPath, bytes: &[u8]) -> Result<(), ReportError> {
    let err = |source| ReportError::Write {
        path: path.display().to_string(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    let mut f = std::fs::File::create(path).map_err(err)?;
    f.write_all(bytes).map_err(err)?;
    f.sync_all().map_err(err)
}

/// Writes the outputs and the manifest; returns the files written (manifest last).
pub fn write(report: &Report, out: &Outputs) -> Result<Vec<PathBuf>, ReportError> {
    let mut written: Vec<(PathBuf, String)> = Vec::new();
    let mut record = |p: &FsPath, bytes: &[u8]| -> Result<(), ReportError> {
        write_file(p, bytes)?;
        written.push((p.to_path_buf(), posture::hex(&Sha256::digest(bytes))));
        Ok(())
    };
    if let Some(p) = &out.json {
        let mut v = serde_json::to_vec_pretty(report)?;
        v.push(b'\n');
        record(p, &v)?;
    }
    if let Some(dir) = &out.csv_dir {
        for (name, bytes) in csv_out::render(report)? {
            record(&dir.join(name), &bytes)?;
        }
    }
    if let Some(p) = &out.html {
        record(p, html::render(report).as_bytes())?;
    }
    let manifest = match &out.manifest {
        Some(m) => m.clone(),
        None => {
            let first =
                written
                    .first()
                    .map(|(p, _)| p.clone())
                    .ok_or_else(|| ReportError::Table {
                        file: "-".into(),
                        message: "nothing to write: give --out, --json or --csv".into(),
                    })?;
            let dir = if out.csv_dir.as_deref() == Some(first.as_path()) {
                first
            } else {
                first.parent().map(FsPath::to_path_buf).unwrap_or_default()
            };
            dir.join("MANIFEST.sha256")
        }
    };
    let base = manifest
        .parent()
        .map(FsPath::to_path_buf)
        .unwrap_or_default();
    // `sha256sum -c MANIFEST.sha256` run in the manifest's folder verifies it.
    let mut text = String::new();
    for (p, h) in &written {
        let shown = pathdiff(p, &base);
        text.push_str(&format!("{h}  {shown}\n"));
    }
    write_file(&manifest, text.as_bytes())?;
    let mut files: Vec<PathBuf> = written.into_iter().map(|(p, _)| p).collect();
    files.push(manifest);
    Ok(files)
}

/// `p` relative to `base` when it lies under it, else `p` made absolute.
fn pathdiff(p: &FsPath, base: &FsPath) -> String {
    let abs = |x: &FsPath| std::path::absolute(x).unwrap_or_else(|_| x.to_path_buf());
    let (pa, ba) = (abs(p), abs(base));
    match pa.strip_prefix(&ba) {
        Ok(rel) => rel.display().to_string(),
        Err(_) => pa.display().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_and_days() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(3 * 1024 * 1024), "3.0 MiB");
        assert_eq!(day_name(0), "1970-01-01");
        assert_eq!(day_name(NO_DAY), "unknown");
    }

    #[test]
    fn gaps_are_hours_without_objects() {
        let names: Vec<String> = ["0900", "1000", "1300"]
            .iter()
            .map(|t| format!("AWSLogs/1/vpcflowlogs/us-east-1/2026/11/20/111122223333_vpcflowlogs_us-east-1_fl-1_20261120T{t}Z_ab.log.gz"))
            .chain(["local/file.log".to_string()])
            .collect();
        let (cov, unnamed) = coverage(&names, &Inventory::default());
        assert_eq!(unnamed, 1);
        assert_eq!(cov.len(), 1);
        assert_eq!(cov[0].objects, 3);
        assert_eq!(
            cov[0].missing_hours,
            ["2026-11-20T11:00:00Z", "2026-11-20T12:00:00Z"]
        );
    }
}
