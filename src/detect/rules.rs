//! Rule packs: TOML files in `rules/`, validated on load (errors name the file and line) and
//! compiled against the network model into bitmask predicates.

use std::collections::HashSet;
use std::fmt;
use std::path::Path as FsPath;

use serde::{Deserialize, Serialize};

use crate::enrich::model::Model;
use crate::enrich::{Dir, DstClass, Path, RegionRel};

/// The built-in pack, compiled into the binary so it works from any directory.
pub const BUILTIN: &str = include_str!("../../rules/sagemaker-egress.toml");
pub const BUILTIN_NAME: &str = "rules/sagemaker-egress.toml";

#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    #[error("rules {file}: cannot read: {source}")]
    Io {
        file: String,
        source: std::io::Error,
    },
    #[error("rules {file}: {message}")]
    Invalid { file: String, message: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// ENIs attributed to a SageMaker resource (or labelled as SageMaker).
    #[default]
    Sagemaker,
    /// Every ENI in the logs.
    All,
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Scope::Sagemaker => "sagemaker",
            Scope::All => "all",
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ActionName {
    Accept,
    Reject,
}

/// A port or an inclusive range written `"8000-8999"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum PortSpec {
    One(u16),
    Range(String),
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cond {
    pub direction: Option<Vec<Dir>>,
    pub action: Option<Vec<ActionName>>,
    pub path: Option<Vec<Path>>,
    pub path_not: Option<Vec<Path>>,
    pub destination: Option<Vec<DstClass>>,
    pub destination_not: Option<Vec<DstClass>>,
    pub dst_service: Option<Vec<String>>,
    pub dst_service_not: Option<Vec<String>>,
    pub dst_region: Option<Vec<RegionRel>>,
    pub dst_port: Option<Vec<PortSpec>>,
    pub dst_port_not: Option<Vec<PortSpec>>,
    pub protocol: Option<Vec<u8>>,
    pub network_isolation: Option<bool>,
    pub resource_kind: Option<Vec<String>>,
    pub cleartext: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleDef {
    pub id: String,
    pub category: String,
    pub severity: Severity,
    pub title: String,
    pub control: String,
    #[serde(default)]
    pub description: String,
    pub scope: Option<Scope>,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(rename = "match")]
    pub when: Cond,
    #[serde(default)]
    pub unless: Vec<Cond>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Classify {
    #[serde(default)]
    pub internet_services: Vec<String>,
    /// Protocols that are cleartext by definition: without an encryption-status field, traffic
    /// to these ports is `cleartext`.
    #[serde(default)]
    pub cleartext_ports: Vec<u16>,
    /// Protocols that carry TLS as often as not (databases, brokers, SMTP with STARTTLS): only
    /// an encryption-status of 0 makes their traffic `cleartext`, never the port alone. A port
    /// listed here by any loaded pack is removed from every pack's `cleartext_ports`.
    #[serde(default)]
    pub tls_optional_ports: Vec<u16>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackFile {
    pub schema: u32,
    pub pack: String,
    pub version: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub classify: Classify,
    #[serde(default, rename = "rule")]
    pub rules: Vec<RuleDef>,
    /// Behavioural baselines (rules EW-1xx): thresholds, learning, family overrides.
    #[serde(default)]
    pub baseline: Option<crate::baseline::BaselineConfig>,
}

/// Every loaded pack, merged.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    pub rules: Vec<RuleDef>,
    pub classify: Classify,
    /// The last loaded pack's `[baseline]`, else the defaults.
    pub baseline: crate::baseline::BaselineConfig,
    pub packs: Vec<(String, String)>,
}

fn line_of(text: &str, needle: &str) -> usize {
    text.find(needle)
        .map(|at| text[..at].matches('\n').count() + 1)
        .unwrap_or(1)
}

fn parse_port(p: &PortSpec) -> Result<(u16, u16), String> {
    match p {
        PortSpec::One(v) => Ok((*v, *v)),
        PortSpec::Range(s) => {
            let (a, b) = s
                .split_once('-')
                .ok_or_else(|| format!("port range `{s}` is not `LOW-HIGH`"))?;
            let a: u16 = a
                .trim()
                .parse()
                .map_err(|_| format!("port range `{s}`: bad low port"))?;
            let b: u16 = b
                .trim()
                .parse()
                .map_err(|_| format!("port range `{s}`: bad high port"))?;
            if a > b {
                return Err(format!("port range `{s}` is reversed"));
            }
            Ok((a, b))
        }
    }
}

impl RuleSet {
    /// Parses one pack's text; `file` names it in errors.
    pub fn add_text(&mut self, file: &str, text: &str) -> Result<(), RuleError> {
        let invalid = |message: String| RuleError::Invalid {
            file: file.to_string(),
            message,
        };
        let pack: PackFile = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
            let msg = e.message().trim().to_string();
            invalid(match line {
                Some(l) => format!("line {l}: {msg}"),
                None => msg,
            })
        })?;
        if pack.schema != 1 {
            return Err(invalid(format!(
                "line {}: schema {} is not supported (this build reads schema 1)",
                line_of(text, "schema"),
                pack.schema
            )));
        }
        let mut seen: HashSet<&str> = self.rules.iter().map(|r| r.id.as_str()).collect();
        for r in &pack.rules {
            let line = line_of(text, &format!("\"{}\"", r.id));
            if r.id.trim().is_empty() {
                return Err(invalid(format!("line {line}: rule id is empty")));
            }
            if !seen.insert(&r.id) {
                return Err(invalid(format!(
                    "line {line}: rule id {} is defined twice",
                    r.id
                )));
            }
            for c in std::iter::once(&r.when).chain(&r.unless) {
                for p in c.dst_port.iter().chain(&c.dst_port_not).flatten() {
                    parse_port(p)
                        .map_err(|m| invalid(format!("line {line}: rule {}: {m}", r.id)))?;
                }
            }
            if r.when.direction.is_none() {
                return Err(invalid(format!(
                    "line {line}: rule {} has no `direction` in [rule.match]; say which records it applies to",
                    r.id
                )));
            }
        }
        self.classify
            .internet_services
            .extend(pack.classify.internet_services);
        if let Some(p) = pack
            .classify
            .cleartext_ports
            .iter()
            .find(|p| pack.classify.tls_optional_ports.contains(p))
        {
            return Err(invalid(format!(
                "line {}: port {p} is in both `cleartext_ports` and `tls_optional_ports`; keep it in one",
                line_of(text, "tls_optional_ports")
            )));
        }
        self.classify
            .cleartext_ports
            .extend(pack.classify.cleartext_ports);
        self.classify
            .tls_optional_ports
            .extend(pack.classify.tls_optional_ports);
        if let Some(b) = pack.baseline {
            b.validate().map_err(|m| {
                invalid(format!(
                    "line {}: [baseline] {m}",
                    line_of(text, "[baseline")
                ))
            })?;
            self.baseline = b;
        }
        self.packs.push((pack.pack, pack.version));
        self.rules.extend(pack.rules);
        Ok(())
    }

    pub fn builtin() -> Self {
        let mut s = RuleSet::default();
        // The built-in pack is tested; failing here is a build defect, not bad input.
        if let Err(e) = s.add_text(BUILTIN_NAME, BUILTIN) {
            panic!("built-in rule pack is invalid: {e}");
        }
        s
    }

    /// Loads `*.toml` from a directory (in name order) or a single file.
    pub fn load(path: &FsPath) -> Result<Self, RuleError> {
        let io = |source| RuleError::Io {
            file: path.display().to_string(),
            source,
        };
        let mut files = Vec::new();
        if path.is_dir() {
            for e in std::fs::read_dir(path).map_err(io)? {
                let p = e.map_err(io)?.path();
                if p.extension().is_some_and(|x| x == "toml") {
                    files.push(p);
                }
            }
            files.sort();
        } else {
            files.push(path.to_path_buf());
        }
        let mut s = RuleSet::default();
        for f in files {
            let text = std::fs::read_to_string(&f).map_err(|source| RuleError::Io {
                file: f.display().to_string(),
                source,
            })?;
            s.add_text(&f.display().to_string(), &text)?;
        }
        if s.rules.is_empty() {
            return Err(RuleError::Invalid {
                file: path.display().to_string(),
                message: "no rules found".into(),
            });
        }
        Ok(s)
    }
}

