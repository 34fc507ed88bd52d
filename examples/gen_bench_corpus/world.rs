//! The simulated account: three VPCs in us-east-1 (ML production, ML development, shared
//! services) with public, NAT-routed private and isolated subnets, NAT gateways, S3/DynamoDB
//! gateway endpoints, interface endpoints, ~200 SageMaker ENIs (training and processing jobs
//! with several instances, endpoints, a batch-transform model, notebook instances) and the
//! EC2/Lambda/RDS/EFS/ALB/ECS ENIs around them. Each ENI carries a traffic profile: which kinds
//! of flows it makes and, for the ones that leak, which internet hosts it talks to.

use crate::ranges::{self, v4, Net4};
use crate::rng::Rng;

pub const ACCT: &str = "111122223333";
pub const REGION: &str = "us-east-1";
pub const AZS: [&str; 3] = ["us-east-1a", "us-east-1b", "us-east-1c"];
pub const AZ_IDS: [&str; 3] = ["use1-az1", "use1-az2", "use1-az4"];
/// The real AWS-managed prefix lists of S3 and DynamoDB in us-east-1.
pub const PL_S3: &str = "pl-63a5400a";
pub const PL_DDB: &str = "pl-02cd2c6b";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Tier {
    Public,
    Private,
    Isolated,
}

/// Where a subnet's 0.0.0.0/0 goes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Default {
    None,
    Igw,
    Nat(usize),
}

pub struct Vpc {
    pub id: String,
    pub name: &'static str,
    pub cidr: Net4,
    pub igw: String,
    pub dhcp: String,
    /// Flow-log ids of the three flow logs on this VPC: default text, custom v5 text, Parquet.
    pub flow_logs: [String; 3],
    pub has_ddb_gateway: bool,
}

pub struct Subnet {
    pub id: String,
    pub vpc: usize,
    pub az: usize,
    pub tier: Tier,
    pub cidr: Net4,
    pub rt: usize,
    next: u32,
}

pub struct RouteTable {
    pub id: String,
    pub vpc: usize,
    pub main: bool,
    pub default: Default,
    pub s3: Option<usize>,
    pub ddb: Option<usize>,
    pub subnets: Vec<usize>,
}

pub struct Nat {
    pub id: String,
    pub vpc: usize,
    pub subnet: usize,
    pub eni: usize,
    pub public_ip: u32,
    pub alloc: String,
    pub assoc: String,
}

pub struct Endpoint {
    pub id: String,
    pub vpc: usize,
    pub short: &'static str,
    pub service: String,
    pub gateway: bool,
    pub subnets: Vec<usize>,
    pub enis: Vec<usize>,
    pub route_tables: Vec<usize>,
    pub sg: String,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ResKind {
    Training,
    Processing,
    Endpoint,
    BatchModel,
    Notebook,
}

impl ResKind {
    /// The kind as `egresswatch inventory show` and findings name it.
    pub fn label(self) -> &'static str {
        match self {
            ResKind::Training => "training-job",
            ResKind::Processing => "processing-job",
            ResKind::Endpoint => "endpoint",
            ResKind::BatchModel => "model",
            ResKind::Notebook => "notebook-instance",
        }
    }
}

pub struct Resource {
    pub kind: ResKind,
    pub name: String,
    pub isolation: bool,
    pub subnets: Vec<usize>,
    pub sg: String,
    pub instances: u32,
    pub instance_type: &'static str,
    pub enis: Vec<usize>,
    pub created: i64,
    pub start: i64,
    pub end: Option<i64>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Svc {
    SagemakerApi,
    SagemakerRuntime,
    Notebook,
    Logs,
    Sts,
    EcrApi,
    EcrDkr,
    Monitoring,
    Kms,
    Ssm,
}

impl Svc {
    pub fn short(self) -> &'static str {
        match self {
            Svc::SagemakerApi => "sagemaker.api",
            Svc::SagemakerRuntime => "sagemaker.runtime",
            Svc::Notebook => "notebook",
            Svc::Logs => "logs",
            Svc::Sts => "sts",
            Svc::EcrApi => "ecr.api",
            Svc::EcrDkr => "ecr.dkr",
            Svc::Monitoring => "monitoring",
            Svc::Kms => "kms",
            Svc::Ssm => "ssm",
        }
    }

    pub fn service_name(self) -> String {
        match self {
            // SageMaker's notebook endpoint is named aws.sagemaker.<region>.notebook.
            Svc::Notebook => format!("aws.sagemaker.{REGION}.notebook"),
            s => format!("com.amazonaws.{REGION}.{}", s.short()),
        }
    }
}

