//! The simulated account as the AWS CLI prints it: `ec2 describe-*` outputs, one
//! `sagemaker describe-*` output per resource, and `ip-ranges.json`: the same shapes as
//! `samples/inventory`, with the fields the real outputs carry (not only those egresswatch reads).

use std::path::Path;

use serde_json::{json, Value};

use crate::ranges;
use crate::rng::Rng;
use crate::world::{
    Default, Part, ResKind, Resource, Role, Tier, World, ACCT, AZS, AZ_IDS, PL_DDB, PL_S3, REGION,
};

fn ip(a: u32) -> String {
    let b = a.to_be_bytes();
    format!("{}.{}.{}.{}", b[0], b[1], b[2], b[3])
}

fn cidr(n: ranges::Net4) -> String {
    format!("{}/{}", ip(n.0), n.1)
}

/// Time as the AWS CLI prints it.
pub fn cli_time(t: i64) -> String {
    let (y, mo, d, h, mi, s) = crate::civil(t);
    format!(
        "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{:03}000+00:00",
        (t.rem_euclid(1000)) as u32
    )
}

fn dns_name(a: u32) -> String {
    format!("ip-{}.ec2.internal", ip(a).replace('.', "-"))
}

fn tags(name: &str) -> Value {
    json!([{"Key": "Name", "Value": name}])
}

fn uuid(rng: &mut Rng) -> String {
    let a = rng.next();
    let b = rng.next();
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        0x8000 | (b >> 48) & 0x3fff,
        b & 0xffff_ffff_ffff
    )
}

fn write(dir: &Path, name: &str, v: &Value) -> std::io::Result<()> {
    let path = dir.join(name);
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p)?;
    }
    let mut text = serde_json::to_string_pretty(v).map_err(std::io::Error::other)?;
    text.push('\n');
    std::fs::write(path, text)
}

pub fn endpoint_config_name(r: &Resource) -> String {
    format!("{}-config-v3", r.name)
}

pub fn model_name(r: &Resource) -> String {
    match r.kind {
        ResKind::BatchModel => r.name.clone(),
        _ => format!("{}-model-v3", r.name),
    }
}

