#!/usr/bin/env python3
"""Builds the fuzz seed corpora from samples/, tests/golden, rules/ and hand-written cases.

Usage: fuzz/seed.py [OUT]   (default fuzz/work; one folder per target)

Then minimize into the committed corpus, e.g.
    cargo +nightly fuzz cmin -O -a --sanitizer none TARGET fuzz/work/TARGET
    (cmin rewrites the folder it is given; copy the result to fuzz/corpus/TARGET)
The first bytes of some targets choose a configuration (see src/fuzzing.rs); seeds set them.
"""

import base64
import glob
import gzip
import hashlib
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "fuzz", "work")


def put(target, data, name=None):
    if isinstance(data, str):
        data = data.encode()
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    name = name or hashlib.sha1(data).hexdigest()[:16]
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def read(path):
    with open(os.path.join(ROOT, path), "rb") as f:
        return f.read()


def flow_texts():
    out = []
    for p in sorted(glob.glob(os.path.join(ROOT, "samples/flowlogs/**/*.log.gz"), recursive=True)):
        with gzip.open(p) as f:
            lines = f.read().split(b"\n")
        out.append(b"\n".join(lines[:40]) + b"\n")
    out.append(read("samples/parquet-source/v5-1100.txt"))
    return out


HEADER_V2 = b"version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status"
LINE_V2 = b"2 111122223333 eni-0f00000000000b101 10.20.1.21 203.0.113.50 44310 443 6 820 9830400 1795165260 1795165318 ACCEPT OK"
MESSY = [
    LINE_V2,
    b"2 111122223333 eni-0f00000000000b101 - - - - - - - 1795165260 1795165318 - NODATA",
    b"2 111122223333 eni-0f00000000000b101 - - - - - - - 1795165260 1795165318 - SKIPDATA",
    b"2  111122223333\teni-0f00000000000b101 10.20.1.21 203.0.113.50 44310 443 6 820 9830400 1795165260 1795165318 ACCEPT OK ",
    b"2 111122223333 eni-0f00000000000b101 2001:db8::1 2001:db8::2 44310 443 6 820 9830400 1795165260 1795165318 REJECT OK",
    b"2 111122223333 eni-0f00000000000b101 10.20.1.256 203.0.113.50 65536 443 6 -1 9830400 1795165260 1795165318 ACCEPT OK",
    b"2 111122223333 eni-\xc3\xa9 10.20.1.21 203.0.113.50 44310 443 6 820 99999999999999999999 1795165260 1795165318 ACCEPT OK",
    b"2 111122223333 eni-0f00000000000b101 10.20.1.21",
    b"",
    HEADER_V2,
]


def text_differential():
    t = "text_differential"
    for i, body in enumerate(flow_texts()):
        put(t, bytes([0, i % 8]) + body)
        put(t, bytes([0, 8 | 16 | (i % 8)]) + body)
    messy = b"\n".join(MESSY) + b"\n"
    for cfg0 in (0, 1, 2, 3, 5, 9, 13, 17, 7, 11):
        body = messy if cfg0 % 4 != 0 else HEADER_V2 + b"\n" + messy
        put(t, bytes([cfg0, cfg0 % 8]) + body)
    put(t, bytes([1, 2]) + b"\r\n".join(MESSY) + b"\r\n")
    # v5 fields in --fields order (cfg0 % 4 == 3, spec 0 is the default v2 order).
    put(t, bytes([3, 1]) + LINE_V2 + b"\n" + LINE_V2 + b"\n")
    put(t, bytes([7, 1]) + b"10.0.0.1 10.0.0.2 1 2 6 100\n- - - - - -\n")
    put(t, bytes([11, 1]) + b"egress nat 10.0.0.1 8.8.8.8 2 IPv4\ningress 1 - - 0 IPv6\n")
    # A CloudWatch Logs envelope (Firehose object).
    env = {"messageType": "DATA_MESSAGE", "owner": "111122223333", "logGroup": "/vpc/flow",
           "logStream": "eni-0f00000000000b101-all", "subscriptionFilters": ["f"],
           "logEvents": [{"id": "1", "timestamp": 1795165260000, "message": LINE_V2.decode()}]}
    put(t, bytes([0, 3]) + json.dumps(env).encode() + b"\n")


