//! The ENI ledger: one record per ENI lifetime, from every source that ever saw the ENI
//! (CloudTrail, inventory snapshots, hand labels), kept after the ENI is deleted. SageMaker
//! deletes a job's ENIs when the job ends, so a forensic scan of yesterday's flow logs needs
//! this history; the live inventory no longer lists them.
//!
//! Persisted as append-only JSON-lines segments under `ledger/` in a [`Store`]: every run writes
//! one new segment with what it learned, readers merge all segments. Merging is order-free
//! (earliest creation, latest sighting, union of evidence), so two writers never conflict, a
//! segment written twice changes nothing, and `kill -9` leaves either a whole segment or none.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use crate::state::{Store, StoreError};

/// How a time is written in the ledger: RFC 3339, read back to Unix seconds.
mod rfc3339 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.serialize_str(&crate::time::format_rfc3339(*t)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        let v: Option<String> = Option::deserialize(d)?;
        Ok(v.and_then(|s| crate::time::parse_rfc3339(&s)))
    }
}

/// Who created an ENI, as CloudTrail's `userIdentity` says.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CreatedBy {
    pub principal_id: Option<String>,
    /// The role the session was issued for: the join key to a job's `RoleArn`.
    pub session_issuer_arn: Option<String>,
    pub session_name: Option<String>,
    pub invoked_by: Option<String>,
    pub source_ip: Option<String>,
}

/// The resource an ENI was attributed to when a source saw it (kept: the resource's own
/// Describe output may be gone later).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Owner {
    pub kind: String,
    pub name: String,
    pub arn: Option<String>,
    pub network_isolation: Option<bool>,
    /// `exact`, `strong`, ... as decided by the source.
    pub confidence: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct LedgerEvidence {
    /// `cloudtrail`, `inventory`, `snapshot`, `eventbridge`.
    pub source: String,
    /// The event id, file or object key.
    pub id: String,
    #[serde(default, with = "rfc3339", skip_serializing_if = "Option::is_none")]
    pub time: Option<i64>,
}

/// One ENI lifetime. Field names follow eni-history section 8.2 and are a contract of
/// `inventory history --format jsonl`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EniLife {
    pub eni: String,
    pub account: Option<String>,
    pub region: Option<String>,
    pub vpc_id: Option<String>,
    pub subnet_id: Option<String>,
    pub az: Option<String>,
    pub private_ips: Vec<String>,
    pub security_groups: Vec<String>,
    pub description: Option<String>,
    pub tags: BTreeMap<String, String>,
    pub interface_type: Option<String>,
    pub requester_id: Option<String>,
    pub requester_managed: Option<bool>,
    #[serde(with = "rfc3339")]
    pub created_at: Option<i64>,
    pub created_by: Option<CreatedBy>,
    #[serde(with = "rfc3339")]
    pub deleted_at: Option<i64>,
    /// Inventory snapshots: first and last time the ENI was listed, and the first snapshot that
    /// no longer listed it (it was deleted between `last_seen` and `gone_by`).
    #[serde(with = "rfc3339")]
    pub first_seen: Option<i64>,
    #[serde(with = "rfc3339")]
    pub last_seen: Option<i64>,
    #[serde(with = "rfc3339")]
    pub gone_by: Option<i64>,
    /// Account granted INSTANCE-ATTACH (CreateNetworkInterfacePermission): the service account.
    pub permission_account: Option<String>,
    pub evidence: Vec<LedgerEvidence>,
    pub owner: Option<Owner>,
}

