//! The deployment artefacts under deploy/: cfn-lint and checkov on every template, the SAM
//! template transformed by aws-sam-translator and created in moto's CloudFormation on 127.0.0.1
//! (then read back through the SQS, Lambda and IAM APIs), and the container image built from the
//! test binary. The tools come from scripts/setup_deploy_tools.sh and scripts/setup_moto.sh
//! (scripts/test.sh exports EGRESSWATCH_DEPLOY_TOOLS_PYTHON and EGRESSWATCH_MOTO_PYTHON). The
//! static checkers run without a network namespace of their own where `unshare -n` works, so
//! nothing they do can leave the machine.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use sha2::{Digest, Sha256};

mod common;
use common::moto::{start as moto, Moto};

const SAM: &str = "deploy/sam/template.yaml";
const ECS: &str = "deploy/ecs/watch.yaml";
const CODE_URI: &str = "s3://egresswatch-code/bootstrap.zip";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn tool_python(var: &str, script: &str) -> Option<PathBuf> {
    match std::env::var(var) {
        Ok(p) => Some(PathBuf::from(p)),
        Err(_) if std::env::var_os("CI").is_some() => {
            panic!("{var} is not set (scripts/test.sh sets it from {script})")
        }
        Err(_) => {
            eprintln!("note: {var} not set; run scripts/test.sh. Skipping.");
            None
        }
    }
}

fn tools() -> Option<PathBuf> {
    tool_python(
        "EGRESSWATCH_DEPLOY_TOOLS_PYTHON",
        "scripts/setup_deploy_tools.sh",
    )
}

