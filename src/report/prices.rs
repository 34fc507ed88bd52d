//! NAT gateway data-processing cost of traffic an endpoint would have carried, from the price
//! table `rules/report/nat-prices.toml` (source and date recorded in the table and the report).

use std::collections::BTreeMap;

use serde::Deserialize;

use super::posture::{is_s3_gateway, route_table_of, short_service};
use super::traffic::Traffic;
use super::{Cost, CostRow, ReportError};
use crate::enrich::model::{Model, NO_SYM};
use crate::enrich::{DstClass, Inventory, Path};

pub const BUILTIN: &str = include_str!("../../rules/report/nat-prices.toml");
pub const BUILTIN_NAME: &str = "rules/report/nat-prices.toml";

/// AWS bills data in GB of 2^30 bytes.
const GB: f64 = 1024.0 * 1024.0 * 1024.0;

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    pub nat_per_gb: f64,
    pub interface_endpoint_per_gb: f64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceTable {
    pub schema: u32,
    pub source: String,
    pub date: String,
    pub currency: String,
    pub default: Price,
    #[serde(default)]
    pub region: BTreeMap<String, Price>,
}

impl PriceTable {
    pub fn builtin() -> Self {
        // Tested; failing here is a build defect, not bad input.
        match Self::parse(BUILTIN_NAME, BUILTIN) {
            Ok(t) => t,
            Err(e) => panic!("built-in price table is invalid: {e}"),
        }
    }

    pub fn parse(file: &str, text: &str) -> Result<Self, ReportError> {
        let bad = |message: String| ReportError::Table {
            file: file.to_string(),
            message,
        };
        let t: PriceTable = toml::from_str(text).map_err(|e| bad(e.to_string()))?;
        if t.schema != 1 {
            return Err(bad(format!("schema {} is not supported (1)", t.schema)));
        }
        let all = std::iter::once(("default", &t.default))
            .chain(t.region.iter().map(|(k, v)| (k.as_str(), v)));
        for (name, p) in all {
            let ok = |v: f64| v.is_finite() && v >= 0.0;
            if !ok(p.nat_per_gb) || !ok(p.interface_endpoint_per_gb) {
                return Err(bad(format!("{name}: prices must be non-negative numbers")));
            }
        }
        Ok(t)
    }

    pub fn price(&self, region: &str) -> Price {
        self.region.get(region).copied().unwrap_or(self.default)
    }
}

/// Cost rows per (VPC, service): NAT-gateway traffic to S3/DynamoDB (a free gateway endpoint
/// would carry it) and to other AWS services (an interface endpoint would, at its own rate).
pub fn cost(
    inv: &Inventory,
    model: &Model,
    traffic: Option<&Traffic>,
    table: &PriceTable,
    period_days: f64,
) -> Cost {
    let mut acc: BTreeMap<(String, String, String), (u64, Vec<String>)> = BTreeMap::new();
    if let Some(t) = traffic {
        let gw = model.gateway_services;
        for (k, c) in &t.cells {
            if Path::from_u8(k.path) != Path::NatGateway
                || DstClass::from_u8(k.class) != DstClass::AwsService
            {
                continue;
            }
            let Some(eni) = model
                .eni_by_id
                .get(k.eni.as_str())
                .and_then(|&i| model.enis.get(i as usize))
            else {
                continue;
            };
            let Some(vpc) = model.vpcs.get(eni.vpc as usize) else {
                continue;
            };
            let region = model
                .regions
                .name(vpc.region)
                .filter(|_| vpc.region != NO_SYM)
                .unwrap_or("")
                .to_string();
            let svc = if k.svc == gw[0] {
                "S3"
            } else if k.svc == gw[1] {
                "DYNAMODB"
            } else {
                "other AWS services"
            };
            let e = acc
                .entry((vpc.id.to_string(), region, svc.to_string()))
                .or_default();
            e.0 += c.bytes;
            if k.svc == gw[0] || k.svc == gw[1] {
                if let Some(s) = model.subnets.get(eni.subnet as usize) {
                    if let Some(rt) = route_table_of(inv, &s.id, &vpc.id) {
                        if !e.1.contains(&rt.route_table_id) {
                            e.1.push(rt.route_table_id.clone());
                        }
                    }
                }
            }
        }
    }
    let month = 30.0 / period_days.max(1.0 / 24.0);
    let rows = acc
        .into_iter()
        .map(|((vpc_id, region, service), (bytes, rtbs))| {
            let p = table.price(&region);
            let gb = bytes as f64 / GB;
            let nat_cost = gb * p.nat_per_gb;
            let gateway = service == "S3" || service == "DYNAMODB";
            let endpoint_cost = if gateway {
                0.0
            } else {
                gb * p.interface_endpoint_per_gb
            };
            let avoidable = (nat_cost - endpoint_cost).max(0.0);
            let endpoint = if gateway {
                let existing = inv.vpc_endpoints.iter().find(|e| {
                    e.vpc_id.as_deref() == Some(vpc_id.as_str())
                        && (is_s3_gateway(e) && service == "S3"
                            || short_service(&e.service_name) == "dynamodb"
                                && service == "DYNAMODB")
                });
                let name = if service == "S3" { "S3" } else { "DynamoDB" };
                match existing {
                    Some(e) => format!(
                        "the {name} gateway endpoint {} on {}",
                        e.vpc_endpoint_id,
                        rtbs.join(", ")
                    ),
                    None => format!("an {name} gateway endpoint on {}", rtbs.join(", ")),
                }
            } else {
                "interface endpoints for the services called".to_string()
            };
            let statement = format!(
                "{service} through NAT in {vpc_id}: {}, about {} {:.2}/month avoidable with {endpoint}",
                super::human_bytes(bytes),
                table.currency,
                avoidable * month
            );
            CostRow {
                vpc_id,
                region,
                service,
                bytes,
                nat_per_gb: p.nat_per_gb,
                nat_cost,
                endpoint_cost,
                avoidable,
                avoidable_per_month: avoidable * month,
                endpoint,
                statement,
            }
        })
        .collect();
    Cost {
        currency: table.currency.clone(),
        source: table.source.clone(),
        date: table.date.clone(),
        period_days,
        rows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_table_has_source_date_and_default() {
        let t = PriceTable::builtin();
        assert!(t.source.contains("aws.amazon.com/vpc/pricing"));
        assert_eq!(t.date.len(), 10);
        assert!((t.price("us-east-1").nat_per_gb - 0.045).abs() < 1e-9);
        assert!((t.price("xx-nowhere-1").nat_per_gb - t.default.nat_per_gb).abs() < 1e-9);
        let e = PriceTable::parse(
            "p.toml",
            "schema = 1\nsource = \"s\"\ndate = \"d\"\ncurrency = \"USD\"\n[default]\nnat_per_gb = -1.0\ninterface_endpoint_per_gb = 0.01\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("non-negative"), "{e}");
    }
}
