#!/usr/bin/env python3
"""Writes the bundled samples: one VPC with SageMaker training jobs, a processing job, an
endpoint, a notebook, a NAT gateway, interface and gateway endpoints, and flow logs (default v2
and v5 custom text, gzip) for that VPC. The Parquet sample is made from the v5 text by
`cargo run --example make_parquet_sample`. Everything is synthetic: documentation and private
address ranges, made-up ids. Deterministic: re-running writes identical bytes."""
import gzip, io, json, os, calendar

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "samples")
ACCT, REGION, VPC = "111122223333", "us-east-1", "vpc-0a1b2c3d4e5f60718"

def t(hh, mm=0, ss=0):
    return calendar.timegm((2026, 11, 20, hh, mm, ss, 0, 0, 0))

def write(rel, text):
    path = os.path.join(ROOT, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)

def write_json(rel, obj):
    write(rel, json.dumps(obj, indent=2) + "\n")

def write_gz(rel, text):
    path = os.path.join(ROOT, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0) as g:
        g.write(text.encode())
    with open(path, "wb") as f:
        f.write(buf.getvalue())

# ---- inventory -------------------------------------------------------------------------------
SUB = {"pub": "subnet-0a0000000000000a1", "priv1": "subnet-0b0000000000000b1",
       "priv2": "subnet-0b0000000000000b2"}
AZ = {"pub": "us-east-1a", "priv1": "us-east-1a", "priv2": "us-east-1b"}
CIDR = {"pub": "10.20.0.0/24", "priv1": "10.20.1.0/24", "priv2": "10.20.2.0/24"}

def eni(eid, sub, ip, desc, sgs, itype="interface", rm=False, extra=None):
    d = {"AvailabilityZone": AZ[sub], "Description": desc,
         "Groups": [{"GroupId": g, "GroupName": g} for g in sgs], "InterfaceType": itype,
         "Ipv6Addresses": [], "MacAddress": "0e:00:00:00:00:01", "NetworkInterfaceId": eid,
         "OwnerId": ACCT, "PrivateIpAddress": ip,
         "PrivateIpAddresses": [{"Primary": True, "PrivateIpAddress": ip}],
         "RequesterId": "AROAEXAMPLESAGEMAKER:sagemaker" if rm else None,
         "RequesterManaged": rm, "SourceDestCheck": itype != "nat_gateway", "Status": "in-use",
         "SubnetId": SUB[sub], "TagSet": [], "VpcId": VPC}
    if d["RequesterId"] is None:
        del d["RequesterId"]
    d.update(extra or {})
    return d