fn enis_json(w: &World, rng: &mut Rng) -> Value {
    let mut out = Vec::new();
    for (e, eni) in w.enis.iter().enumerate() {
        let s = &w.subnets[eni.subnet];
        let vpc = &w.vpcs[s.vpc];
        let groups: Vec<Value> = eni
            .sgs
            .iter()
            .map(|g| json!({"GroupId": g, "GroupName": g}))
            .collect();
        let mut addrs = vec![json!({
            "Primary": true,
            "PrivateDnsName": dns_name(eni.ip),
            "PrivateIpAddress": ip(eni.ip),
        })];
        for &a in &eni.secondary {
            addrs.push(
                json!({"Primary": false, "PrivateDnsName": dns_name(a), "PrivateIpAddress": ip(a)}),
            );
        }
        let service_attach = |rng: &mut Rng, owner: &str| {
            json!({
                "AttachTime": cli_time(w.t_start - 86_400 * 3),
                "AttachmentId": format!("ela-attach-0{:016x}", rng.next()),
                "DeleteOnTermination": false,
                "DeviceIndex": 1,
                "NetworkCardIndex": 0,
                "InstanceOwnerId": owner,
                "Status": "attached",
            })
        };
        let (desc, itype, requester, requester_id, attachment, public): (
            String,
            &str,
            bool,
            Option<String>,
            Value,
            Option<u32>,
        ) = match &eni.role {
            Role::Nat(n) => (
                format!("Interface for NAT Gateway {}", w.nats[*n].id),
                "nat_gateway",
                true,
                Some("036872051663".into()),
                service_attach(rng, "amazon-aws"),
                Some(w.nats[*n].public_ip),
            ),
            Role::Vpce(x) => (
                format!("VPC Endpoint Interface {}", w.endpoints[*x].id),
                "vpc_endpoint",
                true,
                Some("727180483921".into()),
                Value::Null,
                None,
            ),
            Role::Sm { res, part } => {
                let r = &w.resources[*res];
                let desc = if *part == Part::Notebook {
                    format!("[Do not delete] Network Interface created to access resources in your VPC for SageMaker Notebook Instance {}", r.name)
                } else {
                    // SageMaker leaves job and endpoint ENIs without a description.
                    String::new()
                };
                (
                    desc,
                    "interface",
                    true,
                    Some("AROAXJ2QB5R3SAGEMKR7:SageMaker".into()),
                    service_attach(rng, "502893829561"),
                    None,
                )
            }
            Role::Ec2 {
                instance,
                public_ip,
            } => (
                "Primary network interface".into(),
                "interface",
                false,
                None,
                json!({
                    "AttachTime": cli_time(w.t_start - 86_400 * 20),
                    "AttachmentId": format!("eni-attach-0{:016x}", rng.next()),
                    "DeleteOnTermination": true,
                    "DeviceIndex": 0,
                    "NetworkCardIndex": 0,
                    "InstanceId": instance,
                    "InstanceOwnerId": ACCT,
                    "Status": "attached",
                }),
                *public_ip,
            ),
            Role::Lambda { function } => (
                format!("AWS Lambda VPC ENI-{function}-{}", uuid(rng)),
                "lambda",
                true,
                Some(format!("AROAXJ2QB5R3LAMBDA42:{function}")),
                service_attach(rng, "amazon-aws"),
                None,
            ),
            Role::Rds { .. } => (
                "RDSNetworkInterface".into(),
                "interface",
                true,
                Some("amazon-rds".into()),
                service_attach(rng, "amazon-rds"),
                None,
            ),
            Role::Efs { fs, mt } => (
                format!("EFS mount target for {fs} ({mt})"),
                "efs",
                true,
                Some("641220049212".into()),
                Value::Null,
                None,
            ),
            Role::Alb { name } => (
                format!("ELB {name}"),
                "interface",
                true,
                Some("amazon-elb".into()),
                service_attach(rng, "amazon-elb"),
                None,
            ),
            Role::Ecs { task } => (
                format!(
                    "arn:aws:ecs:{REGION}:{ACCT}:attachment/{}",
                    uuid(&mut Rng::new(task.len() as u64, e as u64))
                ),
                "interface",
                true,
                Some("578734482556".into()),
                Value::Null,
                None,
            ),
        };
        let mut v = json!({
            "AvailabilityZone": AZS[s.az],
            "AvailabilityZoneId": AZ_IDS[s.az],
            "Description": desc,
            "Groups": groups,
            "InterfaceType": itype,
            "Ipv6Addresses": [],
            "MacAddress": eni.mac,
            "NetworkInterfaceId": eni.id,
            "OwnerId": ACCT,
            "PrivateDnsName": dns_name(eni.ip),
            "PrivateIpAddress": ip(eni.ip),
            "PrivateIpAddresses": addrs,
            "RequesterManaged": requester,
            "SourceDestCheck": !matches!(eni.role, Role::Nat(_)),
            "Status": "in-use",
            "SubnetId": s.id,
            "TagSet": [],
            "VpcId": vpc.id,
        });
        if let Some(id) = requester_id {
            v["RequesterId"] = json!(id);
        }
        if !attachment.is_null() {
            v["Attachment"] = attachment;
        }
        if let Some(p) = public {
            let host = ip(p).replace('.', "-");
            v["Association"] = json!({
                "IpOwnerId": "amazon",
                "PublicDnsName": format!("ec2-{host}.compute-1.amazonaws.com"),
                "PublicIp": ip(p),
            });
        }
        out.push(v);
    }
    json!({ "NetworkInterfaces": out })
}

fn vpc_json(w: &World) -> Value {
    let vpcs: Vec<Value> = w
        .vpcs
        .iter()
        .map(|v| {
            json!({
                "CidrBlock": cidr(v.cidr),
                "DhcpOptionsId": v.dhcp,
                "State": "available",
                "VpcId": v.id,
                "OwnerId": ACCT,
                "InstanceTenancy": "default",
                "CidrBlockAssociationSet": [{
                    "AssociationId": format!("vpc-cidr-assoc-{}", &v.id[4..]),
                    "CidrBlock": cidr(v.cidr),
                    "CidrBlockState": {"State": "associated"},
                }],
                "IsDefault": false,
                "Tags": tags(v.name),
            })
        })
        .collect();
    json!({ "Vpcs": vpcs })
}

