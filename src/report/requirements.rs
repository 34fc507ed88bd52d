//! The requirement mapping table (`rules/report/requirements.toml`): which PCI DSS, HIPAA and
//! SOC 2 requirements each control row evidences. Compiled in; `--requirements` overrides.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{ReportError, Requirements};

pub const BUILTIN: &str = include_str!("../../rules/report/requirements.toml");
pub const BUILTIN_NAME: &str = "rules/report/requirements.toml";

/// Control ids the report produces rows for; the table must map each.
pub const CONTROLS: &[&str] = &[
    "privatelink",
    "gateway-endpoint",
    "network-isolation",
    "no-direct-internet-access",
    "tls-in-transit",
    "vpc-resolver",
    "endpoint-policy",
    "flow-logs",
];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub name: String,
    #[serde(default)]
    pub pci_dss: Vec<String>,
    #[serde(default)]
    pub hipaa: Vec<String>,
    #[serde(default)]
    pub soc2: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    schema: u32,
    control: BTreeMap<String, Entry>,
}

#[derive(Debug, Clone)]
pub struct RequirementTable {
    pub controls: BTreeMap<String, Entry>,
}

impl RequirementTable {
    pub fn builtin() -> Self {
        // Tested; failing here is a build defect, not bad input.
        match Self::parse(BUILTIN_NAME, BUILTIN) {
            Ok(t) => t,
            Err(e) => panic!("built-in requirement table is invalid: {e}"),
        }
    }

    pub fn parse(file: &str, text: &str) -> Result<Self, ReportError> {
        let bad = |message: String| ReportError::Table {
            file: file.to_string(),
            message,
        };
        let f: File = toml::from_str(text).map_err(|e| bad(e.to_string()))?;
        if f.schema != 1 {
            return Err(bad(format!("schema {} is not supported (1)", f.schema)));
        }
        if let Some(c) = CONTROLS.iter().find(|c| !f.control.contains_key(**c)) {
            return Err(bad(format!("no [control.{c}] table")));
        }
        Ok(RequirementTable {
            controls: f.control,
        })
    }

    pub fn name(&self, control: &str) -> String {
        self.controls
            .get(control)
            .map_or_else(|| control.to_string(), |e| e.name.clone())
    }

    pub fn tags(&self, control: &str) -> Requirements {
        let e = self.controls.get(control);
        Requirements {
            pci_dss: e.map_or_else(Vec::new, |e| e.pci_dss.clone()),
            hipaa: e.map_or_else(Vec::new, |e| e.hipaa.clone()),
            soc2: e.map_or_else(Vec::new, |e| e.soc2.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_maps_every_control() {
        let t = RequirementTable::builtin();
        for c in CONTROLS {
            assert!(!t.tags(c).pci_dss.is_empty(), "{c}");
        }
        assert!(t.tags("privatelink").pci_dss.contains(&"1.3.2".to_string()));
        let e = RequirementTable::parse(
            "r.toml",
            "schema = 1\n[control.privatelink]\nname = \"x\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("r.toml") && e.contains("gateway-endpoint"),
            "{e}"
        );
    }
}