/// Kinds of flows an ENI makes or serves; `traffic.rs` turns one into flow-log records.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Flow {
    S3Get,
    S3Put,
    Ddb,
    Vpce(Svc),
    OwnPeer,
    Efs,
    /// To one of the ENI's internet destinations, by its subnet's default route.
    Internet,
    /// The security group refuses it: one REJECT record.
    Reject,
    /// An AWS service of the region through the NAT gateway (no endpoint for it).
    Bypass,
    CrossRegionS3,
    /// An internet client reaching the ENI through an internet-facing NLB that preserves
    /// client addresses; the ENI's replies are return traffic to a public address.
    PublicClient,
    Ec2Api,
    RdsClient,
    /// Serving: clients in the VPC connect to this ENI's port (RDS, EFS, endpoint ENIs).
    Serve(u16),
    AlbTargetIn,
    AlbPublicIn,
    AlbToTarget,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Part {
    /// The algorithm container's ENI.
    Algo,
    /// The ENI SageMaker uses for S3 and logging (the only one with network isolation).
    Data,
    Host,
    Notebook,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Role {
    Nat(usize),
    Vpce(usize),
    Sm {
        res: usize,
        part: Part,
    },
    Ec2 {
        instance: String,
        public_ip: Option<u32>,
    },
    Lambda {
        function: String,
    },
    Rds {
        db: String,
    },
    Efs {
        fs: String,
        mt: String,
    },
    Alb {
        name: String,
    },
    Ecs {
        task: String,
    },
}

#[derive(Clone, Copy, Debug)]
pub struct Dest {
    pub ip: u32,
    pub port: u16,
    pub proto: u8,
}

pub struct Eni {
    pub id: String,
    pub subnet: usize,
    pub ip: u32,
    pub secondary: Vec<u32>,
    pub sgs: Vec<String>,
    pub role: Role,
    pub mac: String,
    /// Share of its VPC's records (0 for idle ENIs, which log NODATA).
    pub weight: u64,
    pub idle: bool,
    pub flows: Vec<(Flow, u32)>,
    pub dests: Vec<(Dest, u32)>,
}

pub struct World {
    pub vpcs: Vec<Vpc>,
    pub subnets: Vec<Subnet>,
    pub rts: Vec<RouteTable>,
    pub nats: Vec<Nat>,
    pub endpoints: Vec<Endpoint>,
    pub resources: Vec<Resource>,
    pub enis: Vec<Eni>,
    pub t_start: i64,
    pub t_end: i64,
}

fn hex_id(rng: &mut Rng, prefix: &str) -> String {
    format!("{prefix}-0{:016x}", rng.next())
}

struct VpcSpec {
    name: &'static str,
    second_octet: u8,
    azs: usize,
    public: &'static [u8],
    private: &'static [u8],
    isolated: &'static [u8],
    nat_per_az: bool,
    ddb: bool,
    endpoints: &'static [Svc],
    per_object: u64,
}

const VPCS: &[VpcSpec] = &[
    VpcSpec {
        name: "ml-prod",
        second_octet: 20,
        azs: 3,
        public: &[0, 1, 2],
        private: &[32, 48, 64],
        isolated: &[128, 132, 136],
        nat_per_az: true,
        ddb: true,
        endpoints: &[
            Svc::SagemakerApi,
            Svc::SagemakerRuntime,
            Svc::Notebook,
            Svc::Logs,
            Svc::Sts,
            Svc::EcrApi,
            Svc::EcrDkr,
            Svc::Monitoring,
            Svc::Kms,
        ],
        per_object: 100_000,
    },
    VpcSpec {
        name: "ml-dev",
        second_octet: 30,
        azs: 2,
        public: &[0, 1],
        private: &[16, 32],
        isolated: &[64, 68],
        nat_per_az: false,
        ddb: false,
        endpoints: &[
            Svc::SagemakerApi,
            Svc::SagemakerRuntime,
            Svc::Logs,
            Svc::Sts,
            Svc::EcrApi,
            Svc::EcrDkr,
        ],
        per_object: 35_000,
    },
    VpcSpec {
        name: "shared-services",
        second_octet: 40,
        azs: 2,
        public: &[0, 1],
        private: &[16, 32],
        isolated: &[],
        nat_per_az: false,
        ddb: false,
        endpoints: &[Svc::Logs, Svc::Sts, Svc::Ssm],
        per_object: 15_000,
    },
];

/// How a SageMaker resource behaves. Leak weights are per mille of the ENI's flows (its normal
/// profile sums to about 1000).
#[derive(Clone, Copy)]
struct ResSpec {
    kind: ResKind,
    base: &'static str,
    vpc: usize,
    tier: Tier,
    azs: &'static [usize],
    instances: u32,
    itype: &'static str,
    isolation: bool,
    completed: bool,
    idle: bool,
    internet: u32,
    tail: u32,
    dns: bool,
    icmp: bool,
    plaintext: bool,
    reject: u32,
    bypass: u32,
    xregion: u32,
    public_clients: u32,
}

const R: ResSpec = ResSpec {
    kind: ResKind::Training,
    base: "",
    vpc: 0,
    tier: Tier::Private,
    azs: &[0],
    instances: 1,
    itype: "ml.m5.xlarge",
    isolation: false,
    completed: false,
    idle: false,
    internet: 0,
    tail: 0,
    dns: false,
    icmp: false,
    plaintext: false,
    reject: 0,
    bypass: 0,
    xregion: 0,
    public_clients: 0,
};

use ResKind::{BatchModel, Endpoint as Ep, Notebook as Nb, Processing as Pr, Training as Tr};

const RESOURCES: &[ResSpec] = &[
    // ml-prod training jobs.
    ResSpec {
        base: "fraud-xgb",
        instances: 4,
        itype: "ml.m5.4xlarge",
        azs: &[0, 1],
        internet: 180,
        tail: 3,
        completed: true,
        ..R
    },
    ResSpec {
        base: "llm-lora-finetune",
        instances: 8,
        itype: "ml.p4d.24xlarge",
        azs: &[0, 1, 2],
        internet: 72,
        tail: 6,
        ..R
    },
    ResSpec {
        base: "churn-lgbm",
        instances: 2,
        itype: "ml.c5.9xlarge",
        azs: &[1],
        completed: true,
        ..R
    },
    ResSpec {
        base: "claims-bert",
        instances: 4,
        itype: "ml.g5.12xlarge",
        azs: &[0, 1],
        ..R
    },
    ResSpec {
        base: "recsys-two-tower",
        instances: 2,
        itype: "ml.g5.2xlarge",
        azs: &[2],
        internet: 240,
        tail: 8,
        dns: true,
        ..R
    },
    ResSpec {
        base: "forecast-deepar",
        itype: "ml.c5.2xlarge",
        azs: &[0],
        completed: true,
        ..R
    },
    ResSpec {
        base: "anomaly-rcf",
        azs: &[1],
        ..R
    },
    ResSpec {
        base: "doc-layoutlm",
        instances: 3,
        itype: "ml.g4dn.xlarge",
        azs: &[0, 2],
        internet: 120,
        tail: 4,
        reject: 30,
        ..R
    },
    ResSpec {
        base: "pricing-gbm",
        azs: &[2],
        completed: true,
        ..R
    },
    ResSpec {
        base: "ranker-ltr",
        instances: 2,
        azs: &[0],
        bypass: 8,
        ..R
    },
    ResSpec {
        base: "vision-yolo",
        instances: 4,
        itype: "ml.p3.8xlarge",
        azs: &[1, 2],
        internet: 90,
        tail: 5,
        ..R
    },
    ResSpec {
        base: "speech-wav2vec",
        instances: 2,
        itype: "ml.g5.4xlarge",
        azs: &[0],
        ..R
    },
    ResSpec {
        base: "tabular-automl",
        itype: "ml.m5.2xlarge",
        azs: &[1],
        internet: 360,
        tail: 20,
        icmp: true,
        plaintext: true,
        ..R
    },
    ResSpec {
        base: "embed-distill",
        instances: 2,
        itype: "ml.g5.xlarge",
        azs: &[2],
        ..R
    },
    ResSpec {
        base: "seq2seq-translate",
        instances: 4,
        itype: "ml.p3.2xlarge",
        azs: &[0, 1],
        completed: true,
        ..R
    },
    ResSpec {
        base: "claims-isolated",
        instances: 4,
        azs: &[0, 1],
        isolation: true,
        ..R
    },
    ResSpec {
        base: "phi-risk-isolated",
        instances: 2,
        azs: &[2],
        isolation: true,
        internet: 36,
        tail: 2,
        ..R
    },
    ResSpec {
        base: "kyc-isolated",
        azs: &[0],
        isolation: true,
        completed: true,
        ..R
    },
    // ml-prod processing jobs.
    ResSpec {
        kind: Pr,
        base: "phi-preprocess",
        instances: 2,
        azs: &[1],
        xregion: 10,
        ..R
    },
    ResSpec {
        kind: Pr,
        base: "feature-eng-daily",
        instances: 4,
        itype: "ml.m5.4xlarge",
        azs: &[0, 1, 2],
        internet: 150,
        tail: 4,
        ..R
    },
    ResSpec {
        kind: Pr,
        base: "model-monitor-fraud",
        azs: &[0],
        completed: true,
        ..R
    },
    ResSpec {
        kind: Pr,
        base: "data-quality-claims",
        azs: &[2],
        bypass: 10,
        ..R
    },
    ResSpec {
        kind: Pr,
        base: "batch-embeddings",
        instances: 2,
        itype: "ml.g5.xlarge",
        azs: &[1],
        ..R
    },
    ResSpec {
        kind: Pr,
        base: "label-export",
        azs: &[0],
        internet: 240,
        tail: 6,
        plaintext: true,
        ..R
    },
    ResSpec {
        kind: Pr,
        base: "ab-test-analyzer",
        instances: 3,
        azs: &[1, 2],
        ..R
    },
    ResSpec {
        kind: Pr,
        base: "pii-redact",
        instances: 2,
        azs: &[0],
        isolation: true,
        ..R
    },
    // ml-prod endpoints (and the batch-transform model).
    ResSpec {
        kind: Ep,
        base: "risk-scoring-prod",
        instances: 3,
        itype: "ml.m5.large",
        azs: &[0, 1, 2],
        isolation: true,
        ..R
    },
    ResSpec {
        kind: Ep,
        base: "fraud-realtime-prod",
        instances: 4,
        itype: "ml.c5.xlarge",
        azs: &[0, 1],
        public_clients: 30,
        ..R
    },
    ResSpec {
        kind: Ep,
        base: "claims-triage-prod",
        instances: 2,
        itype: "ml.g4dn.xlarge",
        azs: &[1, 2],
        internet: 60,
        tail: 2,
        ..R
    },
    ResSpec {
        kind: Ep,
        base: "doc-classify-prod",
        instances: 2,
        azs: &[0, 2],
        ..R
    },
    ResSpec {
        kind: Ep,
        base: "kyc-verify-prod",
        azs: &[1],
        isolation: true,
        reject: 60,
        ..R
    },
    ResSpec {
        kind: BatchModel,
        base: "nightly-batch-scoring",
        instances: 2,
        itype: "ml.m5.2xlarge",
        azs: &[0],
        ..R
    },
    // ml-prod notebook instances.
    ResSpec {
        kind: Nb,
        base: "ds-alice",
        itype: "ml.t3.xlarge",
        azs: &[0],
        internet: 720,
        tail: 10,
        ..R
    },
    ResSpec {
        kind: Nb,
        base: "ds-bob",
        itype: "ml.t3.large",
        azs: &[1],
        internet: 540,
        tail: 5,
        dns: true,
        ..R
    },
    ResSpec {
        kind: Nb,
        base: "ds-carol",
        itype: "ml.t3.xlarge",
        azs: &[2],
        internet: 900,
        tail: 15,
        plaintext: true,
        ..R
    },
    ResSpec {
        kind: Nb,
        base: "ml-platform-admin",
        itype: "ml.t3.medium",
        azs: &[0],
        internet: 240,
        tail: 2,
        reject: 30,
        ..R
    },
    ResSpec {
        kind: Nb,
        base: "quant-research-01",
        itype: "ml.m5.2xlarge",
        azs: &[1],
        internet: 600,
        tail: 8,
        ..R
    },
    ResSpec {
        kind: Nb,
        base: "analyst-nb-01",
        itype: "ml.t3.medium",
        azs: &[0],
        idle: true,
        ..R
    },
    ResSpec {
        kind: Nb,
        base: "risk-analytics-nb",
        itype: "ml.t3.large",
        azs: &[2],
        ..R
    },
    ResSpec {
        kind: Nb,
        base: "fraud-ops-nb",
        itype: "ml.t3.medium",
        azs: &[1],
        internet: 180,
        tail: 1,
        ..R
    },
    ResSpec {
        kind: Nb,
        base: "claims-eda-nb",
        itype: "ml.t3.large",
        azs: &[0],
        ..R
    },
    ResSpec {
        kind: Nb,
        base: "mlops-oncall-nb",
        itype: "ml.t3.medium",
        azs: &[2],
        idle: true,
        ..R
    },
    // ml-dev.
    ResSpec {
        vpc: 1,
        base: "exp-gpt2-small",
        instances: 2,
        itype: "ml.g5.2xlarge",
        azs: &[0, 1],
        internet: 300,
        tail: 10,
        ..R
    },
    ResSpec {
        vpc: 1,
        base: "exp-vit-base",
        instances: 4,
        itype: "ml.g5.xlarge",
        azs: &[0, 1],
        internet: 180,
        tail: 6,
        ..R
    },
    ResSpec {
        vpc: 1,
        base: "exp-xgb-sweep",
        azs: &[1],
        completed: true,
        ..R
    },
    ResSpec {
        vpc: 1,
        base: "exp-tft",
        instances: 2,
        azs: &[0],
        internet: 120,
        tail: 3,
        ..R
    },
    // Isolated subnets: no default route, so internet attempts go nowhere (and find nothing).
    ResSpec {
        vpc: 1,
        base: "exp-offline-train",
        instances: 2,
        tier: Tier::Isolated,
        azs: &[0, 1],
        internet: 180,
        tail: 4,
        ..R
    },
    ResSpec {
        vpc: 1,
        kind: Pr,
        base: "dev-preprocess",
        instances: 2,
        azs: &[0],
        internet: 120,
        tail: 3,
        ..R
    },
    ResSpec {
        vpc: 1,
        kind: Pr,
        base: "dev-eval",
        azs: &[1],
        ..R
    },
    ResSpec {
        vpc: 1,
        kind: Ep,
        base: "llm-gateway-staging",
        itype: "ml.g5.2xlarge",
        azs: &[0],
        internet: 240,
        tail: 1,
        ..R
    },
    ResSpec {
        vpc: 1,
        kind: Nb,
        base: "dev-nb-01",
        itype: "ml.t3.medium",
        azs: &[0],
        internet: 900,
        tail: 12,
        ..R
    },
    ResSpec {
        vpc: 1,
        kind: Nb,
        base: "dev-nb-02",
        itype: "ml.t3.medium",
        azs: &[1],
        internet: 720,
        tail: 8,
        dns: true,
        ..R
    },
    ResSpec {
        vpc: 1,
        kind: Nb,
        base: "dev-nb-03",
        itype: "ml.t3.large",
        azs: &[0],
        internet: 1200,
        tail: 20,
        icmp: true,
        ..R
    },
    ResSpec {
        vpc: 1,
        kind: Nb,
        base: "dev-nb-04",
        itype: "ml.t3.medium",
        azs: &[1],
        idle: true,
        ..R
    },
    ResSpec {
        vpc: 1,
        kind: Nb,
        base: "dev-nb-05",
        itype: "ml.t3.medium",
        azs: &[0],
        internet: 480,
        tail: 4,
        ..R
    },
    ResSpec {
        vpc: 1,
        kind: Nb,
        base: "dev-nb-06",
        itype: "ml.g4dn.xlarge",
        azs: &[1],
        internet: 600,
        tail: 6,
        plaintext: true,
        ..R
    },
    ResSpec {
        vpc: 1,
        kind: Nb,
        base: "dev-nb-07",
        itype: "ml.t3.medium",
        azs: &[0],
        ..R
    },
    ResSpec {
        vpc: 1,
        kind: Nb,
        base: "dev-nb-08",
        itype: "ml.t3.medium",
        azs: &[1],
        internet: 360,
        tail: 3,
        ..R
    },
    ResSpec {
        vpc: 1,
        kind: Nb,
        base: "dev-nb-09",
        itype: "ml.t3.medium",
        azs: &[0],
        idle: true,
        ..R
    },
    ResSpec {
        vpc: 1,
        kind: Nb,
        base: "dev-nb-10",
        itype: "ml.t3.medium",
        azs: &[1],
        internet: 240,
        tail: 2,
        ..R
    },
    // shared-services has no SageMaker endpoints: its SageMaker traffic bypasses through the NAT.
    ResSpec {
        vpc: 2,
        kind: Pr,
        base: "report-builder",
        instances: 2,
        azs: &[0, 1],
        ..R
    },
    ResSpec {
        vpc: 2,
        kind: Nb,
        base: "ops-nb-01",
        itype: "ml.t3.medium",
        azs: &[0],
        internet: 180,
        tail: 2,
        ..R
    },
    ResSpec {
        vpc: 2,
        kind: Nb,
        base: "ops-nb-02",
        itype: "ml.t3.medium",
        azs: &[1],
        ..R
    },
];

/// Popular non-AWS hosts a data-science workload reaches: PyPI and its files (Fastly),
/// GitHub and its content hosts, conda channels behind Cloudflare. (address, port)
const POPULAR: &[(u32, u16, u32)] = &[
    (v4(151, 101, 0, 223), 443, 30),
    (v4(151, 101, 64, 223), 443, 30),
    (v4(151, 101, 128, 223), 443, 25),
    (v4(151, 101, 192, 223), 443, 25),
    (v4(151, 101, 1, 63), 443, 30),
    (v4(151, 101, 65, 63), 443, 25),
    (v4(151, 101, 129, 63), 443, 20),
    (v4(151, 101, 193, 63), 443, 20),
    (v4(140, 82, 112, 3), 443, 15),
    (v4(140, 82, 112, 4), 443, 12),
    (v4(140, 82, 113, 3), 443, 12),
    (v4(140, 82, 113, 4), 443, 10),
    (v4(140, 82, 114, 3), 22, 5),
    (v4(140, 82, 114, 4), 443, 8),
    (v4(185, 199, 108, 133), 443, 12),
    (v4(185, 199, 109, 133), 443, 10),
    (v4(185, 199, 110, 133), 443, 10),
    (v4(185, 199, 111, 133), 443, 8),
    (v4(104, 16, 130, 3), 443, 6),
    (v4(104, 16, 131, 3), 443, 6),
    (v4(104, 17, 92, 24), 443, 5),
    (v4(104, 17, 93, 24), 443, 5),
    (v4(104, 18, 10, 31), 443, 4),
    (v4(104, 19, 144, 37), 443, 3),
];
const PUBLIC_DNS: &[u32] = &[
    v4(8, 8, 8, 8),
    v4(8, 8, 4, 4),
    v4(1, 1, 1, 1),
    v4(1, 0, 0, 1),
];
const TEST_NETS: &[u32] = &[v4(192, 0, 2, 0), v4(198, 51, 100, 0), v4(203, 0, 113, 0)];

pub fn test_net_host(rng: &mut Rng) -> u32 {
    *rng.pick(TEST_NETS) + rng.range(1, 255) as u32
}

/// One of the few public addresses of an AWS API endpoint (`sts.us-east-1.amazonaws.com`, ...):
/// a real endpoint resolves to a handful of addresses, not to any address of its range.
pub fn public_endpoint(rng: &mut Rng, service: &str) -> u32 {
    let h = service.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    });
    let mut r = Rng::new(h, rng.below(6));
    random_in(&mut r, ranges::AMAZON_USE1)
}