ENIS = [
    eni("eni-0f00000000000a001", "pub", "10.20.0.10", "Interface for NAT Gateway nat-0c1d2e3f405162738", [],
        "nat_gateway", True, {"Association": {"PublicIp": "198.51.100.20", "IpOwnerId": "amazon"}}),
    eni("eni-0f00000000000e001", "priv1", "10.20.1.50", "VPC Endpoint Interface vpce-0e00000000000a001",
        ["sg-0e000000000000001"], "vpc_endpoint", True),
    eni("eni-0f00000000000e002", "priv1", "10.20.1.51", "VPC Endpoint Interface vpce-0e00000000000a002",
        ["sg-0e000000000000001"], "vpc_endpoint", True),
    eni("eni-0f00000000000b101", "priv1", "10.20.1.21", "", ["sg-0c000000000000001"], rm=True),
    eni("eni-0f00000000000b102", "priv2", "10.20.2.22", "", ["sg-0c000000000000001"], rm=True),
    eni("eni-0f00000000000b201", "priv2", "10.20.2.31", "", ["sg-0c000000000000002"], rm=True),
    eni("eni-0f00000000000b301", "priv2", "10.20.2.41", "", ["sg-0c000000000000003"], rm=True),
    eni("eni-0f00000000000b401", "priv1", "10.20.1.61", "", ["sg-0c000000000000004"], rm=True),
    eni("eni-0f00000000000b501", "pub", "10.20.0.71",
        "[Do not delete] Network Interface created to access resources in your VPC for SageMaker Notebook Instance analyst-nb-01",
        ["sg-0c000000000000005"], rm=True),
    eni("eni-0f00000000000b601", "priv1", "10.20.1.90",
        "AWS Lambda VPC ENI-report-exporter-4b1f0c2e-8d7a-4f3e-9a61-0c5b2d7e9f10",
        ["sg-0c000000000000001"], "lambda", True),
    eni("eni-0f00000000000c001", "priv1", "10.20.1.100", "Primary network interface",
        ["sg-0d000000000000001"], extra={"Attachment": {"InstanceId": "i-0a1b2c3d4e5f60001",
                                                        "InstanceOwnerId": ACCT, "Status": "attached"}}),
]
write_json("inventory/ec2/network-interfaces.json", {"NetworkInterfaces": ENIS})
write_json("inventory/ec2/vpcs.json", {"Vpcs": [{
    "CidrBlock": "10.20.0.0/16", "CidrBlockAssociationSet": [{"CidrBlock": "10.20.0.0/16",
    "CidrBlockState": {"State": "associated"}}], "DhcpOptionsId": "dopt-0a1b2c3d", "InstanceTenancy": "default",
    "IsDefault": False, "OwnerId": ACCT, "State": "available", "VpcId": VPC}]})
write_json("inventory/ec2/subnets.json", {"Subnets": [
    {"AvailabilityZone": AZ[k], "AvailabilityZoneId": "use1-az" + ("1" if AZ[k].endswith("a") else "2"),
     "CidrBlock": CIDR[k], "MapPublicIpOnLaunch": k == "pub", "OwnerId": ACCT, "State": "available",
     "SubnetId": SUB[k], "VpcId": VPC} for k in ("pub", "priv1", "priv2")]})
write_json("inventory/ec2/route-tables.json", {"RouteTables": [
    {"RouteTableId": "rtb-0a00000000000a001", "VpcId": VPC, "OwnerId": ACCT,
     "Associations": [{"Main": True, "RouteTableAssociationId": "rtbassoc-0a01", "RouteTableId": "rtb-0a00000000000a001"},
                      {"Main": False, "SubnetId": SUB["pub"], "RouteTableAssociationId": "rtbassoc-0a02",
                       "RouteTableId": "rtb-0a00000000000a001"}],
     "Routes": [{"DestinationCidrBlock": "10.20.0.0/16", "GatewayId": "local", "Origin": "CreateRouteTable", "State": "active"},
                {"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": "igw-0a1b2c3d4e5f60718", "Origin": "CreateRoute", "State": "active"}]},
    {"RouteTableId": "rtb-0b00000000000b001", "VpcId": VPC, "OwnerId": ACCT,
     "Associations": [{"Main": False, "SubnetId": SUB[s], "RouteTableAssociationId": "rtbassoc-0b0" + s[-1],
                       "RouteTableId": "rtb-0b00000000000b001"} for s in ("priv1", "priv2")],
     "Routes": [{"DestinationCidrBlock": "10.20.0.0/16", "GatewayId": "local", "Origin": "CreateRouteTable", "State": "active"},
                {"DestinationCidrBlock": "0.0.0.0/0", "NatGatewayId": "nat-0c1d2e3f405162738", "Origin": "CreateRoute", "State": "active"},
                {"DestinationPrefixListId": "pl-63a5400a", "GatewayId": "vpce-0e00000000000b001", "Origin": "CreateRoute", "State": "active"}]}]})