fn subnets_json(w: &World) -> Value {
    let subnets: Vec<Value> = w
        .subnets
        .iter()
        .map(|s| {
            let tier = match s.tier {
                Tier::Public => "public",
                Tier::Private => "private",
                Tier::Isolated => "isolated",
            };
            let used = w
                .enis
                .iter()
                .filter(|e| w.subnets[e.subnet].id == s.id)
                .count();
            json!({
                "AvailabilityZone": AZS[s.az],
                "AvailabilityZoneId": AZ_IDS[s.az],
                "AvailableIpAddressCount": ranges::size4(s.cidr.1) as usize - 5 - used,
                "CidrBlock": cidr(s.cidr),
                "DefaultForAz": false,
                "MapPublicIpOnLaunch": s.tier == Tier::Public,
                "MapCustomerOwnedIpOnLaunch": false,
                "State": "available",
                "SubnetId": s.id,
                "VpcId": w.vpcs[s.vpc].id,
                "OwnerId": ACCT,
                "AssignIpv6AddressOnCreation": false,
                "Ipv6CidrBlockAssociationSet": [],
                "Tags": tags(&format!("{}-{tier}-{}", w.vpcs[s.vpc].name, AZS[s.az])),
                "SubnetArn": format!("arn:aws:ec2:{REGION}:{ACCT}:subnet/{}", s.id),
                "EnableDns64": false,
                "Ipv6Native": false,
                "PrivateDnsNameOptionsOnLaunch": {
                    "HostnameType": "ip-name",
                    "EnableResourceNameDnsARecord": false,
                    "EnableResourceNameDnsAAAARecord": false,
                },
            })
        })
        .collect();
    json!({ "Subnets": subnets })
}

fn route_tables_json(w: &World, rng: &mut Rng) -> Value {
    let rts: Vec<Value> = w
        .rts
        .iter()
        .map(|rt| {
            let vpc = &w.vpcs[rt.vpc];
            let mut routes = vec![json!({
                "DestinationCidrBlock": cidr(vpc.cidr),
                "GatewayId": "local",
                "Origin": "CreateRouteTable",
                "State": "active",
            })];
            match rt.default {
                Default::Igw => routes.push(json!({
                    "DestinationCidrBlock": "0.0.0.0/0",
                    "GatewayId": vpc.igw,
                    "Origin": "CreateRoute",
                    "State": "active",
                })),
                Default::Nat(n) => routes.push(json!({
                    "DestinationCidrBlock": "0.0.0.0/0",
                    "NatGatewayId": w.nats[n].id,
                    "Origin": "CreateRoute",
                    "State": "active",
                })),
                Default::None => {}
            }
            for (ep, pl) in [(rt.s3, PL_S3), (rt.ddb, PL_DDB)] {
                if let Some(ep) = ep {
                    routes.push(json!({
                        "DestinationPrefixListId": pl,
                        "GatewayId": w.endpoints[ep].id,
                        "Origin": "CreateRoute",
                        "State": "active",
                    }));
                }
            }
            let mut assocs = Vec::new();
            if rt.main {
                assocs.push(json!({
                    "Main": true,
                    "RouteTableAssociationId": format!("rtbassoc-0{:016x}", rng.next()),
                    "RouteTableId": rt.id,
                    "AssociationState": {"State": "associated"},
                }));
            }
            for &s in &rt.subnets {
                assocs.push(json!({
                    "Main": false,
                    "RouteTableAssociationId": format!("rtbassoc-0{:016x}", rng.next()),
                    "RouteTableId": rt.id,
                    "SubnetId": w.subnets[s].id,
                    "AssociationState": {"State": "associated"},
                }));
            }
            let kind = if rt.main {
                "main".to_string()
            } else {
                match rt.default {
                    Default::Igw => "public".into(),
                    Default::Nat(n) => format!("private-{}", AZS[w.subnets[w.nats[n].subnet].az]),
                    Default::None => "isolated".into(),
                }
            };
            json!({
                "Associations": assocs,
                "PropagatingVgws": [],
                "RouteTableId": rt.id,
                "Routes": routes,
                "Tags": tags(&format!("{}-{kind}", vpc.name)),
                "VpcId": vpc.id,
                "OwnerId": ACCT,
            })
        })
        .collect();
    json!({ "RouteTables": rts })
}