pub fn random_in(rng: &mut Rng, nets: &[Net4]) -> u32 {
    let w: Vec<u32> = nets
        .iter()
        .map(|n| (ranges::size4(n.1) >> 8).max(1) as u32)
        .collect();
    let n = nets[rng.weighted(&w)];
    // Not the network or broadcast address of the block.
    n.0 + 1 + rng.below(ranges::size4(n.1) - 2) as u32
}

/// A resource's internet destinations (each of its ENIs talks to a subset).
fn leak_dests(spec: &ResSpec, rng: &mut Rng) -> Vec<Dest> {
    let mut out = Vec::new();
    let w: Vec<u32> = POPULAR.iter().map(|p| p.2).collect();
    let popular = 3 + rng.below(8) as usize;
    for _ in 0..popular {
        let p = POPULAR[rng.weighted(&w)];
        if !out.iter().any(|d: &Dest| d.ip == p.0) {
            out.push(Dest {
                ip: p.0,
                port: p.1,
                proto: 6,
            });
        }
    }
    for _ in 0..spec.tail {
        let port = match rng.below(20) {
            0 => 22,
            1 => 8443,
            2 if spec.plaintext => 80,
            3 if spec.plaintext => 21,
            _ => 443,
        };
        out.push(Dest {
            ip: test_net_host(rng),
            port,
            proto: 6,
        });
    }
    if spec.dns {
        for &ip in PUBLIC_DNS.iter().take(2 + rng.below(2) as usize) {
            out.push(Dest {
                ip,
                port: 53,
                proto: 17,
            });
        }
    }
    if spec.icmp {
        out.push(Dest {
            ip: PUBLIC_DNS[0],
            port: 0,
            proto: 1,
        });
    }
    if spec.plaintext {
        out.push(Dest {
            ip: test_net_host(rng),
            port: 80,
            proto: 6,
        });
    }
    out
}

