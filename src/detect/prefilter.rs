//! A per-record filter that tells which rules can possibly match, from a few table lookups.
//!
//! Each table answers one group of a rule's `match` conditions for every value it can see
//! (the enumerated facts together, the region, the service, the resource, the port), as a
//! bitmask over the rules. A record's candidates are the AND of its five lookups; only those
//! rules are then evaluated in full (with their `unless` clauses), so the filter only has to
//! be necessary, never sufficient, and a record that no rule can match costs no rule
//! evaluation at all. Packs of more than 64 rules are evaluated in full for every record.

use super::rules::{CompiledRules, Scope};
use crate::enrich::model::Model;
use crate::enrich::{Dir, DstClass, Path, RegionRel};

const ACTIONS: usize = 4;

pub struct Prefilter {
    all: u64,
    /// Indexed by (((dir * ACTIONS) + action) * paths + path) * classes + class.
    enums: Vec<u64>,
    paths: usize,
    classes: usize,
    region: Vec<u64>,
    /// By service index; the last entry is "no service".
    svc: Vec<u64>,
    /// By resource index; the last entry is "no resource".
    resource: Vec<u64>,
    /// Port -> class of ports the rules treat alike, and each class's mask.
    port_class: Vec<u8>,
    port_masks: Vec<u64>,
    no_port: u64,
    /// Rules with a `cleartext` condition: when the record has an encryption-status, the port
    /// does not decide, so they stay candidates.
    cleartext: u64,
}

impl Prefilter {
    /// `None` when the pack has more rules than a mask holds.
    pub fn new(rules: &CompiledRules, model: &Model) -> Option<Prefilter> {
        let n = rules.rules.len();
        if n > 64 {
            return None;
        }
        let rule_mask = |f: &dyn Fn(usize) -> bool| -> u64 {
            (0..n).filter(|&i| f(i)).fold(0u64, |m, i| m | (1 << i))
        };
        let (dirs, paths, classes) = (Dir::ALL.len(), Path::ALL.len(), DstClass::ALL.len());
        let mut enums = Vec::with_capacity(dirs * ACTIONS * paths * classes);
        for d in 0..dirs {
            for a in 0..ACTIONS {
                for p in 0..paths {
                    for c in 0..classes {
                        enums.push(rule_mask(&|i| {
                            rules.rules[i]
                                .when
                                .enum_pass(d as u8, a as u8, p as u8, c as u8)
                        }));
                    }
                }
            }
        }
        let region = (0..RegionRel::ALL.len())
            .map(|r| rule_mask(&|i| rules.rules[i].when.region_pass(r as u8)))
            .collect();
        let svc_ids: Vec<u16> = (0..model.services.len() as u16)
            .chain(std::iter::once(crate::enrich::NO_SYM))
            .collect();
        let svc = svc_ids
            .iter()
            .map(|&s| rule_mask(&|i| rules.rules[i].when.svc_pass(s)))
            .collect();
        let resource = (0..=model.resources.len())
            .map(|r| {
                let info = model.resources.get(r);
                let id = if info.is_some() {
                    r as u32
                } else {
                    crate::enrich::NONE
                };
                let sagemaker = info.is_some_and(|x| x.sagemaker);
                let isolation = info.and_then(|x| x.network_isolation);
                rule_mask(&|i| {
                    let rule = &rules.rules[i];
                    (rule.scope != Scope::Sagemaker || sagemaker)
                        && rule.when.resource_pass(id, isolation)
                })
            })
            .collect();
        let clear = &rules.cleartext_ports;
        let port_mask = |p: Option<u16>| rule_mask(&|i| rules.rules[i].when.port_pass(p, clear));
        // Ports no condition names all behave alike: one evaluation stands for them all.
        let mut named = [0u64; 1024];
        for r in &rules.rules {
            r.when.mentioned_ports(&mut named);
            if r.when.uses_cleartext() {
                for (b, w) in named.iter_mut().zip(clear.iter()) {
                    *b |= w;
                }
            }
        }
        let generic = (0..=u16::MAX).find(|&p| named[p as usize / 64] & (1 << (p % 64)) == 0);
        let generic_mask = generic.map(|p| port_mask(Some(p)));
        let mut port_masks: Vec<u64> = Vec::new();
        let mut class_of: std::collections::HashMap<u64, u8> = Default::default();
        let mut port_class = Vec::with_capacity(1 << 16);
        let mut last = None;
        for p in 0..=u16::MAX {
            let m = match generic_mask {
                Some(g) if named[p as usize / 64] & (1 << (p % 64)) == 0 => g,
                _ => port_mask(Some(p)),
            };
            // Neighbouring ports almost always share a class: skip the map lookup then.
            let class = match last {
                Some((lm, lc)) if lm == m => lc,
                _ => match class_of.get(&m) {
                    Some(&c) => c,
                    None => {
                        if port_masks.len() > u8::MAX as usize {
                            return None;
                        }
                        port_masks.push(m);
                        let c = (port_masks.len() - 1) as u8;
                        class_of.insert(m, c);
                        c
                    }
                },
            };
            last = Some((m, class));
            port_class.push(class);
        }
        Some(Prefilter {
            all: if n == 64 { u64::MAX } else { (1u64 << n) - 1 },
            enums,
            paths,
            classes,
            region,
            svc,
            resource,
            port_class,
            port_masks,
            no_port: port_mask(None),
            cleartext: rule_mask(&|i| rules.rules[i].when.uses_cleartext()),
        })
    }