/// A condition compiled to masks and bitsets; `None`-like fields (0 masks, empty sets) match all.
#[derive(Debug, Clone)]
pub struct Compiled {
    dir: u32,
    action: u8,
    path: u32,
    path_not: u32,
    class: u32,
    class_not: u32,
    svc: Option<Vec<bool>>,
    svc_not: Option<Vec<bool>>,
    region: u32,
    ports: Option<Box<[u64; 1024]>>,
    ports_not: Option<Box<[u64; 1024]>>,
    proto: Option<[u64; 4]>,
    isolation: Option<bool>,
    kinds: Option<Vec<bool>>,
    cleartext: Option<bool>,
}

/// Everything one record offers to a condition.
#[derive(Debug, Clone, Copy)]
pub struct Facts {
    pub dir: u8,
    pub action: u8,
    pub path: u8,
    pub class: u8,
    pub svc: u16,
    pub region: u8,
    pub dport: Option<u16>,
    pub proto: u8,
    /// Resource index in the model, or NONE.
    pub resource: u32,
    pub isolation: Option<bool>,
    /// encryption-status when the log has it.
    pub encryption: Option<u8>,
}

fn mask<T: Copy>(v: &Option<Vec<T>>, bit: impl Fn(T) -> u32) -> u32 {
    v.as_ref()
        .map_or(0, |v| v.iter().fold(0, |m, &x| m | bit(x)))
}