write_json("inventory/ec2/vpc-endpoints.json", {"VpcEndpoints": [
    {"VpcEndpointId": "vpce-0e00000000000a001", "VpcEndpointType": "Interface", "VpcId": VPC,
     "ServiceName": "com.amazonaws.us-east-1.sagemaker.api", "State": "available", "PrivateDnsEnabled": True,
     "SubnetIds": [SUB["priv1"]], "NetworkInterfaceIds": ["eni-0f00000000000e001"], "RouteTableIds": []},
    {"VpcEndpointId": "vpce-0e00000000000a002", "VpcEndpointType": "Interface", "VpcId": VPC,
     "ServiceName": "com.amazonaws.us-east-1.logs", "State": "available", "PrivateDnsEnabled": True,
     "SubnetIds": [SUB["priv1"]], "NetworkInterfaceIds": ["eni-0f00000000000e002"], "RouteTableIds": []},
    {"VpcEndpointId": "vpce-0e00000000000b001", "VpcEndpointType": "Gateway", "VpcId": VPC,
     "ServiceName": "com.amazonaws.us-east-1.s3", "State": "available",
     "RouteTableIds": ["rtb-0b00000000000b001"], "NetworkInterfaceIds": [], "SubnetIds": []}]})
write_json("inventory/ec2/nat-gateways.json", {"NatGateways": [
    {"NatGatewayId": "nat-0c1d2e3f405162738", "VpcId": VPC, "SubnetId": SUB["pub"], "State": "available",
     "ConnectivityType": "public", "NatGatewayAddresses": [{"AllocationId": "eipalloc-0a1b2c3d",
     "NetworkInterfaceId": "eni-0f00000000000a001", "PrivateIp": "10.20.0.10", "PublicIp": "198.51.100.20",
     "IsPrimary": True, "Status": "succeeded"}]}]})

ARN = "arn:aws:sagemaker:us-east-1:" + ACCT + ":"
def vpccfg(sg, *subs):
    return {"SecurityGroupIds": [sg], "Subnets": [SUB[s] for s in subs]}
write_json("inventory/sagemaker/training-job-fraud-train.json", {
    "TrainingJobName": "fraud-train-2026-11-20", "TrainingJobArn": ARN + "training-job/fraud-train-2026-11-20",
    "TrainingJobStatus": "Completed", "SecondaryStatus": "Completed",
    "AlgorithmSpecification": {"TrainingImage": "111122223333.dkr.ecr.us-east-1.amazonaws.com/fraud:latest", "TrainingInputMode": "File"},
    "RoleArn": "arn:aws:iam::" + ACCT + ":role/sagemaker-training",
    "ResourceConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 2, "VolumeSizeInGB": 50},
    "VpcConfig": vpccfg("sg-0c000000000000001", "priv1", "priv2"),
    "EnableNetworkIsolation": False, "EnableInterContainerTrafficEncryption": True,
    "CreationTime": "2026-11-20T08:50:00.000000+00:00", "TrainingStartTime": "2026-11-20T08:55:00.000000+00:00",
    "TrainingEndTime": "2026-11-20T12:30:00.000000+00:00"})
write_json("inventory/sagemaker/training-job-claims-isolated.json", {
    "TrainingJobName": "claims-isolated-train", "TrainingJobArn": ARN + "training-job/claims-isolated-train",
    "TrainingJobStatus": "Completed", "RoleArn": "arn:aws:iam::" + ACCT + ":role/sagemaker-training",
    "VpcConfig": vpccfg("sg-0c000000000000002", "priv2"), "EnableNetworkIsolation": True,
    "TrainingStartTime": "2026-11-20T08:58:00.000000+00:00", "TrainingEndTime": "2026-11-20T12:10:00.000000+00:00"})
write_json("inventory/sagemaker/processing-job-phi-preprocess.json", {
    "ProcessingJobName": "phi-preprocess", "ProcessingJobArn": ARN + "processing-job/phi-preprocess",
    "ProcessingJobStatus": "Completed", "RoleArn": "arn:aws:iam::" + ACCT + ":role/sagemaker-processing",
    "NetworkConfig": {"EnableInterContainerTrafficEncryption": False, "EnableNetworkIsolation": False,
                      "VpcConfig": vpccfg("sg-0c000000000000003", "priv2")},
    "ProcessingStartTime": "2026-11-20T09:00:00.000000+00:00", "ProcessingEndTime": "2026-11-20T11:59:00.000000+00:00"})
