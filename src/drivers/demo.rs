//! The bundled samples, compiled into the binary so `egresswatch demo` runs from any directory.
//! `tests/samples.rs` checks this list against the files in `samples/`.

use bytes::Bytes;

use crate::decode::Input;
use crate::enrich::{Inventory, InventoryError};

pub const FLOW_LOGS: &[(&str, &[u8])] = &[
    (
        "samples/flowlogs/AWSLogs/111122223333/vpcflowlogs/us-east-1/2026/11/20/111122223333_vpcflowlogs_us-east-1_fl-0a1b2c3d4e5f60701_20261120T0900Z_5e2a9c1b.log.gz",
        include_bytes!("../../samples/flowlogs/AWSLogs/111122223333/vpcflowlogs/us-east-1/2026/11/20/111122223333_vpcflowlogs_us-east-1_fl-0a1b2c3d4e5f60701_20261120T0900Z_5e2a9c1b.log.gz"),
    ),
    (
        "samples/flowlogs/AWSLogs/111122223333/vpcflowlogs/us-east-1/2026/11/20/111122223333_vpcflowlogs_us-east-1_fl-0a1b2c3d4e5f60702_20261120T1000Z_7c4d1e0f.log.gz",
        include_bytes!("../../samples/flowlogs/AWSLogs/111122223333/vpcflowlogs/us-east-1/2026/11/20/111122223333_vpcflowlogs_us-east-1_fl-0a1b2c3d4e5f60702_20261120T1000Z_7c4d1e0f.log.gz"),
    ),
    (
        "samples/flowlogs/AWSLogs/aws-account-id=111122223333/aws-service=vpcflowlogs/aws-region=us-east-1/year=2026/month=11/day=20/111122223333_vpcflowlogs_us-east-1_fl-0a1b2c3d4e5f60703_20261120T1100Z_9b3e6a2d.log.parquet",
        include_bytes!("../../samples/flowlogs/AWSLogs/aws-account-id=111122223333/aws-service=vpcflowlogs/aws-region=us-east-1/year=2026/month=11/day=20/111122223333_vpcflowlogs_us-east-1_fl-0a1b2c3d4e5f60703_20261120T1100Z_9b3e6a2d.log.parquet"),
    ),
];

pub const INVENTORY: &[(&str, &str)] = &[
    (
        "samples/inventory/ec2/flow-logs.json",
        include_str!("../../samples/inventory/ec2/flow-logs.json"),
    ),
    (
        "samples/inventory/ec2/nat-gateways.json",
        include_str!("../../samples/inventory/ec2/nat-gateways.json"),
    ),
    (
        "samples/inventory/ec2/network-interfaces.json",
        include_str!("../../samples/inventory/ec2/network-interfaces.json"),
    ),
    (
        "samples/inventory/ec2/route-tables.json",
        include_str!("../../samples/inventory/ec2/route-tables.json"),
    ),
    (
        "samples/inventory/ec2/subnets.json",
        include_str!("../../samples/inventory/ec2/subnets.json"),
    ),
    (
        "samples/inventory/ec2/vpc-endpoints.json",
        include_str!("../../samples/inventory/ec2/vpc-endpoints.json"),
    ),
    (
        "samples/inventory/ec2/vpcs.json",
        include_str!("../../samples/inventory/ec2/vpcs.json"),
    ),
    (
        "samples/inventory/ip-ranges.json",
        include_str!("../../samples/inventory/ip-ranges.json"),
    ),
    (
        "samples/inventory/sagemaker/endpoint-config-risk-scoring.json",
        include_str!("../../samples/inventory/sagemaker/endpoint-config-risk-scoring.json"),
    ),
    (
        "samples/inventory/sagemaker/endpoint-risk-scoring.json",
        include_str!("../../samples/inventory/sagemaker/endpoint-risk-scoring.json"),
    ),
    (
        "samples/inventory/sagemaker/model-risk-scoring.json",
        include_str!("../../samples/inventory/sagemaker/model-risk-scoring.json"),
    ),
    (
        "samples/inventory/sagemaker/notebook-analyst-nb-01.json",
        include_str!("../../samples/inventory/sagemaker/notebook-analyst-nb-01.json"),
    ),
    (
        "samples/inventory/sagemaker/processing-job-phi-preprocess.json",
        include_str!("../../samples/inventory/sagemaker/processing-job-phi-preprocess.json"),
    ),
    (
        "samples/inventory/sagemaker/training-job-claims-isolated.json",
        include_str!("../../samples/inventory/sagemaker/training-job-claims-isolated.json"),
    ),
    (
        "samples/inventory/sagemaker/training-job-fraud-train.json",
        include_str!("../../samples/inventory/sagemaker/training-job-fraud-train.json"),
    ),
];

/// The sample flow logs as in-memory inputs, named by their path in the repository.
pub fn inputs() -> Vec<Input> {
    FLOW_LOGS
        .iter()
        .map(|(name, data)| Input::Memory {
            name: (*name).to_string(),
            data: Bytes::from_static(data),
        })
        .collect()
}

/// The sample inventory.
pub fn inventory() -> Result<Inventory, InventoryError> {
    let mut inv = Inventory::default();
    for (name, text) in INVENTORY {
        inv.add_json(name, text)?;
    }
    Ok(inv)
}