/// Zipf-like weights: a workload talks to a few hosts a lot and to many hosts rarely.
fn zipf(dests: Vec<Dest>) -> Vec<(Dest, u32)> {
    dests
        .into_iter()
        .enumerate()
        .map(|(i, d)| (d, 1000 / (i as u32 + 1)))
        .collect()
}

struct Builder {
    w: World,
    rng: Rng,
}

impl Builder {
    fn alloc_ip(&mut self, subnet: usize) -> u32 {
        let s = &mut self.w.subnets[subnet];
        let ip = s.next;
        s.next += 1 + self.rng.below(6) as u32;
        assert!(
            (s.next as u64) < s.cidr.0 as u64 + ranges::size4(s.cidr.1) - 1,
            "subnet {} is full",
            s.id
        );
        ip
    }

    fn mac(&mut self) -> String {
        let b = self.rng.next().to_be_bytes();
        format!(
            "0e:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4]
        )
    }

    fn add_eni(&mut self, subnet: usize, sgs: Vec<String>, role: Role, weight: u64) -> usize {
        let ip = self.alloc_ip(subnet);
        let id = hex_id(&mut self.rng, "eni");
        let mac = self.mac();
        self.w.enis.push(Eni {
            id,
            subnet,
            ip,
            secondary: Vec::new(),
            sgs,
            role,
            mac,
            weight,
            idle: false,
            flows: Vec::new(),
            dests: Vec::new(),
        });
        self.w.enis.len() - 1
    }

