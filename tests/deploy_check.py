"""Helper that tests/deploy.rs drives; it prints JSON on stdout and exits non-zero on any problem.

  transform TEMPLATE OUT CODE_URI          SAM -> CloudFormation with aws-sam-translator, after
                                           putting CODE_URI (s3://bucket/key) where `sam package`
                                           would; run with the deploy-tools venv's python.
  deploy ENDPOINT TEMPLATE_JSON STACK CODE_ZIP CODE_URI [NAME=VALUE...]
                                           uploads CODE_ZIP to CODE_URI, creates the stack in the
                                           CloudFormation server at ENDPOINT (moto on 127.0.0.1)
                                           and prints what it created, read back through the
                                           service APIs; run with the moto venv's python.

Assertions live in the Rust test; this script only reports facts (and fails loudly when a step
fails), so a wrong template cannot pass by a mistake in here.
"""

import json
import os
import sys

# SAM fills AWS::Region from the environment; any region works for translation.
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")


def transform(template_path, out_path, code_uri):
    from samtranslator.translator.managed_policy_translator import ManagedPolicyLoader
    from samtranslator.translator.transform import transform as sam_transform
    from samtranslator.yaml_helper import yaml_parse

    with open(template_path, encoding="utf-8") as f:
        template = yaml_parse(f.read())
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = code_uri

    class NoManagedPolicies(ManagedPolicyLoader):
        # The template names managed policies by ARN, so the IAM lookup SAM would do for
        # policy names is never needed (and must not reach AWS).
        def __init__(self):
            pass

        def load(self):
            return {}

    out = sam_transform(template, {}, NoManagedPolicies())
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(out, f, indent=1, sort_keys=True)
    print(json.dumps({"resources": {k: v["Type"] for k, v in out["Resources"].items()}}))


def deploy(endpoint, template_path, stack, code_zip, code_uri, params):
    import boto3

    def client(name):
        return boto3.client(
            name,
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    bucket, key = code_uri[len("s3://"):].split("/", 1)
    s3 = client("s3")
    s3.create_bucket(Bucket=bucket)
    with open(code_zip, "rb") as f:
        s3.put_object(Bucket=bucket, Key=key, Body=f.read())

    cfn = client("cloudformation")
    with open(template_path, encoding="utf-8") as f:
        body = f.read()
    cfn.create_stack(
        StackName=stack,
        TemplateBody=body,
        Parameters=[
            {"ParameterKey": k, "ParameterValue": v}
            for k, v in (p.split("=", 1) for p in params)
        ],
        Capabilities=["CAPABILITY_IAM"],
    )
    cfn.get_waiter("stack_create_complete").wait(
        StackName=stack, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
    )
    desc = cfn.describe_stacks(StackName=stack)["Stacks"][0]
    # moto lists the resources it cannot create (alarms, queue and bucket policies) without ids;
    # those are checked in the translated template instead.
    resources = [
        r
        for r in cfn.describe_stack_resources(StackName=stack)["StackResources"]
        if r.get("LogicalResourceId")
    ]
    # (a Lambda permission has no physical id in moto)
    physical = {r["LogicalResourceId"]: r.get("PhysicalResourceId") for r in resources}

    sqs, lam, iam = client("sqs"), client("lambda"), client("iam")
    facts = {
        "status": desc["StackStatus"],
        "outputs": {o["OutputKey"]: o["OutputValue"] for o in desc.get("Outputs", [])},
        "resources": {r["LogicalResourceId"]: r["ResourceType"] for r in resources},
        "queues": {},
        "event_source_mappings": [],
        "role_policies": {},
        "function": None,
    }
    for r in resources:
        if r["ResourceType"] == "AWS::SQS::Queue":
            url = r["PhysicalResourceId"]
            attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
            facts["queues"][r["LogicalResourceId"]] = {"url": url, "attributes": attrs}
        elif r["ResourceType"] == "AWS::Lambda::Function":
            cfg = lam.get_function_configuration(FunctionName=r["PhysicalResourceId"])
            cfg.pop("ResponseMetadata", None)
            facts["function"] = cfg
            for m in lam.list_event_source_mappings(FunctionName=r["PhysicalResourceId"])[
                "EventSourceMappings"
            ]:
                facts["event_source_mappings"].append(
                    {k: v for k, v in m.items() if k != "LastModified"}
                )
        elif r["ResourceType"] == "AWS::IAM::Role":
            name = r["PhysicalResourceId"].split("/")[-1]
            for pname in iam.list_role_policies(RoleName=name)["PolicyNames"]:
                doc = iam.get_role_policy(RoleName=name, PolicyName=pname)["PolicyDocument"]
                if isinstance(doc, str):
                    doc = json.loads(doc)
                facts["role_policies"][pname] = doc
            facts["attached_policies"] = [
                p["PolicyArn"]
                for p in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]
            ]
    facts["physical"] = physical
    print(json.dumps(facts, default=str))


def main(argv):
    if len(argv) >= 4 and argv[0] == "transform":
        transform(argv[1], argv[2], argv[3])
    elif len(argv) >= 6 and argv[0] == "deploy":
        deploy(argv[1], argv[2], argv[3], argv[4], argv[5], argv[6:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