fn ports(v: &Option<Vec<PortSpec>>) -> Option<Box<[u64; 1024]>> {
    let v = v.as_ref()?;
    let mut bits = Box::new([0u64; 1024]);
    for p in v {
        let (a, b) = parse_port(p).unwrap_or((1, 0));
        for port in a..=b {
            bits[port as usize / 64] |= 1 << (port % 64);
        }
    }
    Some(bits)
}

fn has_port(bits: &[u64; 1024], p: u16) -> bool {
    bits[p as usize / 64] & (1 << (p % 64)) != 0
}

impl Compiled {
    fn new(c: &Cond, m: &Model) -> Self {
        let svcs = |v: &Option<Vec<String>>| {
            v.as_ref().map(|names| {
                let mut set = vec![false; u16::MAX as usize + 1];
                for n in names {
                    if let Some(i) = m.services.get(&n.to_ascii_uppercase()) {
                        set[i as usize] = true;
                    }
                }
                set
            })
        };
        Compiled {
            dir: mask(&c.direction, Dir::bit),
            action: mask(&c.action, |a| match a {
                ActionName::Accept => 1 << crate::schema::ACTION_ACCEPT,
                ActionName::Reject => 1 << crate::schema::ACTION_REJECT,
            }) as u8,
            path: mask(&c.path, Path::bit),
            path_not: mask(&c.path_not, Path::bit),
            class: mask(&c.destination, DstClass::bit),
            class_not: mask(&c.destination_not, DstClass::bit),
            svc: svcs(&c.dst_service),
            svc_not: svcs(&c.dst_service_not),
            region: mask(&c.dst_region, RegionRel::bit),
            ports: ports(&c.dst_port),
            ports_not: ports(&c.dst_port_not),
            proto: c.protocol.as_ref().map(|v| {
                let mut b = [0u64; 4];
                for &p in v {
                    b[p as usize / 64] |= 1 << (p % 64);
                }
                b
            }),
            isolation: c.network_isolation,
            kinds: c.resource_kind.as_ref().map(|kinds| {
                m.resources
                    .iter()
                    .map(|r| kinds.iter().any(|k| k == r.kind_str()))
                    .collect()
            }),
            cleartext: c.cleartext,
        }
    }