    fn subnets_of(&self, vpc: usize, tier: Tier) -> Vec<usize> {
        (0..self.w.subnets.len())
            .filter(|&s| self.w.subnets[s].vpc == vpc && self.w.subnets[s].tier == tier)
            .collect()
    }

    fn subnet_in(&self, vpc: usize, tier: Tier, az: usize) -> usize {
        let all = self.subnets_of(vpc, tier);
        all.iter()
            .copied()
            .find(|&s| self.w.subnets[s].az == az)
            .unwrap_or(all[az % all.len()])
    }
}

pub fn build(seed: u64, t_start: i64, t_end: i64) -> World {
    let mut b = Builder {
        w: World {
            vpcs: Vec::new(),
            subnets: Vec::new(),
            rts: Vec::new(),
            nats: Vec::new(),
            endpoints: Vec::new(),
            resources: Vec::new(),
            enis: Vec::new(),
            t_start,
            t_end,
        },
        rng: Rng::new(seed, u64::MAX),
    };

    for (vi, spec) in VPCS.iter().enumerate() {
        let id = hex_id(&mut b.rng, "vpc");
        let igw = hex_id(&mut b.rng, "igw");
        let dhcp = format!("dopt-0{:016x}", b.rng.next());
        let flow_logs = [
            hex_id(&mut b.rng, "fl"),
            hex_id(&mut b.rng, "fl"),
            hex_id(&mut b.rng, "fl"),
        ];
        b.w.vpcs.push(Vpc {
            id,
            name: spec.name,
            cidr: (v4(10, spec.second_octet, 0, 0), 16),
            igw,
            dhcp,
            flow_logs,
            has_ddb_gateway: spec.ddb,
        });
        // Route tables: the VPC's main table (local only, no subnet uses it), public, private
        // (one per AZ where each AZ has its own NAT gateway), isolated.
        let rt = |b: &mut Builder, main, default| {
            let id = hex_id(&mut b.rng, "rtb");
            b.w.rts.push(RouteTable {
                id,
                vpc: vi,
                main,
                default,
                s3: None,
                ddb: None,
                subnets: Vec::new(),
            });
            b.w.rts.len() - 1
        };
        rt(&mut b, true, Default::None);
        let public_rt = rt(&mut b, false, Default::Igw);
        let subnet = |b: &mut Builder, tier, az, third: u8, len: u8, rt: usize| {
            let id = hex_id(&mut b.rng, "subnet");
            let base = v4(10, spec.second_octet, third, 0);
            let next = base + 4 + b.rng.below(12) as u32;
            b.w.subnets.push(Subnet {
                id,
                vpc: vi,
                az,
                tier,
                cidr: (base, len),
                rt,
                next,
            });
            let s = b.w.subnets.len() - 1;
            b.w.rts[rt].subnets.push(s);
            s
        };
        let publics: Vec<usize> = spec
            .public
            .iter()
            .enumerate()
            .map(|(az, &o)| subnet(&mut b, Tier::Public, az, o, 24, public_rt))
            .collect();
        // NAT gateways live in public subnets; their ENIs are created with them.
        let nat_count = if spec.nat_per_az { spec.azs } else { 1 };
        let mut nats = Vec::new();
        for &ps in publics.iter().take(nat_count) {
            let id = hex_id(&mut b.rng, "nat");
            let public_ip = random_in(&mut b.rng, ranges::EC2_USE1);
            let alloc = format!("eipalloc-0{:016x}", b.rng.next());
            let assoc = format!("eipassoc-0{:016x}", b.rng.next());
            let ni = b.w.nats.len();
            let eni = b.add_eni(ps, Vec::new(), Role::Nat(ni), 0);
            b.w.nats.push(Nat {
                id,
                vpc: vi,
                subnet: ps,
                eni,
                public_ip,
                alloc,
                assoc,
            });
            nats.push(ni);
        }
        let private_rts: Vec<usize> = (0..nat_count)
            .map(|i| rt(&mut b, false, Default::Nat(nats[i])))
            .collect();
        for (az, &o) in spec.private.iter().enumerate() {
            let r = private_rts[az % private_rts.len()];
            subnet(&mut b, Tier::Private, az, o, 20, r);
        }
        let isolated_rt = (!spec.isolated.is_empty()).then(|| rt(&mut b, false, Default::None));
        if let Some(r) = isolated_rt {
            for (az, &o) in spec.isolated.iter().enumerate() {
                subnet(&mut b, Tier::Isolated, az, o, 22, r);
            }
        }
        // Gateway endpoints: S3 for private and isolated tables, DynamoDB for private ones.
        let gw = |b: &mut Builder, short: &'static str, rts: Vec<usize>| {
            let id = hex_id(&mut b.rng, "vpce");
            let e = b.w.endpoints.len();
            for &r in &rts {
                if short == "s3" {
                    b.w.rts[r].s3 = Some(e);
                } else {
                    b.w.rts[r].ddb = Some(e);
                }
            }
            b.w.endpoints.push(Endpoint {
                id,
                vpc: vi,
                short,
                service: format!("com.amazonaws.{REGION}.{short}"),
                gateway: true,
                subnets: Vec::new(),
                enis: Vec::new(),
                route_tables: rts,
                sg: String::new(),
            });
        };
        let mut s3_rts = private_rts.clone();
        s3_rts.extend(isolated_rt);
        gw(&mut b, "s3", s3_rts);
        if spec.ddb {
            gw(&mut b, "dynamodb", private_rts.clone());
        }
        // Interface endpoints: one ENI in each private subnet.
        let sg = hex_id(&mut b.rng, "sg");
        let privates = b.subnets_of(vi, Tier::Private);
        for &svc in spec.endpoints {
            let id = hex_id(&mut b.rng, "vpce");
            let e = b.w.endpoints.len();
            let enis = privates
                .iter()
                .map(|&s| b.add_eni(s, vec![sg.clone()], Role::Vpce(e), 6))
                .collect();
            b.w.endpoints.push(Endpoint {
                id,
                vpc: vi,
                short: svc.short(),
                service: svc.service_name(),
                gateway: false,
                subnets: privates.clone(),
                enis,
                route_tables: Vec::new(),
                sg: sg.clone(),
            });
        }
    }

    // SageMaker resources and their ENIs.
    for spec in RESOURCES {
        let stamp = t_start - b.rng.range(900, 4 * 3600) as i64;
        let name = match spec.kind {
            // SDK-style job names carry their creation time.
            Tr | Pr => format!("{}-{}", spec.base, job_stamp(stamp)),
            BatchModel => format!("{}-model-v{}", spec.base, 1 + b.rng.below(9)),
            _ => spec.base.to_string(),
        };
        let subnets: Vec<usize> = spec
            .azs
            .iter()
            .map(|&az| b.subnet_in(spec.vpc, spec.tier, az))
            .collect();
        let sg = hex_id(&mut b.rng, "sg");
        let ri = b.w.resources.len();
        let (created, start, end) = match spec.kind {
            Tr | Pr => {
                let start = stamp + b.rng.range(120, 600) as i64;
                let end = spec.completed.then(|| t_end + b.rng.range(60, 1800) as i64);
                (stamp, start, end)
            }
            _ => {
                let created = t_start - b.rng.range(86_400, 40 * 86_400) as i64;
                (created, created, None)
            }
        };
        let mut enis = Vec::new();
        for i in 0..spec.instances {
            let subnet = subnets[i as usize % subnets.len()];
            let parts: &[Part] = match spec.kind {
                Nb => &[Part::Notebook],
                // With network isolation SageMaker creates only the S3/logging ENI.
                _ if spec.isolation => &[Part::Data],
                Tr | Pr => &[Part::Algo, Part::Data],
                _ => &[Part::Host, Part::Data],
            };
            for &part in parts {
                let weight = match part {
                    Part::Algo if spec.kind == Tr => 30,
                    Part::Algo => 20,
                    Part::Data if spec.isolation => 15,
                    Part::Data => 12,
                    Part::Host => 15,
                    Part::Notebook => 6,
                };
                let e = b.add_eni(subnet, vec![sg.clone()], Role::Sm { res: ri, part }, weight);
                enis.push(e);
            }
        }
        b.w.resources.push(Resource {
            kind: spec.kind,
            name,
            isolation: spec.isolation,
            subnets,
            sg,
            instances: spec.instances,
            instance_type: spec.itype,
            enis,
            created,
            start,
            end,
        });
    }

    // Out-of-scope ENIs: (vpc, tier, az, role kind, count).
    let others: &[(usize, Tier, &str, usize)] = &[
        (0, Tier::Private, "ec2", 6),
        (0, Tier::Public, "ec2-public", 2),
        (0, Tier::Private, "lambda", 6),
        (0, Tier::Private, "rds", 2),
        (0, Tier::Private, "efs", 3),
        (0, Tier::Public, "alb", 2),
        (1, Tier::Private, "ec2", 6),
        (1, Tier::Public, "ec2-public", 1),
        (1, Tier::Private, "efs", 2),
        (1, Tier::Private, "lambda", 2),
        (2, Tier::Private, "ec2", 8),
        (2, Tier::Private, "lambda", 4),
        (2, Tier::Private, "rds", 2),
        (2, Tier::Public, "alb", 2),
        (2, Tier::Private, "ecs", 6),
    ];
    for &(vpc, tier, kind, count) in others {
        let sg = hex_id(&mut b.rng, "sg");
        let fs = format!("fs-0{:016x}", b.rng.next());
        let alb = format!("app/{}-alb/{:016x}", b.w.vpcs[vpc].name, b.rng.next());
        let azs = b.subnets_of(vpc, tier).len();
        for i in 0..count {
            let subnet = b.subnet_in(vpc, tier, i % azs);
            let role = match kind {
                "ec2" | "ec2-public" => Role::Ec2 {
                    instance: hex_id(&mut b.rng, "i"),
                    public_ip: (kind == "ec2-public")
                        .then(|| random_in(&mut b.rng, ranges::EC2_USE1)),
                },
                "lambda" => Role::Lambda {
                    function: format!(
                        "{}-{}",
                        [
                            "etl-trigger",
                            "feature-sync",
                            "alerts-fanout",
                            "score-proxy"
                        ][i % 4],
                        b.w.vpcs[vpc].name
                    ),
                },
                "rds" => Role::Rds {
                    db: format!("{}-pg", b.w.vpcs[vpc].name),
                },
                "efs" => Role::Efs {
                    fs: fs.clone(),
                    mt: format!("fsmt-0{:016x}", b.rng.next()),
                },
                "alb" => Role::Alb { name: alb.clone() },
                _ => Role::Ecs {
                    task: format!("{:032x}", b.rng.next() as u128 * 0x1_0000_0001),
                },
            };
            let weight = match kind {
                "ec2" => 25,
                "ec2-public" => 20,
                "lambda" => 8,
                "rds" => 30,
                "efs" => 20,
                "alb" => 25,
                _ => 10,
            };
            b.add_eni(subnet, vec![sg.clone()], role, weight);
        }
    }
    // Some endpoint hosts carry a secondary address (multi-model containers).
    for r in 0..b.w.resources.len() {
        if b.w.resources[r].kind == Ep {
            let e = b.w.resources[r].enis[0];
            let s = b.w.enis[e].subnet;
            let ip = b.alloc_ip(s);
            b.w.enis[e].secondary.push(ip);
        }
    }

    profiles(&mut b);
    b.w
}