/// `cmd` in a network namespace without interfaces when the kernel lets us make one.
fn offline(program: &Path) -> Command {
    let isolated = Command::new("unshare")
        .args(["-n", "true"])
        .status()
        .is_ok_and(|s| s.success());
    if isolated {
        let mut c = Command::new("unshare");
        c.arg("-n").arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn cfn_lint(python: &Path, files: &[&Path]) -> Output {
    offline(&python.with_file_name("cfn-lint"))
        .args(files)
        .current_dir(root())
        .output()
        .unwrap()
}

/// The SAM template as CloudFormation, as `sam deploy` would submit it.
fn transform(python: &Path, template: &Path, out: &Path) {
    let o = offline(python)
        .arg(root().join("tests/deploy_check.py"))
        .arg("transform")
        .arg(template)
        .arg(out)
        .arg(CODE_URI)
        .output()
        .unwrap();
    assert!(o.status.success(), "SAM transform failed: {}", text(&o));
}

#[test]
fn cfn_lint_passes_on_every_template_and_catches_a_broken_one() {
    let Some(python) = tools() else { return };
    let dir = tempfile::tempdir().unwrap();
    let transformed = dir.path().join("sam.json");
    transform(&python, &root().join(SAM), &transformed);
    let o = cfn_lint(
        &python,
        &[Path::new(SAM), Path::new(ECS), transformed.as_path()],
    );
    assert!(o.status.success() && o.stdout.is_empty(), "{}", text(&o));

    // The same run must fail on a template with a real mistake, or it proves nothing.
    let broken = dir.path().join("broken.yaml");
    let good = std::fs::read_to_string(root().join(SAM)).unwrap();
    assert!(good.contains("FunctionResponseTypes: [ReportBatchItemFailures]"));
    std::fs::write(
        &broken,
        good.replace(
            "FunctionResponseTypes: [ReportBatchItemFailures]",
            "FunctionResponseTypes: [ReportBatchFailures]",
        )
        .replace("Statistic: Maximum", "Statistic: Loudest"),
    )
    .unwrap();
    let o = cfn_lint(&python, &[broken.as_path()]);
    assert!(!o.status.success(), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("ReportBatchFailures") && out.contains("Loudest"),
        "{out}"
    );
}

#[test]
fn checkov_fails_nothing_that_the_templates_do_not_justify() {
    let Some(python) = tools() else { return };
    for template in [SAM, ECS] {
        let o = offline(&python.with_file_name("checkov"))
            .args([
                "--framework",
                "cloudformation",
                "-o",
                "json",
                "--skip-download",
            ])
            .arg("-f")
            .arg(template)
            // No guideline download from the vendor's API.
            .env("BC_SKIP_MAPPING", "TRUE")
            .current_dir(root())
            .output()
            .unwrap();
        // checkov exits 1 when a check fails, which the assertions below then name.
        let report: Value = serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("checkov output is not JSON ({e}): {}", text(&o)));
        let report = if report.is_array() {
            report[0].clone()
        } else {
            report
        };
        assert_eq!(report["check_type"], "cloudformation", "{template}");
        let summary = &report["summary"];
        assert_eq!(summary["parsing_errors"], 0, "{template}: {summary}");
        assert!(
            summary["passed"].as_u64().unwrap() >= 15,
            "{template}: {summary}"
        );
        let failed: Vec<String> = report["results"]["failed_checks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| format!("{} {} {}", f["check_id"], f["resource"], f["check_name"]))
            .collect();
        assert!(failed.is_empty(), "{template}: {failed:#?}");
        // Every skip carries its reason, and every skip the template declares is one checkov
        // would otherwise have failed (no blanket suppressions).
        let skipped = report["results"]["skipped_checks"].as_array().unwrap();
        for s in skipped {
            let comment = s["check_result"]["suppress_comment"].as_str().unwrap_or("");
            assert!(comment.len() > 20, "{template}: unjustified skip {s}");
        }
        let declared = std::fs::read_to_string(root().join(template))
            .unwrap()
            .matches("- id: CKV_")
            .count();
        assert_eq!(skipped.len(), declared, "{template}: unused skips");
    }
}

fn code_zip(dir: &Path) -> PathBuf {
    // moto stores the package without running it, so a stand-in `bootstrap` is enough here;
    // the real binary's packaging is covered by the container test and cargo-lambda.
    let path = dir.join("code.zip");
    let o = Command::new("python3")
        .args([
            "-c",
            "import sys, zipfile\nz = zipfile.ZipFile(sys.argv[1], 'w')\nz.writestr('bootstrap', '#!/bin/sh\\n')\nz.close()",
        ])
        .arg(&path)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    path
}

fn deploy(
    m: &Moto,
    moto_python: &Path,
    template: &Path,
    code: &Path,
    stack: &str,
    params: &[&str],
) -> Value {
    let o = Command::new(moto_python)
        .arg(root().join("tests/deploy_check.py"))
        .args(["deploy", &m.url])
        .arg(template)
        .arg(stack)
        .arg(code)
        .arg(CODE_URI)
        .args(params)
        .output()
        .unwrap();
    assert!(o.status.success(), "stack {stack}: {}", text(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// Every (action, resource) pair granted by the role's inline policies.
fn grants(facts: &Value) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let as_list = |v: &Value| -> Vec<String> {
        match v {
            Value::String(s) => vec![s.clone()],
            Value::Array(a) => a.iter().map(|x| x.as_str().unwrap().to_string()).collect(),
            other => panic!("unexpected policy element {other}"),
        }
    };
    for (name, doc) in facts["role_policies"].as_object().unwrap() {
        for st in doc["Statement"].as_array().unwrap() {
            assert_eq!(st["Effect"], "Allow", "{name}: {st}");
            for a in as_list(&st["Action"]) {
                for r in as_list(&st["Resource"]) {
                    out.push((name.clone(), a.clone(), r));
                }
            }
        }
    }
    out
}

fn glob(pattern: &str, s: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(p) => s.starts_with(p),
        None => pattern == s,
    }
}

#[test]
fn sam_template_deploys_into_moto_with_queue_redrive_mapping_and_least_privilege() {
    let Some(tools) = tools() else { return };
    let Some(moto_python) = tool_python("EGRESSWATCH_MOTO_PYTHON", "scripts/setup_moto.sh") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let template = dir.path().join("sam.json");
    transform(&tools, &root().join(SAM), &template);
    let translated: Value =
        serde_json::from_str(&std::fs::read_to_string(&template).unwrap()).unwrap();
    let code = code_zip(dir.path());
    let m = moto(&moto_python);

    // 1. Defaults: a new bucket, its queue, DLQ, function; no live inventory.
    let f = deploy(&m, &moto_python, &template, &code, "ew-default", &[]);
    assert_eq!(f["status"], "CREATE_COMPLETE");
    let queue = &f["queues"]["Queue"]["attributes"];
    let dlq = &f["queues"]["DeadLetterQueue"]["attributes"];
    assert_eq!(queue["VisibilityTimeout"], "1800", "6 x the 300 s timeout");
    let redrive: Value = serde_json::from_str(queue["RedrivePolicy"].as_str().unwrap()).unwrap();
    assert_eq!(redrive["deadLetterTargetArn"], dlq["QueueArn"]);
    assert_eq!(
        redrive["maxReceiveCount"].to_string().trim_matches('"'),
        "5"
    );
    assert_eq!(dlq["MessageRetentionPeriod"], "1209600");
    assert_eq!(queue["SqsManagedSseEnabled"], "true");
    let esms = f["event_source_mappings"].as_array().unwrap();
    assert_eq!(esms.len(), 1, "{esms:?}");
    assert_eq!(esms[0]["EventSourceArn"], queue["QueueArn"]);
    assert_eq!(
        esms[0]["FunctionResponseTypes"][0],
        "ReportBatchItemFailures"
    );
    assert_eq!(esms[0]["ScalingConfig"]["MaximumConcurrency"], 5);
    assert_eq!(esms[0]["BatchSize"], 10);
    let func = &f["function"];
    assert_eq!(func["Runtime"], "provided.al2023");
    assert_eq!(func["Handler"], "bootstrap");
    // moto does not keep Architectures from CloudFormation; the translated template must.
    assert_eq!(
        translated["Resources"]["Function"]["Properties"]["Architectures"][0]["Ref"],
        "Architecture"
    );
    assert_eq!(translated["Parameters"]["Architecture"]["Default"], "arm64");
    assert_eq!(
        translated["Parameters"]["Architecture"]["AllowedValues"],
        serde_json::json!(["arm64", "x86_64"])
    );
    assert_eq!(func["Timeout"], 300);
    let env = &func["Environment"]["Variables"];
    let config_bucket = f["outputs"]["ConfigBucketName"].as_str().unwrap();
    assert_eq!(
        env["EGRESSWATCH_INVENTORY"],
        format!("s3://{config_bucket}/inventory/")
    );
    assert_eq!(
        env["EGRESSWATCH_STATE"],
        format!("s3://{config_bucket}/state/")
    );
    assert_eq!(
        env["EGRESSWATCH_LEDGER"],
        format!("s3://{config_bucket}/ledger/")
    );
    assert_eq!(env["EGRESSWATCH_LOG"], "info");
    assert_eq!(env["EGRESSWATCH_SCOPE"], "sagemaker");
    for unset in [
        "EGRESSWATCH_ROUTE",
        "EGRESSWATCH_RULES",
        "EGRESSWATCH_FIELDS",
    ] {
        assert!(env.get(unset).is_none(), "{unset} set without a value");
    }
    let bucket = f["outputs"]["FlowLogBucketName"].as_str().unwrap();
    assert_eq!(f["physical"]["FlowLogBucket"], bucket);
    let g = grants(&f);
    let queue_arn = queue["QueueArn"].as_str().unwrap();
    let expect: BTreeSet<(String, String)> = [
        ("sqs:ReceiveMessage", queue_arn.to_string()),
        ("sqs:DeleteMessage", queue_arn.to_string()),
        ("sqs:ChangeMessageVisibility", queue_arn.to_string()),
        ("sqs:GetQueueAttributes", queue_arn.to_string()),
        ("s3:GetObject", format!("arn:aws:s3:::{bucket}/AWSLogs/*")),
        ("s3:ListBucket", format!("arn:aws:s3:::{bucket}")),
    ]
    .into_iter()
    .map(|(a, r)| (a.to_string(), r))
    .collect();
    let have: BTreeSet<(String, String)> =
        g.iter().map(|(_, a, r)| (a.clone(), r.clone())).collect();
    assert!(expect.is_subset(&have), "{expect:#?}\n{have:#?}");
    for (policy, action, resource) in &g {
        assert_ne!(resource, "*", "{policy}: {action} on *");
        assert!(
            !action.starts_with("ec2:") && !action.starts_with("sagemaker:"),
            "{policy}: {action} without live inventory"
        );
        assert!(!action.ends_with(":*"), "{policy}: {action}");
    }
    assert!(f["attached_policies"].as_array().unwrap().is_empty());

    // What moto cannot create is checked in the translated template: the queue policy admits
    // only the flow-log bucket of this account, and the alarms watch what the issue names.
    let res = &translated["Resources"];
    let qp = &res["QueuePolicy"]["Properties"]["PolicyDocument"]["Statement"][0];
    assert_eq!(qp["Principal"]["Service"], "s3.amazonaws.com");
    assert_eq!(qp["Action"], "sqs:SendMessage");
    assert!(qp["Condition"]["ArnEquals"]["aws:SourceArn"].is_object());
    assert!(qp["Condition"]["StringEquals"]["aws:SourceAccount"].is_object());
    let metrics: BTreeSet<&str> = ["ErrorsAlarm", "DeadLetterDepthAlarm", "OldestMessageAlarm"]
        .iter()
        .map(|a| res[a]["Properties"]["MetricName"].as_str().unwrap())
        .collect();
    assert_eq!(
        metrics,
        BTreeSet::from([
            "Errors",
            "ApproximateNumberOfMessagesVisible",
            "ApproximateAgeOfOldestMessage"
        ])
    );
    // ENI history reaches the same queue: EC2 ENI calls by name, SageMaker calls and state
    // changes, each rule admitted by the queue policy (HistoryEvents=true by default).
    assert_eq!(f["resources"]["HistoryRuleEc2"], "AWS::Events::Rule");
    assert_eq!(f["resources"]["HistoryRuleSageMaker"], "AWS::Events::Rule");
    let ec2 = &res["HistoryRuleEc2"]["Properties"];
    assert_eq!(
        ec2["EventPattern"]["source"],
        serde_json::json!(["aws.ec2"])
    );
    let names = ec2["EventPattern"]["detail"]["eventName"]
        .as_array()
        .unwrap();
    assert!(names.contains(&serde_json::json!("CreateNetworkInterface")));
    assert!(names.contains(&serde_json::json!("DeleteNetworkInterface")));
    assert_eq!(ec2["Targets"][0]["Arn"]["Fn::GetAtt"][0], "Queue");
    let sm = &res["HistoryRuleSageMaker"]["Properties"]["EventPattern"];
    assert!(sm["detail-type"]
        .as_array()
        .unwrap()
        .contains(&serde_json::json!("SageMaker Training Job State Change")));
    let statements = res["QueuePolicy"]["Properties"]["PolicyDocument"]["Statement"].to_string();
    assert!(
        statements.contains("EniHistoryEventBridgeRule"),
        "{statements}"
    );
    let notif =
        &res["FlowLogBucket"]["Properties"]["NotificationConfiguration"]["QueueConfigurations"][0];
    assert_eq!(notif["Event"], "s3:ObjectCreated:*");
    assert_eq!(notif["Queue"]["Fn::GetAtt"][0], "Queue");

    // 2. Existing bucket, live inventory, 900 s, x86_64: the role gains exactly the read-only
    // inventory calls, which must cover every call `inventory collect` makes.
    let f = deploy(
        &m,
        &moto_python,
        &template,
        &code,
        "ew-live",
        &[
            "FlowLogBucketName=central-flow-logs",
            "LiveInventory=true",
            "FunctionTimeout=900",
            "Architecture=x86_64",
            "MaximumConcurrency=20",
            "LogLevel=debug",
            "FlowLogFields=version interface-id srcaddr dstaddr",
            "HistoryEvents=false",
        ],
    );
    assert_eq!(f["status"], "CREATE_COMPLETE");
    assert!(f["resources"].get("FlowLogBucket").is_none());
    assert!(f["resources"].get("HistoryRuleEc2").is_none());
    assert_eq!(f["resources"]["ExistingBucketRule"], "AWS::Events::Rule");
    assert_eq!(
        f["queues"]["Queue"]["attributes"]["VisibilityTimeout"],
        "5400"
    );
    assert_eq!(
        f["event_source_mappings"][0]["ScalingConfig"]["MaximumConcurrency"],
        20
    );
    let env = &f["function"]["Environment"]["Variables"];
    assert_eq!(env["EGRESSWATCH_INVENTORY"], "live");
    assert_eq!(env["EGRESSWATCH_LOG"], "debug");
    assert_eq!(
        env["EGRESSWATCH_FIELDS"],
        "version interface-id srcaddr dstaddr"
    );
    let g = grants(&f);
    assert!(g
        .iter()
        .any(|(_, a, r)| a == "s3:GetObject" && r == "arn:aws:s3:::central-flow-logs/AWSLogs/*"));
    let live: Vec<&String> = g
        .iter()
        .filter(|(p, _, _)| p == "live-inventory")
        .map(|(_, a, _)| a)
        .collect();
    assert_eq!(
        live,
        ["ec2:Describe*", "sagemaker:List*", "sagemaker:Describe*"]
    );
    let collect = std::fs::read_to_string(root().join("src/inventory/collect.rs")).unwrap();
    let mut calls = 0;
    for quoted in collect.split('"').skip(1).step_by(2) {
        let service = if quoted.starts_with("Describe")
            && quoted
                .chars()
                .nth(8)
                .is_some_and(|c| c.is_ascii_uppercase())
        {
            // EC2 actions and SageMaker Describe* share the verb; both patterns cover them.
            "either"
        } else if quoted.starts_with("List")
            && quoted
                .chars()
                .nth(4)
                .is_some_and(|c| c.is_ascii_uppercase())
        {
            "sagemaker"
        } else {
            continue;
        };
        calls += 1;
        let covered = live.iter().any(|p| {
            let (svc, pat) = p.split_once(':').unwrap();
            (service == "either" || svc == service) && glob(pat, quoted)
        });
        assert!(
            covered,
            "collect calls {quoted}, which the live-inventory policy does not allow"
        );
    }
    assert!(calls >= 15, "found only {calls} API calls in collect.rs");

    // 3. Security Lake: the subscriber queue belongs to Security Lake; the stack maps it.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for (k, v) in [
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_REGION", "us-east-1"),
    ] {
        std::env::set_var(k, v);
    }
    let lake_queue_arn = rt.block_on(async {
        let cfg = egresswatch::aws::sdk_config(Some(&m.url), Some("us-east-1")).await;
        let sqs = egresswatch::aws::sqs_client(&cfg);
        let url = sqs
            .create_queue()
            .queue_name("AmazonSecurityLake-1234-Main-Queue")
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap();
        let attrs = sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .unwrap();
        attrs
            .attributes
            .unwrap()
            .get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .unwrap()
            .clone()
    });
    let f = deploy(
        &m,
        &moto_python,
        &template,
        &code,
        "ew-lake",
        &[
            "Source=SecurityLake",
            &format!("SecurityLakeQueueArn={lake_queue_arn}"),
            "FlowLogBucketName=aws-security-data-lake-us-east-1-abc",
            "FlowLogPrefix=aws/VPC_FLOW/",
        ],
    );
    assert_eq!(f["status"], "CREATE_COMPLETE");
    assert!(f["queues"].get("Queue").is_none(), "{}", f["queues"]);
    assert_eq!(
        f["event_source_mappings"][0]["EventSourceArn"],
        lake_queue_arn.as_str()
    );
    assert_eq!(
        f["event_source_mappings"][0]["FunctionResponseTypes"][0],
        "ReportBatchItemFailures"
    );
    let g = grants(&f);
    assert!(g
        .iter()
        .any(|(_, a, r)| a == "sqs:ReceiveMessage" && *r == lake_queue_arn));
    assert!(g.iter().any(|(_, a, r)| a == "s3:GetObject"
        && r == "arn:aws:s3:::aws-security-data-lake-us-east-1-abc/aws/VPC_FLOW/*"));
    assert!(f["outputs"]["SecurityLakeRedriveCommand"]
        .as_str()
        .unwrap()
        .contains("AmazonSecurityLake-1234-Main-Queue"));

    // 4. CloudWatch Logs: no queue; the function is invoked by the subscription and failed
    // invocations go to the dead-letter queue.
    let f = deploy(
        &m,
        &moto_python,
        &template,
        &code,
        "ew-cwl",
        &["Source=CloudWatchLogs", "LogGroupName=vpc-flow-logs"],
    );
    assert_eq!(f["status"], "CREATE_COMPLETE");
    assert!(f["queues"].get("Queue").is_none());
    assert!(f["event_source_mappings"].as_array().unwrap().is_empty());
    let dlq_arn = f["queues"]["DeadLetterQueue"]["attributes"]["QueueArn"]
        .as_str()
        .unwrap()
        .to_string();
    let g = grants(&f);
    assert!(g
        .iter()
        .any(|(p, a, r)| p == "failed-invocations" && a == "sqs:SendMessage" && *r == dlq_arn));
    let policies: BTreeSet<&str> = g.iter().map(|(p, _, _)| p.as_str()).collect();
    assert!(!policies.contains("source-queue") && !policies.contains("flow-log-objects"));
    assert!(!g.iter().any(|(_, a, _)| a == "sqs:ReceiveMessage"));
    let sub = &res["LogsSubscription"];
    assert_eq!(sub["Condition"], "FromCloudWatchLogs");
    assert_eq!(
        sub["Properties"]["DestinationArn"]["Fn::GetAtt"][0],
        "Function"
    );
    let perm = &res["LogsInvokePermission"]["Properties"];
    assert!(perm["SourceArn"]["Fn::Sub"]
        .as_str()
        .unwrap()
        .ends_with("log-group:${LogGroupName}:*"));
    assert_eq!(
        res["FailedInvocations"]["Properties"]["DestinationConfig"]["OnFailure"]["Destination"]
            ["Fn::GetAtt"][0],
        "DeadLetterQueue"
    );
}

fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn build_image(out: &Path) -> Value {
    let o = Command::new("python3")
        .arg(root().join("deploy/container/build_image.py"))
        .arg("--binary")
        .arg(env!("CARGO_BIN_EXE_egresswatch"))
        .arg("--out")
        .arg(out)
        .args(["--tag", "egresswatch:test"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn container_image_is_a_valid_reproducible_oci_layout_that_runs_on_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let summary = build_image(&dir.path().join("a"));
    let oci = dir.path().join("a/oci");
    let read = |p: &Path| std::fs::read(p).unwrap();
    let json = |p: &Path| -> Value { serde_json::from_slice(&read(p)).unwrap() };
    assert_eq!(json(&oci.join("oci-layout"))["imageLayoutVersion"], "1.0.0");
    let blob = |digest: &Value| -> Vec<u8> {
        let d = digest.as_str().unwrap().strip_prefix("sha256:").unwrap();
        let data = read(&oci.join("blobs/sha256").join(d));
        assert_eq!(
            sha256_hex(&data),
            d,
            "blob content does not match its digest"
        );
        data
    };
    let index = json(&oci.join("index.json"));
    let desc = &index["manifests"][0];
    let manifest_bytes = blob(&desc["digest"]);
    assert_eq!(manifest_bytes.len() as u64, desc["size"].as_u64().unwrap());
    let manifest: Value = serde_json::from_slice(&manifest_bytes).unwrap();
    assert_eq!(desc["digest"], summary["manifest_digest"]);
    let config_bytes = blob(&manifest["config"]["digest"]);
    assert_eq!(
        config_bytes.len() as u64,
        manifest["config"]["size"].as_u64().unwrap()
    );
    let config: Value = serde_json::from_slice(&config_bytes).unwrap();
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    assert_eq!(config["architecture"], arch);
    assert_eq!(desc["platform"]["architecture"], arch);
    assert_eq!(config["os"], "linux");
    assert_eq!(config["config"]["User"], "65532:65532");
    assert_eq!(
        config["config"]["Entrypoint"][0],
        "/usr/local/bin/egresswatch"
    );

    let layer = &manifest["layers"][0];
    assert_eq!(
        layer["mediaType"],
        "application/vnd.oci.image.layer.v1.tar+gzip"
    );
    let gz = blob(&layer["digest"]);
    assert_eq!(gz.len() as u64, layer["size"].as_u64().unwrap());
    let mut tar = Vec::new();
    flate2::read::MultiGzDecoder::new(&gz[..])
        .read_to_end(&mut tar)
        .unwrap();
    assert_eq!(
        config["rootfs"]["diff_ids"][0],
        format!("sha256:{}", sha256_hex(&tar)),
        "diff_id must be the digest of the uncompressed layer"
    );
    let listing = Command::new("tar")
        .args(["-tvf", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(&tar)?;
            c.wait_with_output()
        })
        .unwrap();
    let listing = String::from_utf8_lossy(&listing.stdout).to_string();
    assert!(listing.contains("usr/local/bin/egresswatch"), "{listing}");
    assert!(listing.contains("65532/65532") && listing.contains("var/lib/egresswatch"));
    // Exactly what the dynamic loader needs: every library `ldd` lists is in the layer.
    let ldd = Command::new("ldd")
        .arg(env!("CARGO_BIN_EXE_egresswatch"))
        .output()
        .unwrap();
    let ldd = String::from_utf8_lossy(&ldd.stdout).to_string();
    let mut libs = 0;
    for line in ldd.lines() {
        let path = line
            .split("=>")
            .last()
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap_or("");
        if path.starts_with('/') {
            libs += 1;
            assert!(
                listing.contains(path.trim_start_matches('/')),
                "{path} missing:\n{listing}"
            );
        }
    }
    assert_eq!(summary["libraries"].as_array().unwrap().len(), libs);

    // The archive carries the same blobs and the Docker manifest `docker load` reads.
    let archive = Command::new("tar")
        .args(["-xOf"])
        .arg(dir.path().join("a/image.tar"))
        .arg("manifest.json")
        .output()
        .unwrap();
    let docker: Value = serde_json::from_slice(&archive.stdout).unwrap();
    assert_eq!(docker[0]["RepoTags"][0], "egresswatch:test");
    assert_eq!(
        docker[0]["Config"],
        format!(
            "blobs/sha256/{}",
            manifest["config"]["digest"]
                .as_str()
                .unwrap()
                .trim_start_matches("sha256:")
        )
    );

    // Reproducible: the same binary gives the same image.
    let again = build_image(&dir.path().join("b"));
    assert_eq!(again["manifest_digest"], summary["manifest_digest"]);

    // The root filesystem alone runs the tool, as the non-root user (needs root for chroot).
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    if is_root {
        let rootfs = dir.path().join("rootfs");
        std::fs::create_dir(&rootfs).unwrap();
        let o = Command::new("tar")
            .arg("-xzf")
            .arg(
                oci.join("blobs/sha256").join(
                    layer["digest"]
                        .as_str()
                        .unwrap()
                        .trim_start_matches("sha256:"),
                ),
            )
            .arg("-C")
            .arg(&rootfs)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o));
        let o = Command::new("chroot")
            .arg("--userspec=65532:65532")
            .arg(&rootfs)
            .args(["/usr/local/bin/egresswatch", "demo", "--format", "jsonl"])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o));
        let findings = String::from_utf8_lossy(&o.stdout).lines().count();
        assert_eq!(findings, 18, "{}", text(&o));
    } else {
        eprintln!("note: not root, the chroot run of the image's root filesystem is skipped");
    }
    let daemon = Command::new("docker")
        .arg("info")
        .output()
        .is_ok_and(|o| o.status.success());
    if daemon {
        let o = Command::new("docker")
            .arg("load")
            .arg("-i")
            .arg(dir.path().join("a/image.tar"))
            .output()
            .unwrap();
        assert!(o.status.success(), "docker load: {}", text(&o));
    } else {
        eprintln!("note: no Docker daemon here; `docker load` of the image is not exercised");
    }
}