fn nats_json(w: &World) -> Value {
    let nats: Vec<Value> = w
        .nats
        .iter()
        .map(|n| {
            json!({
                "CreateTime": cli_time(w.t_start - 200 * 86_400),
                "NatGatewayAddresses": [{
                    "AllocationId": n.alloc,
                    "NetworkInterfaceId": w.enis[n.eni].id,
                    "PrivateIp": ip(w.enis[n.eni].ip),
                    "PublicIp": ip(n.public_ip),
                    "AssociationId": n.assoc,
                    "IsPrimary": true,
                    "Status": "succeeded",
                }],
                "NatGatewayId": n.id,
                "State": "available",
                "SubnetId": w.subnets[n.subnet].id,
                "VpcId": w.vpcs[n.vpc].id,
                "Tags": tags(&format!("{}-nat-{}", w.vpcs[n.vpc].name, AZS[w.subnets[n.subnet].az])),
                "ConnectivityType": "public",
            })
        })
        .collect();
    json!({ "NatGateways": nats })
}

fn endpoints_json(w: &World, rng: &mut Rng) -> Value {
    let eps: Vec<Value> = w
        .endpoints
        .iter()
        .map(|x| {
            let mut v = json!({
                "VpcEndpointId": x.id,
                "VpcEndpointType": if x.gateway { "Gateway" } else { "Interface" },
                "VpcId": w.vpcs[x.vpc].id,
                "ServiceName": x.service,
                "State": "available",
                "RouteTableIds": x.route_tables.iter().map(|&r| w.rts[r].id.clone()).collect::<Vec<_>>(),
                "SubnetIds": x.subnets.iter().map(|&s| w.subnets[s].id.clone()).collect::<Vec<_>>(),
                "NetworkInterfaceIds": x.enis.iter().map(|&e| w.enis[e].id.clone()).collect::<Vec<_>>(),
                "PrivateDnsEnabled": !x.gateway,
                "RequesterManaged": false,
                "CreationTimestamp": cli_time(w.t_start - 150 * 86_400),
                "Tags": [],
                "OwnerId": ACCT,
            });
            if x.gateway {
                v["PolicyDocument"] = json!("{\"Version\":\"2008-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"*\",\"Resource\":\"*\"}]}");
                v["Groups"] = json!([]);
                v["DnsEntries"] = json!([]);
            } else {
                let host = x.short.replace("notebook", "notebook.sagemaker");
                v["Groups"] = json!([{"GroupId": x.sg, "GroupName": format!("{}-vpce", w.vpcs[x.vpc].name)}]);
                v["IpAddressType"] = json!("ipv4");
                v["DnsOptions"] = json!({"DnsRecordIpType": "ipv4"});
                v["DnsEntries"] = json!([{
                    "DnsName": format!("{}-{:08x}.{host}.{REGION}.vpce.amazonaws.com", x.id, rng.next() as u32),
                    "HostedZoneId": "Z7HUB22UULQXV",
                }]);
            }
            v
        })
        .collect();
    json!({ "VpcEndpoints": eps })
}

fn vpc_config(w: &World, r: &Resource) -> Value {
    json!({
        "SecurityGroupIds": [r.sg],
        "Subnets": r.subnets.iter().map(|&s| w.subnets[s].id.clone()).collect::<Vec<_>>(),
    })
}

fn arn(kind: &str, name: &str) -> String {
    format!("arn:aws:sagemaker:{REGION}:{ACCT}:{kind}/{name}")
}