fn job_stamp(t: i64) -> String {
    let (y, mo, d, h, mi, s) = crate::civil(t);
    format!(
        "{y:04}-{mo:02}-{d:02}-{h:02}-{mi:02}-{s:02}-{:03}",
        (t % 997) as u32
    )
}

/// Gives every ENI its flow mix (and leak destinations) from its role and resource spec.
fn profiles(b: &mut Builder) {
    let n = b.w.enis.len();
    for e in 0..n {
        let vpc = b.w.subnets[b.w.enis[e].subnet].vpc;
        let has = |b: &Builder, short: &str| {
            b.w.endpoints
                .iter()
                .any(|x| x.vpc == vpc && !x.gateway && x.short == short)
        };
        let ddb = b.w.vpcs[vpc].has_ddb_gateway;
        let efs =
            b.w.enis
                .iter()
                .any(|x| matches!(x.role, Role::Efs { .. }) && b.w.subnets[x.subnet].vpc == vpc);
        let rds =
            b.w.enis
                .iter()
                .any(|x| matches!(x.role, Role::Rds { .. }) && b.w.subnets[x.subnet].vpc == vpc);
        let alb =
            b.w.enis
                .iter()
                .any(|x| matches!(x.role, Role::Alb { .. }) && b.w.subnets[x.subnet].vpc == vpc);
        let mut f: Vec<(Flow, u32)> = Vec::new();
        let mut dests = Vec::new();
        let role = b.w.enis[e].role.clone();
        match role {
            Role::Sm { res, part } => {
                let spec = RESOURCES[res];
                let multi = b.w.resources[res]
                    .enis
                    .iter()
                    .filter(|&&x| {
                        matches!(
                            b.w.enis[x].role,
                            Role::Sm {
                                part: Part::Algo,
                                ..
                            }
                        )
                    })
                    .count()
                    > 1;
                let vpce = |s: Svc| Flow::Vpce(s);
                match part {
                    Part::Algo => {
                        f.extend([
                            (Flow::S3Get, 330 + if multi { 0 } else { 330 }),
                            (Flow::S3Put, 60),
                            (vpce(Svc::EcrDkr), 30),
                            (vpce(Svc::EcrApi), 10),
                            (vpce(Svc::Logs), 50),
                            (vpce(Svc::Monitoring), 30),
                            (vpce(Svc::SagemakerApi), 10),
                            (vpce(Svc::Sts), 10),
                        ]);
                        if multi {
                            f.push((Flow::OwnPeer, 330));
                        }
                        if efs && spec.kind == Tr {
                            f.push((Flow::Efs, 60));
                        }
                        if ddb && spec.kind == Pr {
                            f.push((Flow::Ddb, 60));
                        }
                    }
                    Part::Data if spec.isolation => f.extend([
                        (Flow::S3Get, 600),
                        (Flow::S3Put, 200),
                        (vpce(Svc::Logs), 150),
                        (vpce(Svc::Monitoring), 50),
                    ]),
                    Part::Data => f.extend([
                        (Flow::S3Get, 450),
                        (Flow::S3Put, 250),
                        (vpce(Svc::Logs), 180),
                        (vpce(Svc::Sts), 40),
                        (vpce(Svc::Monitoring), 80),
                    ]),
                    Part::Host => {
                        f.extend([
                            (Flow::S3Get, 300 + if ddb { 0 } else { 250 }),
                            (vpce(Svc::Logs), 200),
                            (vpce(Svc::Monitoring), 150),
                            (vpce(Svc::Sts), 50),
                            (vpce(Svc::SagemakerRuntime), 50),
                        ]);
                        if ddb {
                            f.push((Flow::Ddb, 250));
                        }
                    }
                    Part::Notebook => {
                        f.extend([
                            (vpce(Svc::SagemakerApi), 150),
                            (vpce(Svc::SagemakerRuntime), 60),
                            (Flow::S3Get, 300),
                            (Flow::S3Put, 80),
                            (vpce(Svc::Logs), 40),
                            (vpce(Svc::Sts), 60),
                        ]);
                        if has(b, "notebook") {
                            f.push((vpce(Svc::Notebook), 100));
                        }
                        if efs {
                            f.push((Flow::Efs, 60));
                        }
                    }
                }
                // Leaks are the algorithm container's (or the notebook's, or the model's): the
                // S3/logging ENI is SageMaker's own and behaves, unless isolation is broken.
                let leaks = !matches!(part, Part::Data) || spec.isolation;
                if leaks {
                    if spec.internet > 0 {
                        f.push((Flow::Internet, spec.internet));
                    }
                    if spec.reject > 0 {
                        f.push((Flow::Reject, spec.reject));
                    }
                    if spec.bypass > 0 {
                        f.push((Flow::Bypass, spec.bypass));
                    }
                    if spec.xregion > 0 {
                        f.push((Flow::CrossRegionS3, spec.xregion));
                    }
                    if spec.public_clients > 0 && part == Part::Host {
                        f.push((Flow::PublicClient, spec.public_clients));
                    }
                    if spec.internet > 0 || spec.reject > 0 {
                        let mut r = Rng::new(0x1eaf ^ res as u64, e as u64);
                        let all = leak_dests(&spec, &mut Rng::new(0x1eaf, res as u64));
                        // Each ENI of a job talks to most of the job's hosts, not all.
                        let mine: Vec<Dest> = all.into_iter().filter(|_| r.chance(0.75)).collect();
                        dests = mine;
                    }
                }
                if spec.idle {
                    b.w.enis[e].idle = true;
                    b.w.enis[e].weight = 0;
                }
            }
            Role::Ec2 { public_ip, .. } => {
                if public_ip.is_some() {
                    f.extend([
                        (Flow::Internet, 350),
                        (Flow::AlbPublicIn, 300),
                        (Flow::S3Get, 150),
                    ]);
                } else {
                    f.extend([
                        (Flow::Internet, 150),
                        (Flow::Ec2Api, 60),
                        (Flow::S3Get, 200),
                        (Flow::S3Put, 80),
                        (Flow::Vpce(Svc::Logs), 60),
                        (Flow::Vpce(Svc::Sts), 30),
                    ]);
                    if has(b, "sagemaker.runtime") {
                        f.push((Flow::Vpce(Svc::SagemakerRuntime), 80));
                    }
                    if alb {
                        f.push((Flow::AlbTargetIn, 150));
                    }
                    if ddb {
                        f.push((Flow::Ddb, 40));
                    }
                }
                if rds {
                    f.push((Flow::RdsClient, 150));
                }
                if efs {
                    f.push((Flow::Efs, 50));
                }
                let mut r = Rng::new(0xec2, e as u64);
                dests = (0..8 + r.below(20))
                    .map(|_| {
                        if r.chance(0.5) {
                            let p = *r.pick(POPULAR);
                            Dest {
                                ip: p.0,
                                port: p.1,
                                proto: 6,
                            }
                        } else {
                            Dest {
                                ip: test_net_host(&mut r),
                                port: *r.pick(&[443, 443, 443, 80, 8443]),
                                proto: 6,
                            }
                        }
                    })
                    .collect();
            }
            Role::Lambda { .. } => {
                f.extend([
                    (Flow::Internet, 300),
                    (Flow::Ddb, 250),
                    (Flow::S3Get, 200),
                    (Flow::Vpce(Svc::Sts), 100),
                ]);
                if rds {
                    f.push((Flow::RdsClient, 100));
                }
                if has(b, "sagemaker.runtime") {
                    f.push((Flow::Vpce(Svc::SagemakerRuntime), 50));
                }
                let mut r = Rng::new(0x1a3b, e as u64);
                dests = (0..3 + r.below(6))
                    .map(|_| Dest {
                        ip: test_net_host(&mut r),
                        port: 443,
                        proto: 6,
                    })
                    .collect();
            }
            Role::Ecs { .. } => {
                f.extend([
                    (Flow::Internet, 200),
                    (Flow::AlbTargetIn, 400),
                    (Flow::S3Get, 200),
                    (Flow::Vpce(Svc::Logs), 200),
                ]);
                let mut r = Rng::new(0xec5, e as u64);
                dests = (0..4 + r.below(8))
                    .map(|_| Dest {
                        ip: test_net_host(&mut r),
                        port: 443,
                        proto: 6,
                    })
                    .collect();
            }
            Role::Rds { .. } => f.push((Flow::Serve(5432), 1000)),
            Role::Efs { .. } => f.push((Flow::Serve(2049), 1000)),
            Role::Vpce(_) => f.push((Flow::Serve(443), 1000)),
            Role::Alb { .. } => f.extend([(Flow::AlbPublicIn, 500), (Flow::AlbToTarget, 500)]),
            Role::Nat(_) => {}
        }
        b.w.enis[e].flows = f;
        b.w.enis[e].dests = zipf(dests);
    }
    // A few EC2 instances are stopped: their ENIs only log NODATA.
    for v in 0..b.w.vpcs.len() {
        if let Some(e) = (0..n).rev().find(|&e| {
            matches!(
                b.w.enis[e].role,
                Role::Ec2 {
                    public_ip: None,
                    ..
                }
            ) && b.w.subnets[b.w.enis[e].subnet].vpc == v
        }) {
            b.w.enis[e].idle = true;
            b.w.enis[e].weight = 0;
        }
    }
}

impl World {
    pub fn vpc_of(&self, e: usize) -> usize {
        self.subnets[self.enis[e].subnet].vpc
    }

    pub fn default_route(&self, e: usize) -> Default {
        self.rts[self.subnets[self.enis[e].subnet].rt].default
    }

    pub fn route_name(&self, e: usize) -> &'static str {
        match self.default_route(e) {
            Default::Nat(_) => "nat",
            Default::Igw => "igw",
            Default::None => "none",
        }
    }

    pub fn is_sagemaker(&self, e: usize) -> bool {
        matches!(self.enis[e].role, Role::Sm { .. })
    }

    /// The instance id a flow log shows for the ENI: only instances you own have one.
    pub fn instance_id(&self, e: usize) -> Option<&str> {
        match &self.enis[e].role {
            Role::Ec2 { instance, .. } => Some(instance),
            _ => None,
        }
    }

    pub fn az(&self, e: usize) -> usize {
        self.subnets[self.enis[e].subnet].az
    }
}

/// Records per 5-minute object of each VPC's flow logs, in VPC order.
pub fn volumes() -> Vec<u64> {
    VPCS.iter().map(|v| v.per_object).collect()
}