def parquet():
    for p in sorted(glob.glob(os.path.join(ROOT, "samples/**/*.parquet"), recursive=True)):
        data = open(p, "rb").read()
        put("parquet", bytes([7]) + data)
        put("parquet", bytes([8 | 2]) + data)
    put("parquet", bytes([0]) + b"PAR1" + b"\0" * 16 + b"PAR1")


OBJ = {"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
       "eventTime": "2026-11-20T10:00:00.000Z", "eventName": "ObjectCreated:Put",
       "s3": {"bucket": {"name": "flow-logs", "arn": "arn:aws:s3:::flow-logs"},
              "object": {"key": "AWSLogs/111122223333/vpcflowlogs/us-east-1/2026/11/20/a+b%2Fc.log.gz",
                         "size": 1234, "eTag": "0123456789abcdef", "sequencer": "0055AED6DCD90281E5"}}}


def notification():
    t = "notification"
    s3 = {"Records": [OBJ]}
    put(t, json.dumps(s3))
    put(t, json.dumps({"Records": [dict(OBJ, eventName="ObjectRemoved:Delete")]}))
    put(t, json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "flow-logs"}))
    put(t, json.dumps({"Type": "Notification", "MessageId": "m", "TopicArn": "arn:aws:sns:us-east-1:1:t",
                       "Message": json.dumps(s3)}))
    eb = {"version": "0", "id": "e1", "detail-type": "Object Created", "source": "aws.s3",
          "account": "111122223333", "time": "2026-11-20T10:00:00Z", "region": "us-east-1",
          "resources": ["arn:aws:s3:::flow-logs"],
          "detail": {"version": "0", "bucket": {"name": "flow-logs"},
                     "object": {"key": "k%20x.log.gz", "size": 5, "etag": "e", "sequencer": "1"},
                     "request-id": "r", "requester": "1", "reason": "PutObject"}}
    put(t, json.dumps(eb))
    put(t, json.dumps({"Type": "Notification", "Message": json.dumps(eb)}))
    sl = {"source": "aws.s3", "time": "2026-11-20T10:00:00Z", "account": "111122223333",
          "region": "us-east-1", "resources": ["arn:aws:s3:::aws-security-data-lake"],
          "detail": {"bucket": {"name": "aws-security-data-lake-us-east-1-x"},
                     "object": {"key": "aws/VPC_FLOW/2.0/region=us-east-1/accountId=111122223333/eventDay=20261120/x.gz.parquet",
                                "size": 10, "etag": "e"}}}
    put(t, json.dumps(sl))
    ct = {"version": "0", "id": "h1", "detail-type": "AWS API Call via CloudTrail", "source": "aws.ec2",
          "detail": {"eventSource": "ec2.amazonaws.com", "eventName": "CreateNetworkInterface",
                     "eventID": "x", "eventTime": "2026-11-20T10:00:00Z",
                     "responseElements": {"networkInterface": {"networkInterfaceId": "eni-1",
                                                                "description": "[do not delete] SageMaker"}}}}
    put(t, json.dumps(ct))
    sm = {"version": "0", "id": "h2", "detail-type": "SageMaker Training Job State Change",
          "source": "aws.sagemaker", "detail": {"TrainingJobName": "j", "TrainingJobStatus": "InProgress"}}
    put(t, json.dumps(sm))
    put(t, json.dumps({"Records": [{"messageId": "1", "receiptHandle": "r", "body": json.dumps(s3),
                                    "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:1:q",
                                    "attributes": {"ApproximateReceiveCount": "1"}},
                                   {"messageId": "2", "body": json.dumps(eb), "eventSource": "aws:sqs"}]}))
    env = {"messageType": "DATA_MESSAGE", "owner": "111122223333", "logGroup": "/vpc/flow",
           "logStream": "eni-1-all", "subscriptionFilters": ["f"],
           "logEvents": [{"id": "3", "timestamp": 1795165260000, "message": LINE_V2.decode()}]}
    data = base64.b64encode(gzip.compress(json.dumps(env).encode(), mtime=0)).decode()
    put(t, json.dumps({"awslogs": {"data": data}}))
    put(t, json.dumps({"awslogs": {"data": base64.b64encode(json.dumps(env).encode()).decode()}}))
    put(t, json.dumps({"Records": [{"kinesis": {"partitionKey": "p", "data": data,
                                                 "sequenceNumber": "4959"},
                                    "eventSource": "aws:kinesis", "eventID": "shardId-0:4959"}]}))


