//! `inventory collect`: calls the EC2 and SageMaker APIs and writes the same AWS-CLI-shaped JSON
//! that `--inventory` reads. Requests are signed (SigV4) with credentials from the standard
//! chain; EC2's Query API answers XML, converted to the CLI's JSON shape; SageMaker's JSON API
//! answers in that shape already. (Doing this without the EC2 and SageMaker SDK crates keeps the
//! build small; raw strings such as `InterfaceType = nat_gateway` are kept exactly.)

use std::path::Path;
use std::time::Duration;

use aws_credential_types::provider::ProvideCredentials;
use serde_json::{json, Map, Value};

use crate::deliver::transport::sigv4::{self, Credentials};

#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    #[error("credentials: {0}")]
    Credentials(String),
    #[error("{service} {action}: {message}")]
    Call {
        service: &'static str,
        action: String,
        message: String,
    },
    #[error("writing {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
}

pub struct Collector {
    agent: ureq::Agent,
    creds: Credentials,
    region: String,
    /// Overrides both service endpoints (S3-compatible test servers, VPC endpoints).
    endpoint: Option<String>,
}

fn form_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// CLI key for an EC2 XML element name.
fn ec2_key(name: &str) -> String {
    match name {
        "cidrBlockAssociationSet" => return "CidrBlockAssociationSet".into(),
        "ipv6CidrBlockAssociationSet" => return "Ipv6CidrBlockAssociationSet".into(),
        "routeTableIdSet" => return "RouteTableIds".into(),
        "networkInterfaceIdSet" => return "NetworkInterfaceIds".into(),
        "subnetIdSet" => return "SubnetIds".into(),
        "natGatewayAddressSet" => return "NatGatewayAddresses".into(),
        "tagSet" => return "Tags".into(),
        _ => {}
    }
    let base = match name.strip_suffix("Set") {
        Some(b) if b.ends_with('s') => b.to_string(),
        Some(b) => format!("{b}s"),
        None => name.to_string(),
    };
    let mut c = base.chars();
    match c.next() {
        Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
        None => String::new(),
    }
}

/// Converts an EC2 Query API response element to the AWS CLI's JSON shape.
fn xml_to_json(node: roxmltree::Node<'_, '_>) -> Value {
    let children: Vec<roxmltree::Node<'_, '_>> =
        node.children().filter(|n| n.is_element()).collect();
    if children.is_empty() && node.tag_name().name().ends_with("Set") {
        // An empty list element (`<groupSet/>`) is an empty list, not an empty string.
        return Value::Array(Vec::new());
    }
    if children.is_empty() {
        let text = node.text().unwrap_or("").trim();
        return match text {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            t => Value::String(t.to_string()),
        };
    }
    if node.tag_name().name().ends_with("Set")
        || children.iter().all(|c| c.tag_name().name() == "item")
    {
        return Value::Array(children.into_iter().map(xml_to_json).collect());
    }
    let mut m = Map::new();
    for c in children {
        m.insert(ec2_key(c.tag_name().name()), xml_to_json(c));
    }
    Value::Object(m)
}

impl Collector {
    pub fn region(&self) -> &str {
        &self.region
    }

    pub async fn new(
        cfg: &aws_config::SdkConfig,
        endpoint: Option<&str>,
    ) -> Result<Collector, CollectError> {
        let provider = cfg.credentials_provider().ok_or_else(|| {
            CollectError::Credentials("no credentials provider configured".into())
        })?;
        let c = provider
            .provide_credentials()
            .await
            .map_err(|e| CollectError::Credentials(e.to_string()))?;
        let region = cfg
            .region()
            .map(|r| r.to_string())
            .unwrap_or_else(|| "us-east-1".into());
        Ok(Collector {
            agent: ureq::Agent::config_builder()
                .timeout_global(Some(Duration::from_secs(30)))
                .http_status_as_error(false)
                .build()
                .into(),
            creds: Credentials {
                access_key: c.access_key_id().to_string(),
                secret_key: c.secret_access_key().to_string(),
                session_token: c.session_token().map(str::to_string),
            },
            region,
            endpoint: endpoint.map(|e| e.trim_end_matches('/').to_string()),
        })
    }