    #[inline]
    /// The enumerated conditions alone (direction, action, path, destination class).
    pub(crate) fn enum_pass(&self, dir: u8, action: u8, path: u8, class: u8) -> bool {
        let bit = |v: u8| 1u32 << v;
        (self.dir == 0 || self.dir & bit(dir) != 0)
            && (self.action == 0 || (action < 8 && self.action & (1 << action) != 0))
            && (self.path == 0 || self.path & bit(path) != 0)
            && self.path_not & bit(path) == 0
            && (self.class == 0 || self.class & bit(class) != 0)
            && self.class_not & bit(class) == 0
    }

    pub(crate) fn region_pass(&self, region: u8) -> bool {
        self.region == 0 || self.region & (1u32 << region) != 0
    }

    pub(crate) fn svc_pass(&self, svc: u16) -> bool {
        self.svc.as_ref().is_none_or(|s| s[svc as usize])
            && self.svc_not.as_ref().is_none_or(|s| !s[svc as usize])
    }

    /// The conditions on the resource (kind, network isolation).
    pub(crate) fn resource_pass(&self, resource: u32, isolation: Option<bool>) -> bool {
        self.isolation.is_none_or(|want| isolation == Some(want))
            && self
                .kinds
                .as_ref()
                .is_none_or(|k| k.get(resource as usize).copied().unwrap_or(false))
    }

    /// The port conditions, and `cleartext` as judged by the port alone (when the record has
    /// no encryption-status); `cleartext_ports` excludes TLS-optional ports.
    pub(crate) fn port_pass(&self, dport: Option<u16>, cleartext_ports: &[u64; 1024]) -> bool {
        self.ports
            .as_ref()
            .is_none_or(|b| dport.is_some_and(|p| has_port(b, p)))
            && self
                .ports_not
                .as_ref()
                .is_none_or(|b| !dport.is_some_and(|p| has_port(b, p)))
            && self
                .cleartext
                .is_none_or(|want| dport.is_some_and(|p| has_port(cleartext_ports, p)) == want)
    }

    /// Adds every port its port conditions name to `bits`.
    pub(crate) fn mentioned_ports(&self, bits: &mut [u64; 1024]) {
        for set in self.ports.iter().chain(self.ports_not.iter()) {
            for (b, w) in bits.iter_mut().zip(set.iter()) {
                *b |= w;
            }
        }
    }

    pub(crate) fn uses_cleartext(&self) -> bool {
        self.cleartext.is_some()
    }

    pub(crate) fn dir_mask(&self) -> u32 {
        self.dir
    }

    pub fn matches(&self, f: &Facts, cleartext_ports: &[u64; 1024]) -> bool {
        let bit = |v: u8| 1u32 << v;
        (self.dir == 0 || self.dir & bit(f.dir) != 0)
            && (self.action == 0 || (f.action < 8 && self.action & (1 << f.action) != 0))
            && (self.path == 0 || self.path & bit(f.path) != 0)
            && self.path_not & bit(f.path) == 0
            && (self.class == 0 || self.class & bit(f.class) != 0)
            && self.class_not & bit(f.class) == 0
            && (self.region == 0 || self.region & bit(f.region) != 0)
            && self.svc.as_ref().is_none_or(|s| s[f.svc as usize])
            && self.svc_not.as_ref().is_none_or(|s| !s[f.svc as usize])
            && self
                .ports
                .as_ref()
                .is_none_or(|b| f.dport.is_some_and(|p| has_port(b, p)))
            && self
                .ports_not
                .as_ref()
                .is_none_or(|b| !f.dport.is_some_and(|p| has_port(b, p)))
            && self
                .proto
                .as_ref()
                .is_none_or(|b| b[f.proto as usize / 64] & (1 << (f.proto % 64)) != 0)
            && self.isolation.is_none_or(|want| f.isolation == Some(want))
            && self
                .kinds
                .as_ref()
                .is_none_or(|k| k.get(f.resource as usize).copied().unwrap_or(false))
            && self.cleartext.is_none_or(|want| {
                // encryption-status decides for every port when the log has it; without it only
                // a cleartext-by-definition port is cleartext (TLS-optional ports are not in
                // the set).
                let clear = match f.encryption {
                    Some(e) => e == 0,
                    None => f.dport.is_some_and(|p| has_port(cleartext_ports, p)),
                };
                clear == want
            })
    }
}