def inventory():
    for p in sorted(glob.glob(os.path.join(ROOT, "samples/inventory/**/*.json"), recursive=True)):
        data = open(p, "rb").read()
        if len(data) < 64 * 1024:
            put("inventory", data)
    ec2 = sorted(glob.glob(os.path.join(ROOT, "samples/inventory/ec2/*.json")))
    put("inventory", b"\0".join(open(p, "rb").read() for p in ec2 if "interfaces" not in p))


def trail_events():
    ts = "2026-11-20T10:00:00Z"
    eni = {"networkInterfaceId": "eni-0f00000000000b101", "subnetId": "subnet-1", "vpcId": "vpc-1",
           "privateIpAddress": "10.20.1.21", "description": "[do not delete] SageMaker",
           "requesterId": "sagemaker", "tagSet": {"items": [{"key": "k", "value": "v"}]}}
    return [
        {"eventVersion": "1.09", "eventSource": "ec2.amazonaws.com", "eventName": "CreateNetworkInterface",
         "eventTime": ts, "eventID": "ev-1", "awsRegion": "us-east-1", "recipientAccountId": "111122223333",
         "userIdentity": {"invokedBy": "sagemaker.amazonaws.com", "arn": "arn:aws:sts::1:assumed-role/r/SageMaker"},
         "requestParameters": {"subnetId": "subnet-1"},
         "responseElements": {"networkInterface": eni}},
        {"eventVersion": "1.09", "eventSource": "ec2.amazonaws.com", "eventName": "DeleteNetworkInterface",
         "eventTime": "2026-11-20T11:00:00Z", "eventID": "ev-2",
         "requestParameters": {"networkInterfaceId": "eni-0f00000000000b101"}},
        {"eventSource": "ec2.amazonaws.com", "eventName": "CreateTags", "eventTime": ts, "eventID": "ev-3",
         "requestParameters": {"resourcesSet": {"items": [{"resourceId": "eni-0f00000000000b101"}]},
                               "tagSet": {"items": [{"key": "sagemaker:job", "value": "j"}]}}},
        {"eventSource": "sagemaker.amazonaws.com", "eventName": "CreateTrainingJob", "eventTime": ts,
         "eventID": "ev-4", "requestParameters": {"trainingJobName": "fraud-train",
                                                 "vpcConfig": {"subnets": ["subnet-1"], "securityGroupIds": ["sg-1"]},
                                                 "enableNetworkIsolation": False},
         "responseElements": {"trainingJobArn": "arn:aws:sagemaker:us-east-1:111122223333:training-job/fraud-train"}},
        {"eventSource": "ec2.amazonaws.com", "eventName": "CreateNetworkInterface", "eventID": "ev-5",
         "eventTime": ts, "errorCode": "DryRunOperation"},
    ]