impl EniLife {
    /// When the ENI stopped existing, as well as it is known: the delete event, else the first
    /// snapshot that no longer listed it.
    pub fn end(&self) -> Option<i64> {
        match (self.deleted_at, self.gone_by) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// When it started, as well as it is known.
    pub fn start(&self) -> Option<i64> {
        self.created_at
    }

    fn merge(&mut self, o: EniLife) {
        fn first<T>(a: &mut Option<T>, b: Option<T>) {
            if a.is_none() {
                *a = b;
            }
        }
        first(&mut self.account, o.account);
        first(&mut self.region, o.region);
        first(&mut self.vpc_id, o.vpc_id);
        first(&mut self.subnet_id, o.subnet_id);
        first(&mut self.az, o.az);
        first(&mut self.description, o.description);
        first(&mut self.interface_type, o.interface_type);
        first(&mut self.requester_id, o.requester_id);
        first(&mut self.requester_managed, o.requester_managed);
        first(&mut self.created_by, o.created_by);
        first(&mut self.permission_account, o.permission_account);
        // An owner decided with more certainty wins over a weaker one.
        let rank = |o: &Option<Owner>| {
            o.as_ref()
                .and_then(|o| o.confidence.as_deref())
                .map_or(9, |c| match c {
                    "exact" => 0,
                    "strong" => 1,
                    "group" => 2,
                    "inferred" => 3,
                    _ => 4,
                })
        };
        if o.owner.is_some() && (self.owner.is_none() || rank(&o.owner) < rank(&self.owner)) {
            self.owner = o.owner;
        }
        for ip in o.private_ips {
            if !self.private_ips.contains(&ip) {
                self.private_ips.push(ip);
            }
        }
        if self.security_groups.is_empty() {
            self.security_groups = o.security_groups;
        }
        for (k, v) in o.tags {
            self.tags.entry(k).or_insert(v);
        }
        min(&mut self.created_at, o.created_at);
        min(&mut self.deleted_at, o.deleted_at);
        min(&mut self.first_seen, o.first_seen);
        self.last_seen = self.last_seen.max(o.last_seen);
        min(&mut self.gone_by, o.gone_by);
        union_evidence(&mut self.evidence, o.evidence);
    }
}

/// The earlier of two optional times (a known one wins over an unknown one).
fn min(a: &mut Option<i64>, b: Option<i64>) {
    *a = match (*a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    };
}

/// Evidence of both, once each, in order.
fn union_evidence(into: &mut Vec<LedgerEvidence>, more: Vec<LedgerEvidence>) {
    let mut ev: BTreeSet<LedgerEvidence> = std::mem::take(into).into_iter().collect();
    ev.extend(more);
    *into = ev.into_iter().collect();
}

/// A SageMaker resource as its CloudTrail `Create*` call (or state-change event) described it:
/// enough to attribute ENIs after its Describe output is gone.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ResourceFact {
    /// `training-job`, `processing-job`, `transform-job`, `hyper-parameter-tuning-job`,
    /// `model`, `endpoint-config`, `endpoint`, `notebook-instance`.
    pub kind: String,
    pub name: String,
    pub arn: Option<String>,
    pub role_arn: Option<String>,
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    pub network_isolation: Option<bool>,
    pub instance_count: Option<u32>,
    /// Tuning job of a training job; model of a transform job; config of an endpoint.
    pub parent: Option<String>,
    /// Models an endpoint config serves.
    pub models: Vec<String>,
    #[serde(with = "rfc3339")]
    pub created_at: Option<i64>,
    #[serde(with = "rfc3339")]
    pub started_at: Option<i64>,
    #[serde(with = "rfc3339")]
    pub ended_at: Option<i64>,
    pub evidence: Vec<LedgerEvidence>,
}

impl ResourceFact {
    fn merge(&mut self, o: ResourceFact) {
        fn first<T>(a: &mut Option<T>, b: Option<T>) {
            if a.is_none() {
                *a = b;
            }
        }
        first(&mut self.arn, o.arn);
        first(&mut self.role_arn, o.role_arn);
        first(&mut self.network_isolation, o.network_isolation);
        first(&mut self.instance_count, o.instance_count);
        first(&mut self.parent, o.parent);
        if self.subnets.is_empty() {
            self.subnets = o.subnets;
        }
        if self.security_groups.is_empty() {
            self.security_groups = o.security_groups;
        }
        for m in o.models {
            if !self.models.contains(&m) {
                self.models.push(m);
            }
        }
        min(&mut self.created_at, o.created_at);
        min(&mut self.started_at, o.started_at);
        self.ended_at = self.ended_at.max(o.ended_at);
        union_evidence(&mut self.evidence, o.evidence);
    }
}

/// Where a continuous reader of a trail stopped (watch restarts resume from here).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TrailCheckpoint {
    pub location: String,
    #[serde(with = "rfc3339")]
    pub until: Option<i64>,
}