/// A rule ready to evaluate.
#[derive(Debug, Clone)]
pub struct CompiledRule {
    pub def: RuleDef,
    pub scope: Scope,
    pub when: Compiled,
    pub unless: Vec<Compiled>,
}

#[derive(Clone)]
pub struct CompiledRules {
    pub rules: Vec<CompiledRule>,
    /// Ports that are cleartext by port alone (no encryption-status): `cleartext_ports` minus
    /// `tls_optional_ports`.
    pub cleartext_ports: Box<[u64; 1024]>,
    /// Candidate rules per record from table lookups (`None` for packs over 64 rules).
    pub prefilter: Option<std::sync::Arc<super::prefilter::Prefilter>>,
}

impl fmt::Debug for CompiledRules {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompiledRules")
            .field("rules", &self.rules)
            .field("prefilter", &self.prefilter.is_some())
            .finish()
    }
}

impl CompiledRules {
    /// Compiles enabled rules; `default_scope` applies to rules that do not set one.
    pub fn compile(set: &RuleSet, model: &Model, default_scope: Scope) -> Self {
        let mut clear = Box::new([0u64; 1024]);
        for &p in &set.classify.cleartext_ports {
            clear[p as usize / 64] |= 1 << (p % 64);
        }
        // A TLS-optional port is never cleartext by port alone, whichever pack listed it.
        for &p in &set.classify.tls_optional_ports {
            clear[p as usize / 64] &= !(1 << (p % 64));
        }
        let mut c = CompiledRules {
            rules: set
                .rules
                .iter()
                .filter(|r| r.enabled)
                .map(|r| CompiledRule {
                    def: r.clone(),
                    scope: r.scope.unwrap_or(default_scope),
                    when: Compiled::new(&r.when, model),
                    unless: r.unless.iter().map(|u| Compiled::new(u, model)).collect(),
                })
                .collect(),
            cleartext_ports: clear,
            prefilter: None,
        };
        c.prefilter = super::prefilter::Prefilter::new(&c, model).map(std::sync::Arc::new);
        c
    }

    /// Some rule looks at every ENI, not only SageMaker's.
    pub fn any_scope_all(&self) -> bool {
        self.rules.iter().any(|r| r.scope == Scope::All)
    }