write_json("inventory/sagemaker/model-risk-scoring.json", {
    "ModelName": "risk-scoring-model-v3", "ModelArn": ARN + "model/risk-scoring-model-v3",
    "PrimaryContainer": {"Image": "111122223333.dkr.ecr.us-east-1.amazonaws.com/risk:3", "Mode": "SingleModel"},
    "ExecutionRoleArn": "arn:aws:iam::" + ACCT + ":role/sagemaker-inference",
    "VpcConfig": vpccfg("sg-0c000000000000004", "priv1"), "EnableNetworkIsolation": True,
    "CreationTime": "2026-11-01T10:00:00.000000+00:00"})
write_json("inventory/sagemaker/endpoint-config-risk-scoring.json", {
    "EndpointConfigName": "risk-scoring-config-v3", "EndpointConfigArn": ARN + "endpoint-config/risk-scoring-config-v3",
    "ProductionVariants": [{"VariantName": "AllTraffic", "ModelName": "risk-scoring-model-v3",
                            "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}],
    "CreationTime": "2026-11-01T10:05:00.000000+00:00"})
write_json("inventory/sagemaker/endpoint-risk-scoring.json", {
    "EndpointName": "risk-scoring-prod", "EndpointArn": ARN + "endpoint/risk-scoring-prod",
    "EndpointConfigName": "risk-scoring-config-v3", "EndpointStatus": "InService",
    "CreationTime": "2026-11-01T10:06:00.000000+00:00"})
write_json("inventory/sagemaker/notebook-analyst-nb-01.json", {
    "NotebookInstanceName": "analyst-nb-01", "NotebookInstanceArn": ARN + "notebook-instance/analyst-nb-01",
    "NotebookInstanceStatus": "InService", "InstanceType": "ml.t3.medium", "SubnetId": SUB["pub"],
    "SecurityGroups": ["sg-0c000000000000005"], "NetworkInterfaceId": "eni-0f00000000000b501",
    "DirectInternetAccess": "Disabled", "RootAccess": "Disabled"})
write_json("inventory/ip-ranges.json", {"syncToken": "1763596800", "createDate": "2026-11-20-00-00-00",
    "prefixes": [
        {"ip_prefix": p, "region": r, "service": s, "network_border_group": r}
        for p, r, s in [
            ("52.216.0.0/15", "us-east-1", "AMAZON"), ("52.216.0.0/15", "us-east-1", "S3"),
            ("3.5.0.0/19", "us-east-1", "AMAZON"), ("3.5.0.0/19", "us-east-1", "S3"),
            ("52.218.0.0/17", "eu-west-1", "AMAZON"), ("52.218.0.0/17", "eu-west-1", "S3"),
            ("3.218.180.0/22", "us-east-1", "AMAZON"), ("3.218.180.0/22", "us-east-1", "DYNAMODB"),
            ("54.239.0.0/17", "us-east-1", "AMAZON"),
            ("54.144.0.0/14", "us-east-1", "AMAZON"), ("54.144.0.0/14", "us-east-1", "EC2"),
            ("13.32.0.0/15", "GLOBAL", "AMAZON"), ("13.32.0.0/15", "GLOBAL", "CLOUDFRONT")]],
    "ipv6_prefixes": [
        {"ipv6_prefix": "2600:1f18::/33", "region": "us-east-1", "service": "AMAZON", "network_border_group": "us-east-1"},
        {"ipv6_prefix": "2600:1f18::/33", "region": "us-east-1", "service": "EC2", "network_border_group": "us-east-1"}]})

# ---- flow logs -------------------------------------------------------------------------------
V2 = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status"
def v2(eid, src, dst, sp, dp, proto, pk, by, start, action="ACCEPT", status="OK"):
    return f"2 {ACCT} {eid} {src} {dst} {sp} {dp} {proto} {pk} {by} {start} {start + 58} {action} {status}"

TRA, TRB = "eni-0f00000000000b101", "eni-0f00000000000b102"
ISO, PROC, INF, NB = "eni-0f00000000000b201", "eni-0f00000000000b301", "eni-0f00000000000b401", "eni-0f00000000000b501"
NAT, LAM, EC2 = "eni-0f00000000000a001", "eni-0f00000000000b601", "eni-0f00000000000c001"
h9 = t(9, 1)
lines_v2 = [V2,
    # training job: exfiltration to an internet host through the NAT gateway, three flows
    v2(TRA, "10.20.1.21", "203.0.113.50", 44310, 443, 6, 820, 9_830_400, h9),
    v2(TRA, "203.0.113.50", "10.20.1.21", 443, 44310, 6, 410, 24_600, h9),
    v2(TRA, "10.20.1.21", "203.0.113.50", 44312, 443, 6, 1210, 15_728_640, h9 + 60),
    v2(TRA, "10.20.1.21", "203.0.113.50", 44318, 443, 6, 640, 7_340_032, h9 + 240),
    # training job reads S3 through the gateway endpoint (control holds)
    v2(TRA, "10.20.1.21", "52.216.10.20", 51200, 443, 6, 3000, 4_194_304, h9),
    # distributed-training peers and the SageMaker API interface endpoint (controls hold)
    v2(TRA, "10.20.1.21", "10.20.2.22", 40100, 7777, 6, 90, 120_000, h9),
    v2(TRB, "10.20.2.22", "10.20.1.50", 40222, 443, 6, 12, 4_800, h9),
    # training job calls an AWS API on its public endpoint through the NAT gateway
    v2(TRB, "10.20.2.22", "54.239.28.85", 40230, 443, 6, 30, 18_000, h9 + 120),
    # isolated training job: S3 via gateway endpoint and logs via PrivateLink are fine ...
    v2(ISO, "10.20.2.31", "52.216.10.21", 33000, 443, 6, 400, 512_000, h9),
    v2(ISO, "10.20.2.31", "10.20.1.51", 33002, 443, 6, 20, 6_000, h9),
    # ... but it also reached an internet host
    v2(ISO, "10.20.2.31", "198.51.100.77", 33010, 443, 6, 55, 48_000, h9 + 180),
    # processing job: S3 in another region, an outside DNS server, cleartext HTTP
    v2(PROC, "10.20.2.41", "52.218.5.6", 45000, 443, 6, 700, 2_097_152, h9 + 60),
    v2(PROC, "10.20.2.41", "192.0.2.53", 45100, 53, 17, 4, 320, h9 + 60),
    v2(PROC, "10.20.2.41", "203.0.113.80", 45200, 80, 6, 25, 30_000, h9 + 120),
    # isolated endpoint tried to reach the internet and was rejected
    v2(INF, "10.20.1.61", "203.0.113.99", 38000, 443, 6, 3, 180, h9 + 300, "REJECT"),
    # notebook in the public subnet: SSH out through the internet gateway; an inbound probe
    v2(NB, "10.20.0.71", "203.0.113.200", 50022, 22, 6, 150, 88_000, h9 + 60),
    v2(NB, "203.0.113.9", "10.20.0.71", 51000, 8888, 6, 2, 120, h9 + 60, "REJECT"),
    # not SageMaker: an EC2 instance and a Lambda ENI
    v2(EC2, "10.20.1.100", "203.0.113.50", 41000, 443, 6, 10, 5_000, h9),
    # NODATA / SKIPDATA records have '-' for every traffic field
    f"2 {ACCT} {LAM} - - - - - - - {h9} {h9 + 58} - NODATA",
    f"2 {ACCT} {EC2} - - - - - - - {h9} {h9 + 58} - SKIPDATA",
]
write_gz(f"flowlogs/AWSLogs/{ACCT}/vpcflowlogs/{REGION}/2026/11/20/"
         f"{ACCT}_vpcflowlogs_{REGION}_fl-0a1b2c3d4e5f60701_20261120T0900Z_5e2a9c1b.log.gz",
         "\n".join(lines_v2) + "\n")

V5 = ("version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end "
      "action log-status vpc-id subnet-id flow-direction traffic-path pkt-srcaddr pkt-dstaddr "
      "pkt-dst-aws-service tcp-flags")
def v5(eid, sub, src, dst, sp, dp, proto, pk, by, start, fdir, tpath, psrc=None, pdst=None, svc="-",
       flags=0, action="ACCEPT"):
    return (f"5 {ACCT} {eid} {src} {dst} {sp} {dp} {proto} {pk} {by} {start} {start + 55} {action} OK "
            f"{VPC} {SUB[sub]} {fdir} {tpath} {psrc or src} {pdst or dst} {svc} {flags}")
h10 = t(10, 2)
lines_v5 = [V5,
    # the training job is still sending to the same host an hour later (traffic-path 1: NAT)
    v5(TRA, "priv1", "10.20.1.21", "203.0.113.50", 44400, 443, 6, 2400, 31_457_280, h10, "egress", 1, flags=2),
    # the NAT gateway's own ENI sees the processing job's cleartext request (attributed by address)
    v5(NAT, "pub", "10.20.2.41", "10.20.0.10", 45300, 80, 6, 30, 36_000, h10 + 60, "ingress", "-",
       pdst="203.0.113.80"),
    # ... and its translated leg to the internet (the NAT's own traffic, not a workload's)
    v5(NAT, "pub", "10.20.0.10", "203.0.113.80", 45300, 80, 6, 30, 36_000, h10 + 60, "egress", 8),
    # S3 through the gateway endpoint (traffic-path 7) and DynamoDB through the NAT gateway
    v5(TRB, "priv2", "10.20.2.22", "52.216.10.30", 40300, 443, 6, 800, 1_048_576, h10, "egress", 7, svc="S3"),
    v5(TRB, "priv2", "10.20.2.22", "3.218.180.10", 40310, 443, 6, 40, 20_480, h10 + 30, "egress", 1, svc="DYNAMODB"),
    # the notebook answers an inbound connection: return traffic, not egress (SYN-ACK)
    v5(NB, "pub", "10.20.0.71", "203.0.113.9", 8888, 51000, 6, 4, 640, h10, "egress", 8, flags=18),
]
write_gz(f"flowlogs/AWSLogs/{ACCT}/vpcflowlogs/{REGION}/2026/11/20/"
         f"{ACCT}_vpcflowlogs_{REGION}_fl-0a1b2c3d4e5f60702_20261120T1000Z_7c4d1e0f.log.gz",
         "\n".join(lines_v5) + "\n")

h11 = t(11, 3)
lines_pq = [V5,
    v5(TRA, "priv1", "10.20.1.21", "203.0.113.50", 44500, 443, 6, 1800, 23_068_672, h11, "egress", 1, flags=2),
    v5(ISO, "priv2", "10.20.2.31", "198.51.100.77", 33100, 443, 6, 60, 52_000, h11, "egress", 1, flags=2),
    v5(PROC, "priv2", "10.20.2.41", "52.216.10.40", 45400, 443, 6, 500, 1_572_864, h11, "egress", 7, svc="S3"),
    v5(NB, "pub", "10.20.0.71", "54.239.28.85", 50100, 443, 6, 25, 9_000, h11 + 30, "egress", 8),
]
lines_pq.append(f"5 {ACCT} {LAM} - - - - - - - {h11} {h11 + 55} - NODATA {VPC} {SUB['priv1']} - - - - - -")
# Source text for the Parquet sample (not scanned itself: it lives outside flowlogs/).
write("parquet-source/v5-1100.txt", "\n".join(lines_pq) + "\n")
print("samples written under", os.path.normpath(ROOT))