    fn post(
        &self,
        service: &'static str,
        host_default: String,
        action: &str,
        content_type: &str,
        body: Vec<u8>,
        extra: &[(&str, &str)],
    ) -> Result<Vec<u8>, CollectError> {
        let url = self
            .endpoint
            .clone()
            .unwrap_or_else(|| format!("https://{host_default}"));
        let url = format!("{url}/");
        let err = |message: String| CollectError::Call {
            service,
            action: action.to_string(),
            message,
        };
        let signed = sigv4::sign_post(
            &self.creds,
            &self.region,
            service,
            &url,
            content_type,
            &body,
            std::time::SystemTime::now(),
            extra,
        )
        .map_err(|e| err(e.to_string()))?;
        let mut req = self.agent.post(&url).header("Content-Type", content_type);
        for (k, v) in signed
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .chain(extra.iter().copied())
        {
            req = req.header(k, v);
        }
        let mut resp = req.send(&body[..]).map_err(|e| err(e.to_string()))?;
        let status = resp.status().as_u16();
        let bytes = resp
            .body_mut()
            .with_config()
            .limit(crate::limits::get().max_json_bytes as u64)
            .read_to_vec()
            .map_err(|e| err(e.to_string()))?;
        if status != 200 {
            return Err(err(format!(
                "HTTP {status}: {}",
                String::from_utf8_lossy(&bytes)
                    .chars()
                    .take(300)
                    .collect::<String>()
            )));
        }
        Ok(bytes)
    }

    /// Calls an EC2 Describe* action through every page; returns the CLI-shaped list.
    pub fn ec2_describe(&self, action: &str, list: &str) -> Result<Vec<Value>, CollectError> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut body = format!("Action={action}&Version=2016-11-15");
            if let Some(t) = &token {
                body.push_str(&format!("&NextToken={}", form_encode(t)));
            }
            let bytes = self.post(
                "ec2",
                format!("ec2.{}.amazonaws.com", self.region),
                action,
                "application/x-www-form-urlencoded; charset=utf-8",
                body.into_bytes(),
                &[],
            )?;
            let text = String::from_utf8_lossy(&bytes);
            let doc = roxmltree::Document::parse(&text).map_err(|e| CollectError::Call {
                service: "ec2",
                action: action.to_string(),
                message: format!("response is not XML: {e}"),
            })?;
            let root = doc.root_element();
            token = None;
            for c in root.children().filter(|n| n.is_element()) {
                match c.tag_name().name() {
                    "nextToken" => token = c.text().map(str::to_string).filter(|t| !t.is_empty()),
                    name if ec2_key(name) == list => {
                        if let Value::Array(items) = xml_to_json(c) {
                            out.extend(items);
                        }
                    }
                    _ => {}
                }
            }
            if token.is_none() {
                return Ok(out);
            }
        }
    }

    /// Calls a SageMaker JSON action.
    pub fn sagemaker(&self, action: &str, body: Value) -> Result<Value, CollectError> {
        let target = format!("SageMaker.{action}");
        let bytes = self.post(
            "sagemaker",
            format!("api.sagemaker.{}.amazonaws.com", self.region),
            action,
            "application/x-amz-json-1.1",
            serde_json::to_vec(&body).unwrap_or_default(),
            &[("X-Amz-Target", &target)],
        )?;
        serde_json::from_slice(&bytes).map_err(|e| CollectError::Call {
            service: "sagemaker",
            action: action.to_string(),
            message: format!("response is not JSON: {e}"),
        })
    }

    /// Calls a CloudTrail JSON action (LookupEvents).
    pub fn cloudtrail(&self, action: &str, body: &Value) -> Result<Value, CollectError> {
        let target = format!("com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.{action}");
        let bytes = self.post(
            "cloudtrail",
            format!("cloudtrail.{}.amazonaws.com", self.region),
            action,
            "application/x-amz-json-1.1",
            serde_json::to_vec(body).unwrap_or_default(),
            &[("X-Amz-Target", &target)],
        )?;
        serde_json::from_slice(&bytes).map_err(|e| CollectError::Call {
            service: "cloudtrail",
            action: action.to_string(),
            message: format!("response is not JSON: {e}"),
        })
    }

    /// Every item of a paginated SageMaker List* action.
    fn sagemaker_list(
        &self,
        action: &str,
        list: &str,
        mut body: Value,
    ) -> Result<Vec<Value>, CollectError> {
        let mut out = Vec::new();
        loop {
            let page = self.sagemaker(action, body.clone())?;
            if let Some(items) = page.get(list).and_then(Value::as_array) {
                out.extend(items.iter().cloned());
            }
            match page.get("NextToken").and_then(Value::as_str) {
                Some(t) if !t.is_empty() => body["NextToken"] = json!(t),
                _ => return Ok(out),
            }
        }
    }
}

fn write_json(dir: &Path, rel: &str, v: &Value) -> Result<(), CollectError> {
    let path = dir.join(rel);
    let err = |source| CollectError::Write {
        path: path.display().to_string(),
        source,
    };
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p).map_err(err)?;
    }
    let text = serde_json::to_string_pretty(v).unwrap_or_default();
    std::fs::write(&path, text + "\n").map_err(err)
}

