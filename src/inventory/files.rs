//! The inventory: a folder of AWS-CLI JSON outputs (EC2 describe-*, SageMaker describe-*,
//! ip-ranges.json, and an optional hand-written ENI label file). Each file is recognised by its
//! top-level keys, never by its name.

use std::fs;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    #[error("inventory {path}: cannot read: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("inventory {path}: malformed JSON: {source}")]
    Json {
        path: String,
        source: serde_json::Error,
    },
    #[error("inventory {path}: looks like {kind} output but does not match its shape: {source}")]
    Shape {
        path: String,
        kind: &'static str,
        source: serde_json::Error,
    },
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct GroupRef {
    pub group_id: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PrivateIp {
    pub private_ip_address: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Ipv6Addr {
    pub ipv6_address: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Attachment {
    pub instance_id: Option<String>,
    pub instance_owner_id: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Eni {
    #[serde(default)]
    pub network_interface_id: String,
    pub subnet_id: Option<String>,
    pub vpc_id: Option<String>,
    pub availability_zone: Option<String>,
    pub description: Option<String>,
    /// Raw string: SDK enums do not know `nat_gateway` and newer values.
    pub interface_type: Option<String>,
    pub requester_managed: Option<bool>,
    pub requester_id: Option<String>,
    pub private_ip_address: Option<String>,
    pub private_ip_addresses: Vec<PrivateIp>,
    pub ipv6_addresses: Vec<Ipv6Addr>,
    pub groups: Vec<GroupRef>,
    pub attachment: Option<Attachment>,
    pub owner_id: Option<String>,
    pub tag_set: Vec<Tag>,
    /// The inventory file the ENI was listed in (attribution evidence).
    #[serde(skip)]
    pub source: Option<std::sync::Arc<str>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CidrAssoc {
    pub cidr_block: Option<String>,
    pub ipv6_cidr_block: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Vpc {
    pub vpc_id: String,
    pub cidr_block: Option<String>,
    pub cidr_block_association_set: Vec<CidrAssoc>,
    pub ipv6_cidr_block_association_set: Vec<CidrAssoc>,
    pub owner_id: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Subnet {
    pub subnet_id: String,
    pub vpc_id: String,
    pub cidr_block: Option<String>,
    pub ipv6_cidr_block_association_set: Vec<CidrAssoc>,
    pub availability_zone: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RouteAssoc {
    pub main: Option<bool>,
    pub subnet_id: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Route {
    pub destination_cidr_block: Option<String>,
    pub destination_ipv6_cidr_block: Option<String>,
    pub destination_prefix_list_id: Option<String>,
    pub gateway_id: Option<String>,
    pub nat_gateway_id: Option<String>,
    pub transit_gateway_id: Option<String>,
    pub vpc_peering_connection_id: Option<String>,
    pub egress_only_internet_gateway_id: Option<String>,
    pub local_gateway_id: Option<String>,
    pub carrier_gateway_id: Option<String>,
    pub network_interface_id: Option<String>,
    pub instance_id: Option<String>,
    pub core_network_arn: Option<String>,
    pub state: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RouteTable {
    pub route_table_id: String,
    pub vpc_id: String,
    pub associations: Vec<RouteAssoc>,
    pub routes: Vec<Route>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct VpcEndpoint {
    pub vpc_endpoint_id: String,
    pub vpc_endpoint_type: Option<String>,
    pub vpc_id: Option<String>,
    pub service_name: String,
    pub route_table_ids: Vec<String>,
    pub network_interface_ids: Vec<String>,
    pub state: Option<String>,
    /// The endpoint policy as the API returns it: a JSON document in a string.
    pub policy_document: Option<String>,
    pub private_dns_enabled: Option<bool>,
    pub subnet_ids: Vec<String>,
}

/// `ec2 describe-flow-logs`: which resources have a flow log, to where, in which format.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct FlowLog {
    pub flow_log_id: String,
    /// The VPC, subnet or ENI the flow log is attached to.
    pub resource_id: String,
    pub traffic_type: Option<String>,
    pub log_destination_type: Option<String>,
    pub log_destination: Option<String>,
    pub log_group_name: Option<String>,
    /// The field order of the records (`${version} ${account-id} ...`); absent means default v2.
    pub log_format: Option<String>,
    pub flow_log_status: Option<String>,
    pub deliver_logs_status: Option<String>,
    pub max_aggregation_interval: Option<u32>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NatAddress {
    pub network_interface_id: Option<String>,
    pub private_ip: Option<String>,
    pub public_ip: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NatGateway {
    pub nat_gateway_id: String,
    pub vpc_id: Option<String>,
    pub subnet_id: Option<String>,
    pub connectivity_type: Option<String>,
    pub nat_gateway_addresses: Vec<NatAddress>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct VpcConfig {
    pub subnets: Vec<String>,
    pub security_group_ids: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworkConfig {
    pub enable_network_isolation: Option<bool>,
    pub vpc_config: Option<VpcConfig>,
}

/// Time as the AWS CLI prints it: an ISO 8601 string, or epoch seconds with
/// `--cli-timestamp-format none`/boto.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum AwsTime {
    Epoch(f64),
    Text(String),
}

impl AwsTime {
    pub fn secs(&self) -> Option<i64> {
        match self {
            AwsTime::Epoch(f) => Some(*f as i64),
            AwsTime::Text(s) => crate::time::parse_rfc3339(s),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TrainingJob {
    pub training_job_name: String,
    pub training_job_arn: String,
    pub vpc_config: Option<VpcConfig>,
    pub enable_network_isolation: Option<bool>,
    pub enable_inter_container_traffic_encryption: Option<bool>,
    pub training_start_time: Option<AwsTime>,
    pub training_end_time: Option<AwsTime>,
    pub creation_time: Option<AwsTime>,
    pub last_modified_time: Option<AwsTime>,
    pub training_job_status: Option<String>,
    pub role_arn: Option<String>,
    pub tuning_job_arn: Option<String>,
    pub resource_config: Option<ResourceConfig>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ResourceConfig {
    pub instance_count: Option<u32>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ProcessingJob {
    pub processing_job_name: String,
    pub processing_job_arn: String,
    pub network_config: Option<NetworkConfig>,
    pub processing_start_time: Option<AwsTime>,
    pub processing_end_time: Option<AwsTime>,
    pub creation_time: Option<AwsTime>,
    pub last_modified_time: Option<AwsTime>,
    pub processing_job_status: Option<String>,
    pub role_arn: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Model {
    pub model_name: String,
    pub model_arn: String,
    pub vpc_config: Option<VpcConfig>,
    pub enable_network_isolation: Option<bool>,
    pub execution_role_arn: Option<String>,
    pub creation_time: Option<AwsTime>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Variant {
    pub model_name: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct EndpointConfig {
    pub endpoint_config_name: String,
    pub endpoint_config_arn: String,
    pub production_variants: Vec<Variant>,
    pub shadow_production_variants: Vec<Variant>,
    pub vpc_config: Option<VpcConfig>,
    pub enable_network_isolation: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Endpoint {
    pub endpoint_name: String,
    pub endpoint_arn: String,
    pub endpoint_config_name: String,
    pub endpoint_status: Option<String>,
    pub creation_time: Option<AwsTime>,
    pub last_modified_time: Option<AwsTime>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NotebookInstance {
    pub notebook_instance_name: String,
    pub notebook_instance_arn: String,
    pub subnet_id: Option<String>,
    pub security_groups: Vec<String>,
    pub network_interface_id: Option<String>,
    pub direct_internet_access: Option<String>,
    pub root_access: Option<String>,
    pub role_arn: Option<String>,
    pub notebook_instance_status: Option<String>,
    pub creation_time: Option<AwsTime>,
    pub last_modified_time: Option<AwsTime>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Domain {
    pub domain_id: String,
    pub domain_arn: String,
    pub domain_name: Option<String>,
    pub subnet_ids: Vec<String>,
    pub vpc_id: Option<String>,
    pub app_network_access_type: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct IpPrefix {
    pub ip_prefix: Option<String>,
    pub ipv6_prefix: Option<String>,
    pub region: String,
    pub service: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct IpRanges {
    #[serde(rename = "syncToken")]
    pub sync_token: Option<String>,
    #[serde(rename = "createDate")]
    pub create_date: Option<String>,
    pub prefixes: Vec<IpPrefix>,
    pub ipv6_prefixes: Vec<IpPrefix>,
}

/// A hand-written label for an ENI that the AWS APIs cannot attribute.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct EniLabel {
    pub network_interface_id: String,
    /// `training-job`, `processing-job`, `endpoint`, `model`, `notebook-instance`,
    /// `studio-domain`, or any other kind the user wants in findings.
    pub kind: String,
    pub name: String,
    #[serde(default)]
    pub arn: Option<String>,
    #[serde(default)]
    pub network_isolation: Option<bool>,
    /// Whether the ENI belongs to SageMaker (in the default scope). Defaults to true.
    #[serde(default)]
    pub sagemaker: Option<bool>,
}

/// What a file was recognised as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileKind {
    NetworkInterfaces,
    RouteTables,
    Subnets,
    Vpcs,
    VpcEndpoints,
    NatGateways,
    TrainingJob,
    ProcessingJob,
    /// Describe outputs kept as ledger facts (their ENIs are gone when they are collected).
    TransformJob,
    TuningJob,
    Model,
    EndpointConfig,
    Endpoint,
    NotebookInstance,
    StudioDomain,
    IpRanges,
    EniLabels,
    FlowLogs,
}

#[derive(Debug, Clone, Default)]
pub struct Inventory {
    pub enis: Vec<Eni>,
    pub vpcs: Vec<Vpc>,
    pub subnets: Vec<Subnet>,
    pub route_tables: Vec<RouteTable>,
    pub vpc_endpoints: Vec<VpcEndpoint>,
    pub nat_gateways: Vec<NatGateway>,
    pub training_jobs: Vec<TrainingJob>,
    pub processing_jobs: Vec<ProcessingJob>,
    pub models: Vec<Model>,
    pub endpoint_configs: Vec<EndpointConfig>,
    pub endpoints: Vec<Endpoint>,
    pub notebooks: Vec<NotebookInstance>,
    pub domains: Vec<Domain>,
    pub ip_ranges: Vec<IpRanges>,
    pub labels: Vec<EniLabel>,
    pub flow_logs: Vec<FlowLog>,
    /// ENI lifetimes and SageMaker resources no longer listed (ledger, CloudTrail).
    pub history: super::ledger::Ledger,
    /// Grace before an ENI's creation and after its deletion (seconds); default
    /// `enrich::model::DEFAULT_GRACE`.
    pub eni_grace: Option<(i64, i64)>,
    /// Files used, with what they were recognised as.
    pub recognised: Vec<(String, Vec<FileKind>)>,
    /// JSON files that matched no known shape (reported, ignored).
    pub ignored: Vec<String>,
}

fn take<T: DeserializeOwned>(
    v: Value,
    path: &str,
    kind: &'static str,
) -> Result<T, InventoryError> {
    serde_json::from_value(v).map_err(|source| InventoryError::Shape {
        path: path.to_string(),
        kind,
        source,
    })
}

/// One inventory file as text, refused unread when larger than the JSON limit (a parsed
/// `Value` takes several times its text).
fn read_document(path: &Path) -> std::io::Result<String> {
    let limit = crate::limits::get().max_json_bytes;
    let file = fs::File::open(path)?;
    let len = file.metadata()?.len();
    if len > limit as u64 {
        return Err(crate::limits::over_json(limit));
    }
    let bytes = crate::limits::read_bounded(file, limit, len as usize)?;
    String::from_utf8(bytes)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e.utf8_error()))
}

impl Inventory {
    /// Loads every `*.json` file under `root` (recursively, in name order), or `root` itself
    /// when it is a file.
    pub fn load(root: &Path) -> Result<Inventory, InventoryError> {
        let mut files = Vec::new();
        collect_json(root, &mut files).map_err(|source| InventoryError::Io {
            path: root.display().to_string(),
            source,
        })?;
        let mut inv = Inventory::default();
        for f in files {
            let text = read_document(&f).map_err(|source| InventoryError::Io {
                path: f.display().to_string(),
                source,
            })?;
            inv.add_json(&f.display().to_string(), &text)?;
        }
        Ok(inv)
    }

    /// Adds one JSON document, recognised by its keys. A document may be an object or an array
    /// of describe-* objects.
    pub fn add_json(&mut self, path: &str, text: &str) -> Result<(), InventoryError> {
        let value: Value = serde_json::from_str(text).map_err(|source| InventoryError::Json {
            path: path.to_string(),
            source,
        })?;
        let mut kinds = Vec::new();
        match value {
            Value::Array(items) => {
                for item in items {
                    self.add_value(path, item, &mut kinds)?;
                }
            }
            other => self.add_value(path, other, &mut kinds)?,
        }
        if kinds.is_empty() {
            tracing::warn!(file = path, "inventory file not recognised; ignored");
            self.ignored.push(path.to_string());
        } else {
            tracing::debug!(file = path, ?kinds, "inventory file loaded");
            kinds.dedup();
            self.recognised.push((path.to_string(), kinds));
        }
        Ok(())
    }

    fn add_value(
        &mut self,
        path: &str,
        mut v: Value,
        kinds: &mut Vec<FileKind>,
    ) -> Result<(), InventoryError> {
        let Some(obj) = v.as_object_mut() else {
            return Ok(());
        };
        // EC2 list outputs may share one file (e.g. a merged dump), so check each key.
        macro_rules! list {
            ($key:literal, $field:ident, $kind:expr, $name:literal) => {
                if let Some(list) = obj.remove($key) {
                    let items: Vec<_> = take(list, path, $name)?;
                    self.$field.extend(items);
                    kinds.push($kind);
                }
            };
        }
        let before = self.enis.len();
        list!(
            "NetworkInterfaces",
            enis,
            FileKind::NetworkInterfaces,
            "ec2 describe-network-interfaces"
        );
        if self.enis.len() > before {
            let src: std::sync::Arc<str> = path.into();
            for e in &mut self.enis[before..] {
                e.source = Some(src.clone());
            }
        }
        list!(
            "RouteTables",
            route_tables,
            FileKind::RouteTables,
            "ec2 describe-route-tables"
        );
        list!(
            "Subnets",
            subnets,
            FileKind::Subnets,
            "ec2 describe-subnets"
        );
        list!("Vpcs", vpcs, FileKind::Vpcs, "ec2 describe-vpcs");
        list!(
            "VpcEndpoints",
            vpc_endpoints,
            FileKind::VpcEndpoints,
            "ec2 describe-vpc-endpoints"
        );
        list!(
            "NatGateways",
            nat_gateways,
            FileKind::NatGateways,
            "ec2 describe-nat-gateways"
        );
        list!(
            "FlowLogs",
            flow_logs,
            FileKind::FlowLogs,
            "ec2 describe-flow-logs"
        );
        list!(
            "EniLabels",
            labels,
            FileKind::EniLabels,
            "egresswatch ENI labels"
        );
        if !kinds.is_empty() {
            return Ok(());
        }
        let has = |k: &str| v.get(k).is_some();
        let one: Option<FileKind> = if has("TrainingJobArn") {
            self.training_jobs
                .push(take(v, path, "sagemaker describe-training-job")?);
            Some(FileKind::TrainingJob)
        } else if has("ProcessingJobArn") {
            self.processing_jobs
                .push(take(v, path, "sagemaker describe-processing-job")?);
            Some(FileKind::ProcessingJob)
        } else if has("TransformJobArn") || has("HyperParameterTuningJobArn") {
            // A Describe output has the shape of the job's state-change event detail, so it
            // becomes the same ledger fact the event would (run window, model or VpcConfig).
            let (detail_type, kind) = if has("TransformJobArn") {
                (
                    "SageMaker Transform Job State Change",
                    FileKind::TransformJob,
                )
            } else {
                (
                    "SageMaker HyperParameter Tuning Job State Change",
                    FileKind::TuningJob,
                )
            };
            let mut fact = super::cloudtrail::state_change(detail_type, &v, path).ok_or_else(
                || InventoryError::Shape {
                    path: path.to_string(),
                    kind: "sagemaker describe-transform-job / describe-hyper-parameter-tuning-job",
                    source: <serde_json::Error as serde::de::Error>::custom("no job name"),
                },
            )?;
            fact.evidence = vec![super::ledger::LedgerEvidence {
                source: "inventory".into(),
                id: path.to_string(),
                time: None,
            }];
            self.history.add(super::ledger::Entry::Resource(fact));
            Some(kind)
        } else if has("EndpointConfigArn") {
            self.endpoint_configs
                .push(take(v, path, "sagemaker describe-endpoint-config")?);
            Some(FileKind::EndpointConfig)
        } else if has("EndpointArn") {
            self.endpoints
                .push(take(v, path, "sagemaker describe-endpoint")?);
            Some(FileKind::Endpoint)
        } else if has("ModelArn") && has("ModelName") {
            self.models.push(take(v, path, "sagemaker describe-model")?);
            Some(FileKind::Model)
        } else if has("NotebookInstanceArn") {
            self.notebooks
                .push(take(v, path, "sagemaker describe-notebook-instance")?);
            Some(FileKind::NotebookInstance)
        } else if has("DomainArn") && has("DomainId") {
            self.domains
                .push(take(v, path, "sagemaker describe-domain")?);
            Some(FileKind::StudioDomain)
        } else if has("prefixes") && (has("syncToken") || has("createDate")) {
            self.ip_ranges.push(take(v, path, "ip-ranges.json")?);
            Some(FileKind::IpRanges)
        } else {
            None
        };
        kinds.extend(one);
        Ok(())
    }
}

fn collect_json(p: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if p.is_file() {
        out.push(p.to_path_buf());
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = fs::read_dir(p)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    entries.sort();
    for e in entries {
        if e.is_dir() {
            collect_json(&e, out)?;
        } else if e
            .extension()
            .is_some_and(|x| x.eq_ignore_ascii_case("json"))
        {
            out.push(e);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_by_content_not_name() {
        let mut inv = Inventory::default();
        inv.add_json("a.json", r#"{"NetworkInterfaces":[{"NetworkInterfaceId":"eni-1","InterfaceType":"nat_gateway","NewKey":1}]}"#).unwrap();
        inv.add_json("b.json", r#"{"TrainingJobName":"t","TrainingJobArn":"arn:aws:sagemaker:us-east-1:1:training-job/t","EnableNetworkIsolation":true,"TrainingStartTime":"2026-11-20T09:00:00.000000+00:00"}"#).unwrap();
        inv.add_json("c.json", r#"{"hello":"world"}"#).unwrap();
        assert_eq!(inv.enis[0].interface_type.as_deref(), Some("nat_gateway"));
        assert_eq!(inv.training_jobs[0].enable_network_isolation, Some(true));
        assert!(inv.training_jobs[0]
            .training_start_time
            .as_ref()
            .unwrap()
            .secs()
            .is_some());
        assert_eq!(inv.ignored, ["c.json"]);
        assert_eq!(inv.recognised.len(), 2);
    }

    #[test]
    fn malformed_and_misshapen_files_name_the_file() {
        let mut inv = Inventory::default();
        let e = inv
            .add_json("bad.json", "{\"Vpcs\": [")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("bad.json") && e.contains("malformed JSON"),
            "{e}"
        );
        let e = inv
            .add_json("shape.json", r#"{"Vpcs": {"VpcId": "x"}}"#)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("shape.json") && e.contains("describe-vpcs"),
            "{e}"
        );
    }
}