/// Route tables and VPC endpoints as one inventory snapshot saw them: records older than the
/// inventory are routed with the snapshot in effect at their time (an S3 gateway endpoint added
/// on day 10 does not rewrite days 1-9). Written only when they changed since the last one.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RouteSnapshot {
    #[serde(with = "rfc3339")]
    pub taken_at: Option<i64>,
    pub source: String,
    pub route_tables: Vec<super::RouteTable>,
    pub vpc_endpoints: Vec<super::VpcEndpoint>,
}

impl RouteSnapshot {
    /// The routing part of an inventory, in a stable order (for change detection).
    pub fn of(inv: &super::Inventory, taken_at: i64, source: &str) -> RouteSnapshot {
        let mut route_tables = inv.route_tables.clone();
        route_tables.sort_by(|a, b| a.route_table_id.cmp(&b.route_table_id));
        let mut vpc_endpoints = inv.vpc_endpoints.clone();
        vpc_endpoints.sort_by(|a, b| a.vpc_endpoint_id.cmp(&b.vpc_endpoint_id));
        RouteSnapshot {
            taken_at: Some(taken_at),
            source: source.to_string(),
            route_tables,
            vpc_endpoints,
        }
    }

    fn same_routes(&self, o: &RouteSnapshot) -> bool {
        self.route_tables == o.route_tables && self.vpc_endpoints == o.vpc_endpoints
    }
}

/// One line of a ledger segment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
#[allow(clippy::large_enum_variant)] // lines are parsed one at a time; boxing buys nothing
pub enum Entry {
    Eni(EniLife),
    Resource(ResourceFact),
    TrailCheckpoint(TrailCheckpoint),
    Routes(RouteSnapshot),
}

/// The merged ledger.
#[derive(Debug, Clone, Default)]
pub struct Ledger {
    pub enis: BTreeMap<String, EniLife>,
    pub resources: BTreeMap<(String, String), ResourceFact>,
    pub checkpoints: BTreeMap<String, Option<i64>>,
    /// Route snapshots by time (one per time: a repeated snapshot is the same fact).
    pub routes: Vec<RouteSnapshot>,
    /// Lines that did not parse, each logged with segment and line (never fatal: a ledger
    /// written by a newer version, or a torn line, must not stop a scan).
    pub skipped: u64,
    /// Segments read.
    pub segments: usize,
    /// Event ids already merged (CloudTrail de-duplication across runs).
    pub seen_events: std::collections::HashSet<String>,
}

pub const DIR: &str = "ledger";

impl Ledger {
    pub fn is_empty(&self) -> bool {
        self.enis.is_empty() && self.resources.is_empty()
    }

    pub fn add(&mut self, e: Entry) {
        match e {
            Entry::Eni(l) => {
                for ev in &l.evidence {
                    if ev.source == "cloudtrail" || ev.source == "eventbridge" {
                        self.seen_events.insert(ev.id.clone());
                    }
                }
                match self.enis.get_mut(&l.eni) {
                    Some(x) => x.merge(l),
                    None => {
                        self.enis.insert(l.eni.clone(), l);
                    }
                }
            }
            Entry::Resource(r) => {
                for ev in &r.evidence {
                    if ev.source == "cloudtrail" || ev.source == "eventbridge" {
                        self.seen_events.insert(ev.id.clone());
                    }
                }
                let k = (r.kind.clone(), r.name.clone());
                match self.resources.get_mut(&k) {
                    Some(x) => x.merge(r),
                    None => {
                        self.resources.insert(k, r);
                    }
                }
            }
            Entry::TrailCheckpoint(c) => {
                let e = self.checkpoints.entry(c.location).or_insert(None);
                *e = (*e).max(c.until);
            }
            Entry::Routes(r) => {
                let at = self.routes.partition_point(|x| x.taken_at <= r.taken_at);
                if at > 0 && self.routes[at - 1].taken_at == r.taken_at {
                    return;
                }
                self.routes.insert(at, r);
            }
        }
    }