    /// Some rule can match return traffic.
    pub fn any_matches_return(&self) -> bool {
        self.rules
            .iter()
            .any(|r| r.when.dir_mask() == 0 || r.when.dir_mask() & Dir::Return.bit() != 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_pack_loads_with_every_category() {
        let s = RuleSet::builtin();
        let cats: Vec<&str> = s.rules.iter().map(|r| r.category.as_str()).collect();
        for c in [
            "isolation-violation",
            "internet-egress",
            "endpoint-bypass",
            "cross-region-s3",
            "plaintext-transit",
            "dns-egress",
            "blocked-egress-attempt",
        ] {
            assert!(cats.contains(&c), "missing {c}");
        }
        assert!(s.classify.internet_services.iter().any(|x| x == "EC2"));
    }

    #[test]
    fn errors_name_file_and_line() {
        let mut s = RuleSet::default();
        let text = "schema = 1\npack = \"p\"\nversion = \"1\"\n\n[[rule]]\nid = \"X\"\ncategory = \"c\"\nseverity = \"urgent\"\ntitle = \"t\"\ncontrol = \"c\"\n[rule.match]\ndirection = [\"egress\"]\n";
        let e = s.add_text("rules/bad.toml", text).unwrap_err().to_string();
        assert!(e.contains("rules/bad.toml") && e.contains("line 8"), "{e}");

        let text = "schema = 1\npack = \"p\"\nversion = \"1\"\n[[rule]]\nid = \"X\"\ncategory = \"c\"\nseverity = \"low\"\ntitle = \"t\"\ncontrol = \"c\"\n[rule.match]\ndirection = [\"egress\"]\npath = [\"warp-drive\"]\n";
        let e = RuleSet::default()
            .add_text("r.toml", text)
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 12") && e.contains("warp-drive"), "{e}");

        let text = "schema = 1\npack = \"p\"\nversion = \"1\"\n[[rule]]\nid = \"X\"\ncategory = \"c\"\nseverity = \"low\"\ntitle = \"t\"\ncontrol = \"c\"\n[rule.match]\ndirection = [\"egress\"]\nfrobnicate = true\n";
        let e = RuleSet::default()
            .add_text("r.toml", text)
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 12") && e.contains("frobnicate"), "{e}");

        let dup = "schema = 1\npack = \"p\"\nversion = \"1\"\n[[rule]]\nid = \"X\"\ncategory = \"c\"\nseverity = \"low\"\ntitle = \"t\"\ncontrol = \"c\"\n[rule.match]\ndirection = [\"egress\"]\n[[rule]]\nid = \"X\"\ncategory = \"c\"\nseverity = \"low\"\ntitle = \"t\"\ncontrol = \"c\"\n[rule.match]\ndirection = [\"egress\"]\n";
        let e = RuleSet::default()
            .add_text("r.toml", dup)
            .unwrap_err()
            .to_string();
        assert!(e.contains("defined twice"), "{e}");
    }

    #[test]
    fn compiled_masks_match() {
        let m = Model::build(&Default::default(), None);
        let c = Cond {
            direction: Some(vec![Dir::Egress]),
            path: Some(vec![Path::NatGateway]),
            dst_port: Some(vec![
                PortSpec::One(443),
                PortSpec::Range("8000-8999".into()),
            ]),
            ..Default::default()
        };
        let k = Compiled::new(&c, &m);
        let clear = [0u64; 1024];
        let mut f = Facts {
            dir: Dir::Egress as u8,
            action: 1,
            path: Path::NatGateway as u8,
            class: DstClass::Internet as u8,
            svc: u16::MAX,
            region: 0,
            dport: Some(8500),
            proto: 6,
            resource: u32::MAX,
            isolation: None,
            encryption: None,
        };
        assert!(k.matches(&f, &clear));
        f.dport = Some(9000);
        assert!(!k.matches(&f, &clear));
        f.dport = Some(443);
        f.path = Path::InternetGateway as u8;
        assert!(!k.matches(&f, &clear));
    }

    /// Egress accepted through a NAT gateway to an internet address, on `dport`.
    fn nat_internet(dport: u16, encryption: Option<u8>) -> Facts {
        Facts {
            dir: Dir::Egress as u8,
            action: crate::schema::ACTION_ACCEPT,
            path: Path::NatGateway as u8,
            class: DstClass::Internet as u8,
            svc: u16::MAX,
            region: 0,
            dport: Some(dport),
            proto: 6,
            resource: u32::MAX,
            isolation: None,
            encryption,
        }
    }

    /// Ids of the rules that raise a finding for `f` (match, and no `unless` holds).
    fn firing(c: &CompiledRules, f: &Facts) -> Vec<String> {
        c.rules
            .iter()
            .filter(|r| {
                r.when.matches(f, &c.cleartext_ports)
                    && !r.unless.iter().any(|u| u.matches(f, &c.cleartext_ports))
            })
            .map(|r| r.def.id.clone())
            .collect()
    }

    fn compile(set: &RuleSet) -> CompiledRules {
        let m = Model::build(&Default::default(), None);
        CompiledRules::compile(set, &m, Scope::All)
    }

    fn pack(classify: &str) -> String {
        format!(
            "schema = 1\npack = \"p\"\nversion = \"1\"\n[classify]\n{classify}\n[[rule]]\nid = \"P-1\"\ncategory = \"plaintext-transit\"\nseverity = \"low\"\ntitle = \"t\"\ncontrol = \"c\"\n[rule.match]\ndirection = [\"egress\"]\ncleartext = true\n"
        )
    }

    #[test]
    fn builtin_splits_cleartext_from_tls_optional_ports() {
        let s = RuleSet::builtin();
        let c = &s.classify;
        for p in [20, 21, 23, 80, 110, 143, 389, 513, 514, 1883, 11211] {
            assert!(c.cleartext_ports.contains(&p), "{p} cleartext");
        }
        for p in [25, 3306, 5432, 5672, 6379, 8080, 9200, 27017] {
            assert!(c.tls_optional_ports.contains(&p), "{p} tls-optional");
            assert!(!c.cleartext_ports.contains(&p), "{p} not cleartext");
        }
    }

    #[test]
    fn tls_optional_ports_need_encryption_status_evidence() {
        let c = compile(&RuleSet::builtin());
        let plain = |dport, enc| firing(&c, &nat_internet(dport, enc)).contains(&"EW-005".into());
        // Cleartext by definition: the port is enough without the field.
        assert!(plain(21, None));
        assert!(plain(80, None));
        // TLS-optional: never by port alone; encryption-status 0 is the evidence.
        for p in [25, 3306, 5432, 5672, 6379, 8080, 9200, 27017] {
            assert!(!plain(p, None), "{p} without encryption-status");
            assert!(plain(p, Some(0)), "{p} with encryption-status 0");
            assert!(!plain(p, Some(1)), "{p} with encryption-status 1");
        }
        // With the field, it decides for every port.
        assert!(plain(443, Some(0)));
        assert!(!plain(443, None));
        assert!(!plain(21, Some(1)));
        assert!(!plain(80, Some(2)));
    }

    #[test]
    fn pack_with_only_cleartext_ports_still_loads_and_judges_by_them() {
        let mut s = RuleSet::default();
        s.add_text("old.toml", &pack("cleartext_ports = [80, 5432]"))
            .unwrap();
        assert!(s.classify.tls_optional_ports.is_empty());
        let c = compile(&s);
        assert_eq!(firing(&c, &nat_internet(5432, None)), ["P-1"]);
        assert_eq!(firing(&c, &nat_internet(80, None)), ["P-1"]);
        assert!(firing(&c, &nat_internet(443, None)).is_empty());
    }

    #[test]
    fn tls_optional_in_any_pack_wins_over_cleartext_in_another() {
        let mut s = RuleSet::default();
        s.add_text("a.toml", &pack("cleartext_ports = [80, 5432]"))
            .unwrap();
        s.add_text(
            "b.toml",
            &pack("tls_optional_ports = [5432]").replace("P-1", "P-2"),
        )
        .unwrap();
        let c = compile(&s);
        assert!(firing(&c, &nat_internet(5432, None)).is_empty());
        assert_eq!(firing(&c, &nat_internet(5432, Some(0))), ["P-1", "P-2"]);
        assert_eq!(firing(&c, &nat_internet(80, None)), ["P-1", "P-2"]);
    }

    #[test]
    fn port_in_both_lists_of_one_pack_is_rejected() {
        let e = RuleSet::default()
            .add_text(
                "r.toml",
                &pack("cleartext_ports = [80, 5432]\ntls_optional_ports = [5432]"),
            )
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("r.toml") && e.contains("line 6") && e.contains("5432"),
            "{e}"
        );
    }

    #[test]
    fn dns_through_nat_is_one_dns_egress_finding() {
        let c = compile(&RuleSet::builtin());
        assert_eq!(firing(&c, &nat_internet(53, None)), ["EW-006"]);
        assert_eq!(firing(&c, &nat_internet(853, None)), ["EW-006"]);
        let mut igw = nat_internet(53, None);
        igw.path = Path::InternetGateway as u8;
        assert_eq!(firing(&c, &igw), ["EW-006"]);
        // Other ports through NAT stay internet egress.
        assert_eq!(firing(&c, &nat_internet(443, None)), ["EW-002"]);
        assert_eq!(firing(&c, &nat_internet(54, None)), ["EW-002"]);
    }
}