    /// Rules that may match a record with these facts.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    pub fn candidates(
        &self,
        dir: u8,
        action: u8,
        path: u8,
        class: u8,
        region: u8,
        svc: u16,
        resource: u32,
        dport: Option<u16>,
        has_encryption: bool,
    ) -> u64 {
        let a = (action as usize).min(ACTIONS - 1);
        let e = ((dir as usize * ACTIONS + a) * self.paths + path as usize) * self.classes
            + class as usize;
        let mut m = self.enums.get(e).copied().unwrap_or(self.all);
        if m == 0 {
            return 0;
        }
        m &= self
            .region
            .get(region as usize)
            .copied()
            .unwrap_or(self.all);
        let last = |v: &[u64]| v.last().copied().unwrap_or(self.all);
        m &= self
            .svc
            .get(svc as usize)
            .copied()
            .unwrap_or_else(|| last(&self.svc));
        m &= self
            .resource
            .get(resource as usize)
            .copied()
            .unwrap_or_else(|| last(&self.resource));
        let ports = match dport {
            Some(p) => self.port_masks[self.port_class[p as usize] as usize],
            None => self.no_port,
        };
        m & (ports | if has_encryption { self.cleartext } else { 0 })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::rules::{Facts, RuleSet};
    use crate::enrich::NO_SYM;

    /// The filter may only drop rules that cannot match: for every combination of facts the
    /// rules distinguish, every rule that matches is among the candidates.
    #[test]
    fn never_drops_a_matching_rule() {
        let inv = crate::demo::inventory().unwrap();
        let model = Model::build(&inv, None);
        let extra = r#"
schema = 1
pack = "t"
version = "1"
[classify]
# 6379 is TLS-optional in the built-in pack, which wins; 1500 becomes cleartext by port.
cleartext_ports = [1500, 6379]
[[rule]]
id = "T-1"
category = "c"
severity = "low"
title = "t"
control = "x"
scope = "all"
[rule.match]
direction = ["return", "ingress"]
dst_port = ["1000-2000", 22]
protocol = [17]
[[rule]]
id = "T-2"
category = "c"
severity = "low"
title = "t"
control = "x"
[rule.match]
direction = ["egress"]
dst_port_not = [443]
destination = ["aws-service"]
dst_service_not = ["S3"]
dst_region = ["other", "unknown"]
resource_kind = ["notebook-instance"]
[[rule]]
id = "T-3"
category = "c"
severity = "low"
title = "t"
control = "x"
scope = "all"
[rule.match]
direction = ["egress"]
cleartext = false
dst_port_not = [53]
"#;
        let mut set = RuleSet::builtin();
        set.add_text("extra.toml", extra).unwrap();
        for scope in [Scope::Sagemaker, Scope::All] {
            let rules = CompiledRules::compile(&set, &model, scope);
            let pre = rules.prefilter.as_ref().expect("prefilter");
            let mut x: u64 = 0x2545_f491_4f6c_dd1d;
            let mut next = |n: u64| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x % n
            };
            let ports = [
                None,
                Some(22),
                Some(53),
                Some(80),
                Some(443),
                Some(1500),
                Some(853),
                Some(40000),
                // Cleartext by definition, and TLS-optional (judged only by encryption-status).
                Some(21),
                Some(25),
                Some(5432),
                Some(6379),
            ];
            let mut matched = 0;
            for _ in 0..200_000 {
                let resource = match next(model.resources.len() as u64 + 1) as usize {
                    r if r < model.resources.len() => r as u32,
                    _ => crate::enrich::NONE,
                };
                let res = model.resources.get(resource as usize);
                let svc = match next(model.services.len() as u64 + 1) {
                    s if (s as usize) < model.services.len() => s as u16,
                    _ => NO_SYM,
                };
                let f = Facts {
                    dir: next(Dir::ALL.len() as u64) as u8,
                    action: next(3) as u8,
                    path: next(Path::ALL.len() as u64) as u8,
                    class: next(DstClass::ALL.len() as u64) as u8,
                    svc,
                    region: next(RegionRel::ALL.len() as u64) as u8,
                    dport: ports[next(ports.len() as u64) as usize],
                    proto: [6, 17, 1][next(3) as usize],
                    resource,
                    isolation: res.and_then(|r| r.network_isolation),
                    encryption: [None, Some(0), Some(1)][next(3) as usize],
                };
                let cand = pre.candidates(
                    f.dir,
                    f.action,
                    f.path,
                    f.class,
                    f.region,
                    f.svc,
                    f.resource,
                    f.dport,
                    f.encryption.is_some(),
                );
                for (i, r) in rules.rules.iter().enumerate() {
                    let in_scope = r.scope != Scope::Sagemaker || res.is_some_and(|x| x.sagemaker);
                    if in_scope && r.when.matches(&f, &rules.cleartext_ports) {
                        matched += 1;
                        assert!(cand & (1 << i) != 0, "{} dropped for {f:?}", r.def.id);
                    }
                }
            }
            assert!(matched > 1000, "the facts exercise the rules ({matched})");
        }
    }
}