fn sagemaker(dir: &Path, w: &World) -> std::io::Result<usize> {
    let mut files = 0;
    let image = |repo: &str| format!("{ACCT}.dkr.ecr.{REGION}.amazonaws.com/{repo}:latest");
    let bucket = "s3://ml-prod-artifacts-111122223333";
    for r in &w.resources {
        match r.kind {
            ResKind::Training => {
                let mut v = json!({
                    "TrainingJobName": r.name,
                    "TrainingJobArn": arn("training-job", &r.name),
                    "ModelArtifacts": {"S3ModelArtifacts": format!("{bucket}/models/{}/output/model.tar.gz", r.name)},
                    "TrainingJobStatus": if r.end.is_some() { "Completed" } else { "InProgress" },
                    "SecondaryStatus": if r.end.is_some() { "Completed" } else { "Training" },
                    "AlgorithmSpecification": {"TrainingImage": image(r.name.split('-').next().unwrap_or("train")), "TrainingInputMode": "File", "EnableSageMakerMetricsTimeSeries": false},
                    "RoleArn": format!("arn:aws:iam::{ACCT}:role/sagemaker-training"),
                    "InputDataConfig": [{"ChannelName": "train", "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": format!("{bucket}/datasets/{}/train/", r.name), "S3DataDistributionType": "FullyReplicated"}}, "CompressionType": "None", "RecordWrapperType": "None"}],
                    "OutputDataConfig": {"KmsKeyId": "", "S3OutputPath": format!("{bucket}/models/")},
                    "ResourceConfig": {"InstanceType": r.instance_type, "InstanceCount": r.instances, "VolumeSizeInGB": 100},
                    "VpcConfig": vpc_config(w, r),
                    "StoppingCondition": {"MaxRuntimeInSeconds": 432000},
                    "CreationTime": cli_time(r.created),
                    "TrainingStartTime": cli_time(r.start),
                    "LastModifiedTime": cli_time(r.end.unwrap_or(w.t_end)),
                    "EnableNetworkIsolation": r.isolation,
                    "EnableInterContainerTrafficEncryption": r.instances > 1,
                    "EnableManagedSpotTraining": false,
                });
                if let Some(end) = r.end {
                    v["TrainingEndTime"] = json!(cli_time(end));
                    v["TrainingTimeInSeconds"] = json!(end - r.start);
                    v["BillableTimeInSeconds"] = json!(end - r.start);
                }
                write(dir, &format!("training-job-{}.json", r.name), &v)?;
                files += 1;
            }
            ResKind::Processing => {
                let mut v = json!({
                    "ProcessingInputs": [{"InputName": "input-1", "AppManaged": false, "S3Input": {"S3Uri": format!("{bucket}/raw/{}/", r.name), "LocalPath": "/opt/ml/processing/input", "S3DataType": "S3Prefix", "S3InputMode": "File", "S3DataDistributionType": "ShardedByS3Key"}}],
                    "ProcessingOutputConfig": {"Outputs": [{"OutputName": "output-1", "S3Output": {"S3Uri": format!("{bucket}/processed/{}/", r.name), "LocalPath": "/opt/ml/processing/output", "S3UploadMode": "EndOfJob"}, "AppManaged": false}]},
                    "ProcessingJobName": r.name,
                    "ProcessingResources": {"ClusterConfig": {"InstanceCount": r.instances, "InstanceType": r.instance_type, "VolumeSizeInGB": 30}},
                    "StoppingCondition": {"MaxRuntimeInSeconds": 86400},
                    "AppSpecification": {"ImageUri": image("processing")},
                    "NetworkConfig": {"EnableInterContainerTrafficEncryption": false, "EnableNetworkIsolation": r.isolation, "VpcConfig": vpc_config(w, r)},
                    "RoleArn": format!("arn:aws:iam::{ACCT}:role/sagemaker-processing"),
                    "ProcessingJobArn": arn("processing-job", &r.name),
                    "ProcessingJobStatus": if r.end.is_some() { "Completed" } else { "InProgress" },
                    "ProcessingStartTime": cli_time(r.start),
                    "LastModifiedTime": cli_time(r.end.unwrap_or(w.t_end)),
                    "CreationTime": cli_time(r.created),
                });
                if let Some(end) = r.end {
                    v["ProcessingEndTime"] = json!(cli_time(end));
                }
                write(dir, &format!("processing-job-{}.json", r.name), &v)?;
                files += 1;
            }
            ResKind::Endpoint | ResKind::BatchModel => {
                let model = model_name(r);
                write(
                    dir,
                    &format!("model-{model}.json"),
                    &json!({
                        "ModelName": model,
                        "PrimaryContainer": {"Image": image(&r.name), "Mode": "SingleModel", "ModelDataUrl": format!("{bucket}/models/{}/model.tar.gz", r.name), "Environment": {}},
                        "ExecutionRoleArn": format!("arn:aws:iam::{ACCT}:role/sagemaker-inference"),
                        "VpcConfig": vpc_config(w, r),
                        "CreationTime": cli_time(r.created - 600),
                        "ModelArn": arn("model", &model),
                        "EnableNetworkIsolation": r.isolation,
                        "DeploymentRecommendation": {"RecommendationStatus": "NOT_APPLICABLE", "RealTimeInferenceRecommendations": []},
                    }),
                )?;
                files += 1;
                if r.kind == ResKind::BatchModel {
                    continue;
                }
                let cfg = endpoint_config_name(r);
                write(
                    dir,
                    &format!("endpoint-config-{cfg}.json"),
                    &json!({
                        "EndpointConfigName": cfg,
                        "EndpointConfigArn": arn("endpoint-config", &cfg),
                        "ProductionVariants": [{"VariantName": "AllTraffic", "ModelName": model, "InitialInstanceCount": r.instances, "InstanceType": r.instance_type, "InitialVariantWeight": 1.0}],
                        "CreationTime": cli_time(r.created - 300),
                        "EnableNetworkIsolation": r.isolation,
                    }),
                )?;
                write(
                    dir,
                    &format!("endpoint-{}.json", r.name),
                    &json!({
                        "EndpointName": r.name,
                        "EndpointArn": arn("endpoint", &r.name),
                        "EndpointConfigName": cfg,
                        "ProductionVariants": [{"VariantName": "AllTraffic", "DeployedImages": [{"SpecifiedImage": image(&r.name), "ResolutionTime": cli_time(r.created)}], "CurrentWeight": 1.0, "DesiredWeight": 1.0, "CurrentInstanceCount": r.instances, "DesiredInstanceCount": r.instances}],
                        "EndpointStatus": "InService",
                        "CreationTime": cli_time(r.created),
                        "LastModifiedTime": cli_time(r.created + 420),
                    }),
                )?;
                files += 2;
            }
            ResKind::Notebook => {
                let eni = r.enis[0];
                write(
                    dir,
                    &format!("notebook-instance-{}.json", r.name),
                    &json!({
                        "NotebookInstanceArn": arn("notebook-instance", &r.name),
                        "NotebookInstanceName": r.name,
                        "NotebookInstanceStatus": if w.enis[eni].idle { "Stopped" } else { "InService" },
                        "Url": format!("{}.notebook.{REGION}.sagemaker.aws", r.name),
                        "InstanceType": r.instance_type,
                        "SubnetId": w.subnets[r.subnets[0]].id,
                        "SecurityGroups": [r.sg],
                        "RoleArn": format!("arn:aws:iam::{ACCT}:role/sagemaker-notebooks"),
                        "NetworkInterfaceId": w.enis[eni].id,
                        "LastModifiedTime": cli_time(w.t_start - 3600),
                        "CreationTime": cli_time(r.created),
                        "DirectInternetAccess": "Disabled",
                        "VolumeSizeInGB": 50,
                        "RootAccess": "Disabled",
                        "PlatformIdentifier": "notebook-al2-v2",
                        "InstanceMetadataServiceConfiguration": {"MinimumInstanceMetadataServiceVersion": "2"},
                    }),
                )?;
                files += 1;
            }
        }
    }
    Ok(files)
}

pub struct Written {
    pub files: usize,
    pub ipv4_prefixes: usize,
    pub ipv6_prefixes: usize,
}

pub fn write_all(dir: &Path, w: &World, seed: u64) -> std::io::Result<Written> {
    let mut rng = Rng::new(seed, 0x1a7e_0000);
    let ec2 = dir.join("ec2");
    write(&ec2, "network-interfaces.json", &enis_json(w, &mut rng))?;
    write(&ec2, "subnets.json", &subnets_json(w))?;
    write(&ec2, "route-tables.json", &route_tables_json(w, &mut rng))?;
    write(&ec2, "vpcs.json", &vpc_json(w))?;
    write(&ec2, "nat-gateways.json", &nats_json(w))?;
    write(&ec2, "vpc-endpoints.json", &endpoints_json(w, &mut rng))?;
    let sm = sagemaker(&dir.join("sagemaker"), w)?;
    let (doc, n4, n6) = ranges::build(&mut Rng::new(seed, 0x1b_0000));
    write(dir, "ip-ranges.json", &doc)?;
    Ok(Written {
        files: 7 + sm,
        ipv4_prefixes: n4,
        ipv6_prefixes: n6,
    })
}