def cloudtrail():
    t = "cloudtrail"
    doc = json.dumps({"Records": trail_events()}).encode()
    put(t, doc)
    put(t, gzip.compress(doc, mtime=0))
    put(t, json.dumps({"Records": trail_events()[:1]}, indent=1).encode())
    put(t, json.dumps({"version": "0", "id": "h1", "detail-type": "AWS API Call via CloudTrail",
                       "detail": trail_events()[0]}))
    put(t, json.dumps({"version": "0", "id": "h2", "detail-type": "SageMaker Training Job State Change",
                       "source": "aws.sagemaker", "time": "2026-11-20T10:00:00Z",
                       "detail": {"TrainingJobName": "fraud-train", "TrainingJobStatus": "Completed",
                                  "TrainingJobArn": "arn:aws:sagemaker:us-east-1:1:training-job/fraud-train",
                                  "TrainingStartTime": 1795165260000, "TrainingEndTime": 1795168860000,
                                  "VpcConfig": {"Subnets": ["subnet-1"], "SecurityGroupIds": ["sg-1"]}}}))


def rules_toml():
    t = "rules_toml"
    for p in sorted(glob.glob(os.path.join(ROOT, "rules/**/*.toml"), recursive=True)):
        if "sagemaker-egress" in p:
            data = open(p, "rb").read()
            put(t, bytes([0]) + data)
            put(t, bytes([1]) + data.replace(b'"EW-', b'"EX-'))
    put(t, bytes([2]) + read("samples/route.example.toml"))
    put(t, bytes([3]) + b'[log_groups]\n"/vpc/flow" = ["srcaddr dstaddr bytes", "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status"]\n'
        b'[firehose_streams]\n"stream-1" = "srcaddr dstaddr bytes"\n')
    put(t, bytes([1]) + b'schema = 1\npack = "p"\nversion = "1"\n[baseline]\nmin_history_days = 2\n')


def finding():
    return json.loads(read("tests/golden/samples.jsonl").split(b"\n")[0])


def spool():
    t = "spool"
    entry = json.dumps({"seq": 3, "activity": 1, "queued_at": 0, "finding": finding()}).encode()
    put(t, bytes([2 | (1 << 3) | (0 << 6)]) + entry[:50])
    put(t, bytes([3 | (0 << 6)]) + entry + b"\n" + entry[:10])
    put(t, bytes([3 | (1 << 6)]) + entry + b"\n")
    put(t, bytes([1 | (2 << 3) | (2 << 6)]) + b"2\n")
    put(t, bytes([4 | (2 << 6)]) + b"18446744073709551615\n")
    put(t, bytes([5 | (3 << 3)]) + b'{"seq":18446744073709551615,"activity":1}\n')


def state():
    t = "state"
    body = b'{"schema":1}'
    header = json.dumps({"format": "egresswatch-snapshot", "version": 1, "generation": 2,
                         "len": len(body), "sha256": hashlib.sha256(body).hexdigest()}).encode()
    put(t, bytes([0]) + header + b"\n" + body)
    put(t, bytes([0]) + header + b"\n" + body[:-1])
    put(t, bytes([0]) + header[:30])
    f = finding()
    put(t, bytes([5]) + json.dumps({"sent": {f["id"]: {"at": 1795165260, "flows": 1, "bytes": 2}}}).encode())
    # Ledger segment lines (inventory/ledger.rs Entry) as `inventory collect --history` writes them.
    for p in sorted(glob.glob(os.path.join(ROOT, "tests/**/*.jsonl"), recursive=True)):
        if "golden" not in p:
            put(t, bytes([3]) + open(p, "rb").read()[:8192])


for fn in (text_differential, parquet, notification, inventory, cloudtrail, rules_toml, spool, state):
    fn()
# Seeds only the library can write (window and baseline state, ledger lines, checkpoints): written
# by `cargo run --example fuzz_seeds -- OUT`, see fuzz/seed.sh.
print(f"seeds written under {OUT}")