#[test]
fn lambda_live_inventory_collects_the_region_and_loads_it() {
    let Some(moto_python) = tool_python("EGRESSWATCH_MOTO_PYTHON", "scripts/setup_moto.sh") else {
        return;
    };
    let m = moto(&moto_python);
    for (k, v) in [
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_REGION", "us-east-1"),
    ] {
        std::env::set_var(k, v);
    }
    let dir = tempfile::tempdir().unwrap();
    let scratch = dir.path().join("inv");
    // Left over from an earlier collection: must not survive into the new one.
    std::fs::create_dir_all(scratch.join("old")).unwrap();
    std::fs::write(
        scratch.join("old/vpcs.json"),
        r#"{"Vpcs": [{"VpcId": "vpc-0stale", "CidrBlock": "10.9.0.0/16"}]}"#,
    )
    .unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let inv = rt
        .block_on(async {
            let cfg = egresswatch::aws::sdk_config(Some(&m.url), Some("us-east-1")).await;
            egresswatch::inventory::live::live_inventory(&cfg, Some(&m.url), &scratch).await
        })
        .unwrap();
    // moto starts every region with its default VPC and one default subnet per zone.
    assert!(!inv.vpcs.is_empty() && !inv.subnets.is_empty());
    assert!(!scratch.join("old").exists());
    assert!(scratch.join("us-east-1").is_dir());
    let ids: Vec<String> = inv.vpcs.iter().map(|v| format!("{v:?}")).collect();
    assert!(!ids.iter().any(|v| v.contains("vpc-0stale")), "{ids:?}");
}