    /// Merges one segment's text; bad lines are counted and logged with their position.
    pub fn add_segment(&mut self, name: &str, text: &str) {
        self.segments += 1;
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<Entry>(line) {
                Ok(e) => self.add(e),
                Err(err) => {
                    self.skipped += 1;
                    tracing::warn!(segment = name, line = i + 1, "ledger line skipped: {err}");
                }
            }
        }
    }

    /// Reads every segment of the store.
    pub async fn load(store: &Store) -> Result<Ledger, StoreError> {
        let mut l = Ledger::default();
        for name in store.list(DIR).await? {
            let data = store.get(&name).await?;
            l.add_segment(&name, &String::from_utf8_lossy(&data));
        }
        tracing::info!(
            location = %store.location(),
            segments = l.segments,
            enis = l.enis.len(),
            resources = l.resources.len(),
            "ENI ledger loaded"
        );
        Ok(l)
    }

    /// ENIs that the snapshots believe alive: listed by a snapshot, not seen gone or deleted.
    pub fn alive_in_snapshots(&self) -> impl Iterator<Item = &EniLife> {
        self.enis
            .values()
            .filter(|l| l.first_seen.is_some() && l.gone_by.is_none() && l.deleted_at.is_none())
    }
}

/// What one run learned, written as one segment.
#[derive(Debug, Default)]
pub struct Segment {
    pub entries: Vec<Entry>,
}

impl Segment {
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn to_jsonl(&self) -> String {
        let mut out = String::new();
        for e in &self.entries {
            if let Ok(s) = serde_json::to_string(e) {
                out.push_str(&s);
                out.push('\n');
            }
        }
        out
    }

    /// Writes the segment as a new object (nothing when empty).
    pub async fn write(&self, store: &Store) -> Result<Option<String>, StoreError> {
        if self.is_empty() {
            return Ok(None);
        }
        let name = format!("{DIR}/{}.jsonl", crate::state::unique_suffix());
        store.put_new(&name, self.to_jsonl().as_bytes()).await?;
        tracing::info!(location = %store.location(), segment = %name, entries = self.entries.len(), "ENI ledger segment written");
        Ok(Some(name))
    }
}

/// Diffs an inventory snapshot taken at `now` against the ledger: ENIs listed for the first
/// time become lifetimes (with the owner the snapshot's model gave them), ENIs the snapshots
/// believed alive that are no longer listed get `gone_by = now`. Returns the entries to write.
pub fn diff_snapshot(
    ledger: &Ledger,
    inv: &super::Inventory,
    owners: &HashMap<String, Owner>,
    now: i64,
    source: &str,
) -> Segment {
    let mut seg = Segment::default();
    let listed: std::collections::HashSet<&str> = inv
        .enis
        .iter()
        .map(|e| e.network_interface_id.as_str())
        .filter(|e| !e.is_empty())
        .collect();
    for e in &inv.enis {
        if e.network_interface_id.is_empty() {
            continue;
        }
        let known = ledger.enis.get(&e.network_interface_id);
        let owner = owners.get(&e.network_interface_id).cloned();
        let new = match known {
            None => true,
            // Seen before, but only by CloudTrail or without an owner the snapshot can now give.
            Some(k) => k.first_seen.is_none() || (k.owner.is_none() && owner.is_some()),
        };
        if !new {
            continue;
        }
        let mut life = from_inventory(e, source);
        life.first_seen = Some(now);
        life.last_seen = Some(now);
        life.owner = owner;
        seg.entries.push(Entry::Eni(life));
    }
    for l in ledger.alive_in_snapshots() {
        if listed.contains(l.eni.as_str()) {
            continue;
        }
        seg.entries.push(Entry::Eni(EniLife {
            eni: l.eni.clone(),
            gone_by: Some(now),
            evidence: vec![LedgerEvidence {
                source: "snapshot".into(),
                id: source.to_string(),
                time: Some(now),
            }],
            ..Default::default()
        }));
    }
    let routes = RouteSnapshot::of(inv, now, source);
    let changed = ledger
        .routes
        .iter()
        .rev()
        .find(|r| r.taken_at <= Some(now))
        .is_none_or(|last| !last.same_routes(&routes));
    if changed && !(inv.route_tables.is_empty() && inv.vpc_endpoints.is_empty()) {
        seg.entries.push(Entry::Routes(routes));
    }
    seg
}