fn safe(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[derive(Debug, Default, serde::Serialize)]
pub struct CollectReport {
    pub network_interfaces: usize,
    pub subnets: usize,
    pub route_tables: usize,
    pub vpcs: usize,
    pub vpc_endpoints: usize,
    pub nat_gateways: usize,
    pub training_jobs: usize,
    pub processing_jobs: usize,
    pub transform_jobs: usize,
    pub tuning_jobs: usize,
    pub endpoints: usize,
    pub endpoint_configs: usize,
    pub models: usize,
    pub notebook_instances: usize,
    pub domains: usize,
}

/// Collects everything into `out`. `since` (Unix seconds) limits training, processing,
/// transform and tuning jobs and endpoint configs to those created after it.
pub fn collect(
    c: &Collector,
    out: &Path,
    since: Option<i64>,
) -> Result<CollectReport, CollectError> {
    let mut r = CollectReport::default();
    // One folder per region, so several regions collect side by side into one inventory.
    let region_dir = out.join(&c.region);
    let out = region_dir.as_path();
    for (action, list, file, count) in [
        (
            "DescribeNetworkInterfaces",
            "NetworkInterfaces",
            "ec2/network-interfaces.json",
            &mut r.network_interfaces,
        ),
        (
            "DescribeSubnets",
            "Subnets",
            "ec2/subnets.json",
            &mut r.subnets,
        ),
        (
            "DescribeRouteTables",
            "RouteTables",
            "ec2/route-tables.json",
            &mut r.route_tables,
        ),
        ("DescribeVpcs", "Vpcs", "ec2/vpcs.json", &mut r.vpcs),
        (
            "DescribeVpcEndpoints",
            "VpcEndpoints",
            "ec2/vpc-endpoints.json",
            &mut r.vpc_endpoints,
        ),
        (
            "DescribeNatGateways",
            "NatGateways",
            "ec2/nat-gateways.json",
            &mut r.nat_gateways,
        ),
    ] {
        let items = c.ec2_describe(action, list)?;
        *count = items.len();
        write_json(out, file, &json!({ list: items }))?;
    }
    let mut filter = json!({});
    if let Some(t) = since {
        filter["CreationTimeAfter"] = json!(t);
    }
    for s in c.sagemaker_list("ListTrainingJobs", "TrainingJobSummaries", filter.clone())? {
        if let Some(name) = s.get("TrainingJobName").and_then(Value::as_str) {
            let d = c.sagemaker("DescribeTrainingJob", json!({ "TrainingJobName": name }))?;
            write_json(
                out,
                &format!("sagemaker/training-job-{}.json", safe(name)),
                &d,
            )?;
            r.training_jobs += 1;
        }
    }
    for s in c.sagemaker_list(
        "ListProcessingJobs",
        "ProcessingJobSummaries",
        filter.clone(),
    )? {
        if let Some(name) = s.get("ProcessingJobName").and_then(Value::as_str) {
            let d = c.sagemaker(
                "DescribeProcessingJob",
                json!({ "ProcessingJobName": name }),
            )?;
            write_json(
                out,
                &format!("sagemaker/processing-job-{}.json", safe(name)),
                &d,
            )?;
            r.processing_jobs += 1;
        }
    }
    // Transform jobs and tuning jobs over the range: their Describe outputs become ledger facts
    // (run window, model or VpcConfig), so ENIs they created are attributed after they end.
    for s in c.sagemaker_list("ListTransformJobs", "TransformJobSummaries", filter.clone())? {
        if let Some(name) = s.get("TransformJobName").and_then(Value::as_str) {
            let d = c.sagemaker("DescribeTransformJob", json!({ "TransformJobName": name }))?;
            write_json(
                out,
                &format!("sagemaker/transform-job-{}.json", safe(name)),
                &d,
            )?;
            r.transform_jobs += 1;
        }
    }
    match c.sagemaker_list(
        "ListHyperParameterTuningJobs",
        "HyperParameterTuningJobSummaries",
        filter.clone(),
    ) {
        Ok(jobs) => {
            for s in jobs {
                if let Some(name) = s.get("HyperParameterTuningJobName").and_then(Value::as_str) {
                    let d = c.sagemaker(
                        "DescribeHyperParameterTuningJob",
                        json!({ "HyperParameterTuningJobName": name }),
                    )?;
                    write_json(
                        out,
                        &format!("sagemaker/tuning-job-{}.json", safe(name)),
                        &d,
                    )?;
                    r.tuning_jobs += 1;
                }
            }
        }
        // Children are training jobs (listed above, with their TuningJobArn); the parent
        // only names the group, so a server without the API is not fatal.
        Err(e) => tracing::warn!("tuning jobs not collected: {e}"),
    }
    let mut configs = std::collections::BTreeSet::new();
    for s in c.sagemaker_list("ListEndpoints", "Endpoints", json!({}))? {
        if let Some(name) = s.get("EndpointName").and_then(Value::as_str) {
            let d = c.sagemaker("DescribeEndpoint", json!({ "EndpointName": name }))?;
            if let Some(cfg) = d.get("EndpointConfigName").and_then(Value::as_str) {
                configs.insert(cfg.to_string());
            }
            write_json(out, &format!("sagemaker/endpoint-{}.json", safe(name)), &d)?;
            r.endpoints += 1;
        }
    }
    // Endpoint config history: every config created over the range, not only the current
    // ones, so an endpoint's ENIs from before an update keep their VpcConfig.
    match c.sagemaker_list("ListEndpointConfigs", "EndpointConfigs", filter.clone()) {
        Ok(all) => configs.extend(
            all.iter()
                .filter_map(|s| s.get("EndpointConfigName").and_then(Value::as_str))
                .map(str::to_string),
        ),
        Err(e) => tracing::warn!("endpoint config history not collected: {e}"),
    }
    for name in configs {
        let d = c.sagemaker(
            "DescribeEndpointConfig",
            json!({ "EndpointConfigName": name }),
        )?;
        write_json(
            out,
            &format!("sagemaker/endpoint-config-{}.json", safe(&name)),
            &d,
        )?;
        r.endpoint_configs += 1;
    }
    for s in c.sagemaker_list("ListModels", "Models", json!({}))? {
        if let Some(name) = s.get("ModelName").and_then(Value::as_str) {
            let d = c.sagemaker("DescribeModel", json!({ "ModelName": name }))?;
            write_json(out, &format!("sagemaker/model-{}.json", safe(name)), &d)?;
            r.models += 1;
        }
    }
    for s in c.sagemaker_list("ListNotebookInstances", "NotebookInstances", json!({}))? {
        if let Some(name) = s.get("NotebookInstanceName").and_then(Value::as_str) {
            let d = c.sagemaker(
                "DescribeNotebookInstance",
                json!({ "NotebookInstanceName": name }),
            )?;
            write_json(out, &format!("sagemaker/notebook-{}.json", safe(name)), &d)?;
            r.notebook_instances += 1;
        }
    }
    // Studio: an account without domains (or a server without the API) is not an error.
    match c.sagemaker_list("ListDomains", "Domains", json!({})) {
        Ok(domains) => {
            for s in domains {
                if let Some(id) = s.get("DomainId").and_then(Value::as_str) {
                    let d = c.sagemaker("DescribeDomain", json!({ "DomainId": id }))?;
                    write_json(out, &format!("sagemaker/domain-{}.json", safe(id)), &d)?;
                    r.domains += 1;
                }
            }
        }
        Err(e) => tracing::warn!("Studio domains not collected: {e}"),
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ec2_xml_becomes_cli_json() {
        let xml = r#"<DescribeNetworkInterfacesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
  <requestId>r</requestId>
  <networkInterfaceSet>
    <item>
      <networkInterfaceId>eni-1</networkInterfaceId>
      <subnetId>subnet-1</subnetId>
      <description>Interface for NAT Gateway nat-1</description>
      <interfaceType>nat_gateway</interfaceType>
      <requesterManaged>true</requesterManaged>
      <groupSet><item><groupId>sg-1</groupId><groupName>g</groupName></item></groupSet>
      <privateIpAddressesSet><item><privateIpAddress>10.0.0.5</privateIpAddress><primary>true</primary></item></privateIpAddressesSet>
      <attachment><instanceOwnerId>amazon-aws</instanceOwnerId></attachment>
    </item>
  </networkInterfaceSet>
</DescribeNetworkInterfacesResponse>"#;
        let doc = roxmltree::Document::parse(xml).unwrap();
        let set = doc
            .root_element()
            .children()
            .find(|n| n.tag_name().name() == "networkInterfaceSet")
            .unwrap();
        let v = json!({ "NetworkInterfaces": xml_to_json(set) });
        let mut inv = crate::enrich::Inventory::default();
        inv.add_json("enis.json", &v.to_string()).unwrap();
        let e = &inv.enis[0];
        assert_eq!(e.network_interface_id, "eni-1");
        assert_eq!(e.interface_type.as_deref(), Some("nat_gateway"));
        assert_eq!(e.requester_managed, Some(true));
        assert_eq!(e.groups[0].group_id, "sg-1");
        assert_eq!(e.private_ip_addresses[0].private_ip_address, "10.0.0.5");
        assert_eq!(ec2_key("routeTableIdSet"), "RouteTableIds");
        assert_eq!(ec2_key("associationSet"), "Associations");
        assert_eq!(
            ec2_key("cidrBlockAssociationSet"),
            "CidrBlockAssociationSet"
        );
        assert_eq!(ec2_key("destinationCidrBlock"), "DestinationCidrBlock");
    }
}