/// The lifetime facts a describe-network-interfaces entry gives.
pub fn from_inventory(e: &super::Eni, source: &str) -> EniLife {
    EniLife {
        eni: e.network_interface_id.clone(),
        account: e.owner_id.clone(),
        region: e
            .availability_zone
            .as_deref()
            .and_then(crate::enrich::model::region_of_az)
            .map(str::to_string),
        vpc_id: e.vpc_id.clone(),
        subnet_id: e.subnet_id.clone(),
        az: e.availability_zone.clone(),
        private_ips: e
            .private_ip_address
            .iter()
            .cloned()
            .chain(
                e.private_ip_addresses
                    .iter()
                    .map(|p| p.private_ip_address.clone()),
            )
            .chain(e.ipv6_addresses.iter().map(|p| p.ipv6_address.clone()))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect(),
        security_groups: e.groups.iter().map(|g| g.group_id.clone()).collect(),
        description: e.description.clone(),
        tags: e
            .tag_set
            .iter()
            .map(|t| (t.key.clone(), t.value.clone()))
            .collect(),
        interface_type: e.interface_type.clone(),
        requester_id: e.requester_id.clone(),
        requester_managed: e.requester_managed,
        evidence: vec![LedgerEvidence {
            source: "snapshot".into(),
            id: source.to_string(),
            time: None,
        }],
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn life(eni: &str) -> EniLife {
        EniLife {
            eni: eni.into(),
            ..Default::default()
        }
    }

    #[test]
    fn merge_is_order_free() {
        let a = Entry::Eni(EniLife {
            created_at: Some(100),
            subnet_id: Some("subnet-1".into()),
            evidence: vec![LedgerEvidence {
                source: "cloudtrail".into(),
                id: "e1".into(),
                time: Some(100),
            }],
            ..life("eni-1")
        });
        let b = Entry::Eni(EniLife {
            deleted_at: Some(500),
            first_seen: Some(200),
            last_seen: Some(300),
            evidence: vec![LedgerEvidence {
                source: "cloudtrail".into(),
                id: "e2".into(),
                time: Some(500),
            }],
            ..life("eni-1")
        });
        let mut x = Ledger::default();
        x.add(a.clone());
        x.add(b.clone());
        let mut y = Ledger::default();
        y.add(b);
        y.add(a.clone());
        y.add(a);
        assert_eq!(x.enis, y.enis);
        let l = &x.enis["eni-1"];
        assert_eq!((l.created_at, l.end()), (Some(100), Some(500)));
        assert_eq!(l.evidence.len(), 2);
        assert!(x.seen_events.contains("e2"));
    }

    #[test]
    fn segments_round_trip_and_bad_lines_are_counted() {
        let mut seg = Segment::default();
        seg.entries.push(Entry::Eni(EniLife {
            created_at: Some(1_700_000_000),
            ..life("eni-9")
        }));
        let text = seg.to_jsonl() + "{\"type\":\"eni\",\"eni\":\n";
        assert!(text.contains("\"created_at\":\"2023-11-14T22:13:20Z\""));
        let mut l = Ledger::default();
        l.add_segment("s", &text);
        assert_eq!(l.skipped, 1);
        assert_eq!(l.enis["eni-9"].created_at, Some(1_700_000_000));
    }

    #[test]
    fn snapshot_diff_records_births_and_disappearances() {
        let mut inv = super::super::Inventory::default();
        inv.add_json(
            "a.json",
            r#"{"NetworkInterfaces":[{"NetworkInterfaceId":"eni-a","SubnetId":"subnet-1"},{"NetworkInterfaceId":"eni-b"}]}"#,
        )
        .unwrap();
        let l = Ledger::default();
        let seg = diff_snapshot(&l, &inv, &HashMap::new(), 1000, "inv/a.json");
        assert_eq!(seg.entries.len(), 2);
        let mut l = Ledger::default();
        for e in seg.entries {
            l.add(e);
        }
        // Next snapshot: eni-b is gone, eni-c is new.
        let mut inv2 = super::super::Inventory::default();
        inv2.add_json(
            "b.json",
            r#"{"NetworkInterfaces":[{"NetworkInterfaceId":"eni-a"},{"NetworkInterfaceId":"eni-c"}]}"#,
        )
        .unwrap();
        let seg = diff_snapshot(&l, &inv2, &HashMap::new(), 2000, "inv/b.json");
        for e in seg.entries {
            l.add(e);
        }
        assert_eq!(l.enis["eni-b"].gone_by, Some(2000));
        assert_eq!(l.enis["eni-b"].last_seen, Some(1000));
        assert_eq!(l.enis["eni-c"].first_seen, Some(2000));
        assert_eq!(l.enis["eni-a"].first_seen, Some(1000));
        assert_eq!(l.enis["eni-a"].gone_by, None);
    }
}
