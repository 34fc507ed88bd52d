//! The `egresswatch` command line.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};

use egresswatch::decode::{DecodeOptions, Layout};
use egresswatch::detect::{DetectOptions, RuleSet, Scope};
use egresswatch::enrich::Inventory;
use egresswatch::output::{self, Format};
use egresswatch::scan::{self, Engine, ScanOptions, ScanResult};

#[derive(Parser)]
#[command(
    name = "egresswatch",
    version,
    about = "Finds SageMaker egress that bypassed PrivateLink and VPC endpoints, from VPC Flow Logs"
)]
struct Cli {
    /// More logging on stderr (-v info, -vv debug). EGRESSWATCH_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Scan flow-log files or folders (recursively): gzip or plain text, any version, or Parquet.
    Scan(ScanArgs),
    /// Scan the bundled samples (a VPC with SageMaker jobs, an endpoint and a notebook).
    Demo(DemoArgs),
    /// Show what an inventory folder holds and how its ENIs are attributed.
    Inventory {
        #[command(subcommand)]
        command: InventoryCommand,
    },
    /// Forensic replay from S3: the flow logs of some accounts and regions over a time range.
    Replay(ReplayCmd),
    /// Continuous mode: scan new objects as S3 notifications arrive on an SQS queue.
    Watch(WatchCmd),
    /// Deliver what earlier runs left spooled (after a SIEM outage or a restart).
    Deliver {
        /// Routing file (TOML).
        #[arg(long)]
        route: PathBuf,
        /// How long to keep delivering before leaving the rest spooled.
        #[arg(long, default_value = "60s")]
        timeout: String,
    },
    /// Evidence for auditors: self-contained HTML report, CSV, JSON and MANIFEST.sha256, with
    /// posture findings (EW-2xx) backed by the observed bytes.
    Report(ReportArgs),
    /// Validate and list rule packs.
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
}

#[derive(Subcommand)]
enum InventoryCommand {
    /// Call EC2 and SageMaker (Describe*/List*) and write the AWS-CLI-shaped JSON `--inventory`
    /// reads.
    Collect {
        /// Folder to write (ec2/*.json, sagemaker/*.json).
        #[arg(long)]
        out: PathBuf,
        /// Only training and processing jobs created after this (RFC 3339 or relative, e.g. 30d).
        #[arg(long)]
        since: Option<String>,
        /// Region(s) to collect (default: the standard region chain); each goes to OUT/REGION/.
        #[arg(long = "region", num_args = 1.., value_delimiter = ',')]
        regions: Vec<String>,
        /// ENI and SageMaker calls of this period from CloudTrail's LookupEvents (at most 90d,
        /// 2 requests/s), into --ledger; used when no --cloudtrail trail is given.
        #[arg(long)]
        history: Option<String>,
        #[command(flatten)]
        aws: AwsArgs,
        #[command(flatten)]
        ledger: HistoryArgs,
    },
    /// Print the ENI ledger: every ENI lifetime learned from CloudTrail and inventory snapshots.
    History {
        /// Ledger location: a folder or s3://bucket/prefix.
        #[arg(long)]
        ledger: String,
        /// Only this ENI.
        #[arg(long)]
        eni: Option<String>,
        /// `text` (a table) or `jsonl` (one lifetime per line, the ledger's fields).
        #[arg(long, default_value = "text")]
        format: String,
        #[command(flatten)]
        aws: AwsArgs,
    },
    /// Print recognised files and every ENI with its kind and SageMaker resource.
    Show {
        /// Inventory folder (AWS CLI JSON outputs).
        #[arg(long)]
        inventory: PathBuf,
    },
}

#[derive(Subcommand)]
enum RulesCommand {
    /// Validate a rule file or folder (the built-in pack when omitted) and list its rules.
    Check { path: Option<PathBuf> },
}

#[derive(Args, Clone)]
struct CommonArgs {
    /// Output format for findings.
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// Write findings to this file instead of stdout.
    #[arg(long, short = 'o')]
    output: Option<PathBuf>,
    /// Write the run summary (files, records, nodata, skipdata, skipped, failed_files, ...) as JSON.
    #[arg(long)]
    summary_json: Option<PathBuf>,
    /// Rule file or folder of *.toml packs (default: the built-in SageMaker pack).
    #[arg(long)]
    rules: Option<PathBuf>,
    /// Which ENIs rules apply to: those attributed to SageMaker, or all.
    #[arg(long, value_enum, default_value_t = ScopeArg::Sagemaker)]
    scope: ScopeArg,
    /// Aggregation window for findings (e.g. 15m, 1h, 1d).
    #[arg(long, default_value = "1h")]
    window: String,
    /// Evidence records (file and line) listed per finding.
    #[arg(long, default_value_t = 20)]
    max_evidence: usize,
    /// Worker threads (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
    /// Exit with status 3 when there are findings (and no file failed).
    #[arg(long)]
    fail_on_findings: bool,
    /// Routing file (TOML): sinks (HEC, Elastic, syslog/CEF, webhook, Slack, Security Hub, file),
    /// suppressions, throttling and the durable spool. Findings are spooled, then delivered.
    #[arg(long)]
    route: Option<PathBuf>,
    /// How long to keep delivering before leaving the rest spooled for the next run.
    #[arg(long, default_value = "60s")]
    deliver_timeout: String,
    #[command(flatten)]
    limits: LimitArgs,
}

/// Bounds on untrusted input (README "Limits on untrusted input"). Each flag overrides its
/// `EGRESSWATCH_MAX_*` variable; sizes take a byte count or KiB/MiB/GiB.
#[derive(Args, Clone, Default)]
struct LimitArgs {
    /// Longest flow-log line accepted (default 64KiB; EGRESSWATCH_MAX_LINE_BYTES); longer lines
    /// are skipped and counted.
    #[arg(long)]
    max_line_bytes: Option<String>,
    /// Largest declared uncompressed size of a Parquet row group or column chunk (default 1GiB;
    /// EGRESSWATCH_MAX_ROW_GROUP_BYTES); a file declaring more fails with its name, unread.
    #[arg(long)]
    max_row_group_bytes: Option<String>,
    /// Most rows a Parquet row group may declare (default 67108864;
    /// EGRESSWATCH_MAX_ROW_GROUP_ROWS).
    #[arg(long)]
    max_row_group_rows: Option<String>,
    /// Largest JSON document read whole: inventory file, CloudTrail file after gunzip, queue
    /// message body, CloudWatch Logs payload (default 256MiB; EGRESSWATCH_MAX_JSON_BYTES).
    #[arg(long)]
    max_json_bytes: Option<String>,
    /// Largest flow-log object read from S3, as stored (default 2GiB;
    /// EGRESSWATCH_MAX_OBJECT_BYTES); a larger one fails with its name, unread.
    #[arg(long)]
    max_object_bytes: Option<String>,
    /// Most distinct keys per table: rule aggregates, baseline cells, open windows (default
    /// 2000000; EGRESSWATCH_MAX_KEYS); records of new keys beyond it are counted as over_limit.
    #[arg(long)]
    max_keys: Option<String>,
}

impl LimitArgs {
    fn resolve(&self) -> Result<egresswatch::limits::Limits> {
        Ok(egresswatch::limits::Limits::resolve(
            &egresswatch::limits::Overrides {
                max_line_bytes: self.max_line_bytes.as_deref(),
                max_row_group_bytes: self.max_row_group_bytes.as_deref(),
                max_row_group_rows: self.max_row_group_rows.as_deref(),
                max_json_bytes: self.max_json_bytes.as_deref(),
                max_object_bytes: self.max_object_bytes.as_deref(),
                max_keys: self.max_keys.as_deref(),
            },
        )?)
    }
}

/// Where ENI history comes from (README "Forensic replay of completed jobs").
#[derive(Args, Clone, Default)]
struct HistoryArgs {
    /// CloudTrail trail files: a file, a folder, or s3://bucket/prefix (AWSLogs/[o-id/]ACCOUNT/
    /// CloudTrail/REGION/YYYY/MM/DD/*.json.gz). ENI creations and deletions and SageMaker
    /// Create*/Delete* calls attribute the traffic of ENIs deleted since.
    #[arg(long)]
    cloudtrail: Option<String>,
    /// ENI ledger: a folder or s3://bucket/prefix. Read before the scan; what CloudTrail and
    /// inventory snapshots teach is appended to it.
    #[arg(long)]
    ledger: Option<String>,
    /// Grace around an ENI's lifetime, before creation and after deletion (e.g. 2m,20m).
    #[arg(long, default_value = "2m,20m")]
    eni_grace: String,
}

impl HistoryArgs {
    fn options(
        &self,
        range: Option<(i64, i64)>,
    ) -> Result<egresswatch::inventory::history::HistoryOptions> {
        let grace = egresswatch::inventory::history::parse_grace(&self.eni_grace)
            .map_err(|e| anyhow::anyhow!("--eni-grace {e}"))?;
        Ok(egresswatch::inventory::history::HistoryOptions {
            cloudtrail: self.cloudtrail.clone(),
            ledger: self.ledger.clone(),
            range,
            grace: Some(grace),
        })
    }

    fn needs_s3(&self) -> bool {
        [&self.cloudtrail, &self.ledger]
            .iter()
            .any(|l| l.as_deref().is_some_and(|l| l.starts_with("s3://")))
    }
}

/// The flow logs' time range from their object names: trail files are named by delivery time,
/// so it narrows which are read.
fn flow_range(inputs: &[egresswatch::decode::Input]) -> Option<(i64, i64)> {
    inputs
        .iter()
        .filter_map(|i| egresswatch::source::layout::parse_key(&i.name()))
        .map(|k| k.time)
        .fold(None, |r: Option<(i64, i64)>, t| {
            Some(r.map_or((t, t + 3600), |(a, b)| (a.min(t), b.max(t + 3600))))
        })
}

/// [`load_history`] for local flow-log files (`scan`, `report`): the trail range from their
/// names, an S3 client only when the trail or ledger is in S3.
fn history_for_files(
    inv: &mut Inventory,
    h: &HistoryArgs,
    aws: &AwsArgs,
    inputs: &[egresswatch::decode::Input],
    rt: &tokio::runtime::Runtime,
) -> Result<Option<egresswatch::inventory::history::HistoryReport>> {
    let s3 = h.needs_s3().then(|| aws.s3(rt));
    load_history(inv, h, flow_range(inputs), s3.as_ref(), rt)
}

/// Loads the ledger and CloudTrail into `inv.history` (nothing without --cloudtrail/--ledger).
fn load_history(
    inv: &mut Inventory,
    h: &HistoryArgs,
    range: Option<(i64, i64)>,
    s3: Option<&aws_sdk_s3::Client>,
    rt: &tokio::runtime::Runtime,
) -> Result<Option<egresswatch::inventory::history::HistoryReport>> {
    let opts = h.options(range)?;
    inv.eni_grace = opts.grace;
    if opts.is_empty() {
        return Ok(None);
    }
    let report = rt.block_on(egresswatch::inventory::history::load(inv, &opts, s3))?;
    Ok(Some(report))
}

#[derive(Args)]
struct ScanArgs {
    /// Flow-log files or folders.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Inventory folder (AWS CLI JSON: describe-network-interfaces, route tables, SageMaker
    /// describe-*, ip-ranges.json, ...). Without it nothing can be attributed to SageMaker.
    #[arg(long)]
    inventory: Option<PathBuf>,
    /// Field layout for text files without a header line (CloudWatch/Firehose exports), e.g.
    /// "version account-id interface-id srcaddr ..." or the flow log's LogFormat string.
    #[arg(long)]
    fields: Option<String>,
    /// Field orders per CloudWatch Logs group / Firehose delivery stream (TOML, see README).
    #[arg(long)]
    fields_map: Option<PathBuf>,
    /// Region of VPCs whose region the inventory does not reveal.
    #[arg(long)]
    region: Option<String>,
    #[command(flatten)]
    history: HistoryArgs,
    #[command(flatten)]
    baseline: BaselineArgs,
    #[command(flatten)]
    aws: AwsArgs,
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Args)]
struct BaselineArgs {
    /// Where baselines persist between runs: a folder or s3://bucket/prefix. Without it a scan
    /// learns from its own input only, and every open hour is closed at the end.
    #[arg(long)]
    state: Option<String>,
    /// Turn the behavioural baselines (EW-1xx) off for this run.
    #[arg(long)]
    no_baseline: bool,
}

#[derive(Args)]
struct AwsArgs {
    /// S3/SQS endpoint of an S3-compatible server (path-style addressing); default: AWS.
    #[arg(long)]
    endpoint_url: Option<String>,
    /// Region of the bucket / queue clients (default: the standard region chain).
    #[arg(long)]
    aws_region: Option<String>,
    /// How long an S3/SQS response may take to start, and an object body may go without a
    /// byte, before the attempt is retried (default: EGRESSWATCH_READ_TIMEOUT, else 30s; SQS
    /// receives get their long poll on top).
    #[arg(long, value_parser = read_timeout_arg)]
    read_timeout: Option<std::time::Duration>,
}

fn read_timeout_arg(s: &str) -> Result<std::time::Duration, String> {
    match egresswatch::time::parse_duration(s) {
        Some(v) if v > 0 => Ok(std::time::Duration::from_secs(v as u64)),
        _ => Err(format!("{s:?} is not a positive duration like 30s or 2m")),
    }
}

impl AwsArgs {
    /// The SDK configuration these options describe.
    async fn sdk(&self) -> aws_config::SdkConfig {
        egresswatch::aws::sdk_config_with(
            self.endpoint_url.as_deref(),
            self.aws_region.as_deref(),
            self.read_timeout,
        )
        .await
    }

    /// The S3 client these options describe (path-style addressing with --endpoint-url).
    fn s3(&self, rt: &tokio::runtime::Runtime) -> aws_sdk_s3::Client {
        rt.block_on(async {
            let cfg = self.sdk().await;
            egresswatch::aws::s3_client(&cfg, self.endpoint_url.is_some())
        })
    }
}

#[derive(Args)]
struct ReplayCmd {
    #[arg(long)]
    bucket: String,
    /// Key prefix before `AWSLogs/` (the flow log's destination prefix), if any.
    #[arg(long, default_value = "")]
    prefix: String,
    /// Account id(s) whose logs to replay.
    #[arg(long = "account", required = true, num_args = 1.., value_delimiter = ',')]
    accounts: Vec<String>,
    /// Region(s) whose logs to replay.
    #[arg(long = "region", required = true, num_args = 1.., value_delimiter = ',')]
    regions: Vec<String>,
    /// Start of the range: RFC 3339 or relative (7d, 12h).
    #[arg(long)]
    start: String,
    /// End of the range (exclusive): RFC 3339, relative, or now.
    #[arg(long, default_value = "now")]
    end: String,
    #[arg(long)]
    flow_log_id: Option<String>,
    /// Key layouts to list (the flow log's destination options).
    #[arg(long, value_enum, num_args = 1.., value_delimiter = ',', default_values_t = [LayoutArg::Daily, LayoutArg::Hourly, LayoutArg::Hive, LayoutArg::HiveHourly])]
    layout: Vec<LayoutArg>,
    /// Objects downloaded at once.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Checkpoint file: finished objects and their aggregates; rerun the same command to resume.
    #[arg(long)]
    checkpoint: Option<PathBuf>,
    /// Stop after this many objects (resume later with the checkpoint).
    #[arg(long)]
    max_objects: Option<usize>,
    /// Also write the evidence report (as `egresswatch report --out`) of the replayed range.
    #[arg(long)]
    report: Option<PathBuf>,
    /// Also write the report's JSON (as `report --json`).
    #[arg(long)]
    report_json: Option<PathBuf>,
    /// Also write the report's CSV files into this folder (as `report --csv`).
    #[arg(long)]
    report_csv: Option<PathBuf>,
    /// Posture pack for the report (default: the built-in one).
    #[arg(long)]
    posture_rules: Option<PathBuf>,
    #[arg(long)]
    inventory: Option<PathBuf>,
    #[command(flatten)]
    history: HistoryArgs,
    #[command(flatten)]
    inputs: InputArgs,
    #[command(flatten)]
    baseline: BaselineArgs,
    #[command(flatten)]
    aws: AwsArgs,
    #[command(flatten)]
    common: CommonArgs,
}

/// Field orders for header-less records (CloudWatch Logs, Firehose) in replay and watch.
#[derive(Args)]
struct InputArgs {
    /// Field layout of header-less records (default: EGRESSWATCH_FIELDS, else the inventory's
    /// flow log LogFormat, else default v2).
    #[arg(long)]
    fields: Option<String>,
    /// Field orders per CloudWatch Logs group / Firehose delivery stream (TOML, see README).
    #[arg(long)]
    fields_map: Option<PathBuf>,
}

/// `--fields` (or EGRESSWATCH_FIELDS) and the per-group sources (`--fields-map`, inventory).
fn field_sources(
    fields: Option<&str>,
    map: Option<&Path>,
    inventory: &Inventory,
) -> Result<(
    Option<Layout>,
    Option<std::sync::Arc<egresswatch::decode::cwlogs::FieldSources>>,
)> {
    let env = std::env::var("EGRESSWATCH_FIELDS").ok();
    let fields = fields
        .or(env.as_deref())
        .map(Layout::parse_spec)
        .transpose()
        .map_err(anyhow::Error::msg)?;
    let sources = egresswatch::decode::cwlogs::FieldSources::load(map, &inventory.flow_logs)?;
    Ok((fields, sources))
}

#[derive(Args)]
struct WatchCmd {
    #[arg(long)]
    queue_url: String,
    #[arg(long)]
    inventory: Option<PathBuf>,
    /// Visibility timeout while a batch is processed (refreshed by a heartbeat), seconds.
    #[arg(long, default_value_t = 120)]
    visibility: i32,
    /// Receives after which a failing message is left to the queue's redrive policy (DLQ).
    #[arg(long, default_value_t = 5)]
    max_receives: u32,
    /// Long-poll wait, seconds (0..=20).
    #[arg(long, default_value_t = 20)]
    wait: i32,
    /// Exit after this long without messages (e.g. 30s); default: run until SIGTERM.
    #[arg(long)]
    idle_exit: Option<String>,
    /// Exit after this many messages.
    #[arg(long)]
    max_messages: Option<usize>,
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Time the batch in flight may take after SIGTERM before the process exits.
    #[arg(long, default_value = "60s")]
    shutdown_grace: String,
    /// Log counters and latency quantiles as a JSON line this often.
    #[arg(long, default_value = "60s")]
    report_every: String,
    /// Serve Prometheus metrics on this address (e.g. 127.0.0.1:9464).
    #[arg(long)]
    metrics_addr: Option<String>,
    /// Messages per receive (1..=10).
    #[arg(long, default_value_t = 10)]
    batch: i32,
    /// Where the open aggregation windows persist between batches and restarts: a folder or
    /// s3://bucket/prefix (snapshots under `windows/`). Without it they live in memory only.
    #[arg(long)]
    state: Option<String>,
    /// How long (event time) after its end a window still takes records before it closes.
    #[arg(long, default_value = "15m")]
    lateness: String,
    /// Turn the behavioural baselines (EW-1xx) off. They run by default, persisted under
    /// `baseline/` in --state (the same state `scan --state` feeds), in memory without it.
    #[arg(long)]
    no_baseline: bool,
    /// Inventory to reload periodically: a folder or s3://bucket/prefix/ (default: --inventory).
    #[arg(long)]
    inventory_url: Option<String>,
    /// Reload the inventory this often (e.g. 15m); off by default.
    #[arg(long)]
    inventory_reload: Option<String>,
    #[command(flatten)]
    history: HistoryArgs,
    #[command(flatten)]
    inputs: InputArgs,
    #[command(flatten)]
    aws: AwsArgs,
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LayoutArg {
    Daily,
    Hourly,
    Hive,
    HiveHourly,
    /// Amazon Security Lake (`aws/VPC_FLOW/<version>/region=/accountId=/eventDay=/`).
    SecurityLake,
    /// Kinesis Data Firehose objects (`[PREFIX/]YYYY/MM/DD/HH/<stream>-...`): CloudWatch Logs
    /// payloads or flow logs sent to Firehose.
    Firehose,
}

#[derive(Args)]
struct DemoArgs {
    /// Also write the evidence report of the samples (HTML) to this file.
    #[arg(long)]
    report: Option<PathBuf>,
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Args)]
struct ReportArgs {
    /// Flow-log files or folders to scan (as `scan`).
    paths: Vec<PathBuf>,
    /// Findings written earlier (`scan --format jsonl`) instead of scanning; the report then has
    /// no traffic totals (held controls cannot be proven).
    #[arg(long)]
    from_findings: Option<PathBuf>,
    /// Inventory folder (AWS CLI JSON).
    #[arg(long)]
    inventory: Option<PathBuf>,
    /// The HTML report.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Folder for findings.csv, traffic.csv and controls.csv.
    #[arg(long)]
    csv: Option<PathBuf>,
    /// The JSON report (everything the HTML shows).
    #[arg(long)]
    json: Option<PathBuf>,
    /// Manifest of every file written (default: MANIFEST.sha256 beside the first output).
    #[arg(long)]
    manifest: Option<PathBuf>,
    /// Posture pack (default: the built-in rules/posture/sagemaker-posture.toml).
    #[arg(long)]
    posture_rules: Option<PathBuf>,
    #[arg(long)]
    fields: Option<String>,
    #[arg(long)]
    region: Option<String>,
    /// ENI history (as `scan`): the report attributes completed jobs' traffic with it.
    #[command(flatten)]
    history: HistoryArgs,
    #[command(flatten)]
    aws: AwsArgs,
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ScopeArg {
    Sagemaker,
    All,
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    // Dependencies that print requests (URLs with tokens, auth headers) are capped there.
    let filter = egresswatch::logging::filter(default);
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(io::stderr)
        .with_target(false)
        .with_ansi(io::IsTerminal::is_terminal(&io::stderr()))
        .init();
}

fn load_rules(path: Option<&Path>) -> Result<RuleSet> {
    Ok(match path {
        Some(p) => RuleSet::load(p)?,
        None => RuleSet::builtin(),
    })
}

fn options(common: &CommonArgs, decode: DecodeOptions) -> Result<ScanOptions> {
    let window = egresswatch::time::parse_duration(&common.window).with_context(|| {
        format!(
            "--window {:?}: use a duration like 15m, 1h or 1d",
            common.window
        )
    })?;
    let mut opts = ScanOptions {
        decode,
        detect: DetectOptions {
            window,
            max_evidence: common.max_evidence,
            max_keys: egresswatch::limits::get().max_keys,
        },
        ..Default::default()
    };
    if let Some(t) = common.threads {
        opts.threads = t.max(1);
    }
    Ok(opts)
}

/// Writes findings, routes them when asked, then writes the summary; returns the exit status.
fn finish(common: &CommonArgs, result: &ScanResult, default_format: Format) -> Result<ExitCode> {
    let format = common.format.unwrap_or(default_format);
    match &common.output {
        Some(p) => {
            let f = File::create(p).with_context(|| format!("cannot create {}", p.display()))?;
            output::write_findings(&mut BufWriter::new(f), &result.findings, format)?;
        }
        None => {
            let stdout = io::stdout();
            output::write_findings(&mut BufWriter::new(stdout.lock()), &result.findings, format)?;
        }
    }
    let s = &result.summary;
    s.warn_unattributed();
    {
        let mut err = io::stderr().lock();
        writeln!(err, "{}", output::summary_line(s))?;
        for e in &s.errors {
            writeln!(err, "  failed: {}", e.error)?;
        }
    }
    let delivery = match &common.route {
        Some(path) => Some(route_and_deliver(
            path,
            &result.findings,
            &common.deliver_timeout,
        )?),
        None => None,
    };
    if let Some(p) = &common.summary_json {
        let mut doc = serde_json::to_value(&result.summary)?;
        if let Some((_, report)) = &delivery {
            doc["delivery"] = report.clone();
        }
        let mut f = BufWriter::new(
            File::create(p).with_context(|| format!("cannot create {}", p.display()))?,
        );
        serde_json::to_writer_pretty(&mut f, &doc)?;
        f.write_all(b"\n")?;
        f.flush()?;
    }
    Ok(if s.failed_files > 0 {
        ExitCode::from(1)
    } else if let Some(code) = delivery.map(|(c, _)| c).filter(|&c| c != 0) {
        ExitCode::from(code)
    } else if common.fail_on_findings && s.findings > 0 {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    })
}

/// A lateness: a duration like 15m, or 0.
fn lateness(s: &str) -> Result<i64> {
    if s.trim() == "0" {
        return Ok(0);
    }
    egresswatch::time::parse_duration(s)
        .with_context(|| format!("{s:?} is not a duration like 15m or 0"))
}

fn timeout(s: &str) -> Result<std::time::Duration> {
    egresswatch::time::parse_duration(s)
        .map(|v| std::time::Duration::from_secs(v as u64))
        .with_context(|| format!("{s:?} is not a duration like 60s or 5m"))
}

/// Prints one JSON line per sink with its delivery metrics; returns the exit status for the
/// delivery: 0 delivered or safely spooled, 4 a spool refused findings (full), 5 a sink halted.
fn report_delivery(
    reports: &[(
        egresswatch::deliver::MetricsReport,
        egresswatch::deliver::DrainEnd,
    )],
    refused: bool,
) -> Result<u8> {
    let mut err = io::stderr().lock();
    let mut halted = false;
    for (m, end) in reports {
        writeln!(
            err,
            "{}",
            serde_json::json!({ "delivery": m, "end": format!("{end:?}") })
        )?;
        halted |= *end == egresswatch::deliver::DrainEnd::Halted;
        if m.pending > 0 {
            writeln!(
                err,
                "egresswatch: sink {}: {} findings stay spooled; `egresswatch deliver` sends them",
                m.sink, m.pending
            )?;
        }
    }
    Ok(if refused {
        4
    } else if halted {
        5
    } else {
        0
    })
}

fn route_and_deliver(
    path: &Path,
    findings: &[egresswatch::detect::Finding],
    deliver_timeout: &str,
) -> Result<(u8, serde_json::Value)> {
    let wait = timeout(deliver_timeout)?;
    let cfg = egresswatch::deliver::RouteConfig::load(path)?;
    let mut router = egresswatch::deliver::Router::open(cfg)?;
    let routed = router.route(findings)?;
    writeln!(
        io::stderr().lock(),
        "{}",
        serde_json::json!({ "routed": routed })
    )?;
    let reports = router.drain(wait);
    let code = report_delivery(&reports, !routed.refused_sinks.is_empty())?;
    let sinks: Vec<serde_json::Value> = reports
        .iter()
        .map(|(m, end)| serde_json::json!({ "metrics": m, "end": format!("{end:?}") }))
        .collect();
    Ok((
        code,
        serde_json::json!({ "routed": routed, "sinks": sinks }),
    ))
}

fn run_deliver(path: &Path, wait: &str) -> Result<ExitCode> {
    let wait = timeout(wait)?;
    let cfg = egresswatch::deliver::RouteConfig::load(path)?;
    let mut router = egresswatch::deliver::Router::open(cfg)?;
    let reports = router.drain(wait);
    Ok(ExitCode::from(report_delivery(&reports, false)?))
}

fn scope(s: ScopeArg) -> Scope {
    match s {
        ScopeArg::Sagemaker => Scope::Sagemaker,
        ScopeArg::All => Scope::All,
    }
}

fn run_scan(a: ScanArgs) -> Result<ExitCode> {
    let mut inventory = match &a.inventory {
        Some(p) => {
            let inv = Inventory::load(p)?;
            if inv.recognised.is_empty() {
                bail!("inventory {}: no recognised AWS CLI JSON file", p.display());
            }
            inv
        }
        None => {
            tracing::warn!("no --inventory: ENIs cannot be attributed to SageMaker; use --scope all to evaluate every ENI");
            Inventory::default()
        }
    };
    let (inputs, missing) = scan::collect_inputs(&a.paths);
    let rt = runtime()?;
    let history = history_for_files(&mut inventory, &a.history, &a.aws, &inputs, &rt)?;
    let rules = load_rules(a.common.rules.as_deref())?;
    let engine = Engine::new(
        &inventory,
        &rules,
        scope(a.common.scope),
        a.region.as_deref(),
    );
    let (fields, sources) =
        field_sources(a.fields.as_deref(), a.fields_map.as_deref(), &inventory)?;
    let decode = DecodeOptions {
        fields,
        sources,
        projection: Some(scan::PROJECTION.to_vec()),
        ..Default::default()
    };
    let mut opts = options(&a.common, decode)?;
    let names: Vec<String> = inputs
        .iter()
        .map(egresswatch::decode::Input::name)
        .collect();
    let objects: Vec<String> = inputs
        .iter()
        .zip(&names)
        .map(|(i, n)| baseline_persist::object_id(n, &scan::input_len(i).to_string()))
        .collect();
    let mut stage = BaselineStage::open(&a.baseline, &rules, &a.aws, &rt)?;
    let mut counted = Vec::new();
    if let Some(st) = stage.as_mut() {
        let skip: Vec<bool> = objects.iter().map(|o| !st.engine.first_time(o)).collect();
        counted = objects
            .iter()
            .zip(&skip)
            .filter(|(_, &s)| !s)
            .map(|(o, _)| o.clone())
            .collect();
        opts.baseline = Some(skip);
    }
    let mut result = engine.scan(&inputs, &opts);
    if let Some(st) = stage {
        st.finish(&mut result, &engine.model, &counted, &names, &rt)?;
    }
    result.summary.history = history;
    result.summary.files += missing.len() as u64;
    result.summary.failed_files += missing.len() as u64;
    for m in &missing {
        tracing::error!(file = %m.file, "{}", m.error);
    }
    result.summary.errors.extend(missing);
    finish(&a.common, &result, Format::Jsonl)
}

use egresswatch::baseline::persist as baseline_persist;

/// The anomaly stage of one CLI run: the engine (with the persisted state, if any) and where
/// to save it.
struct BaselineStage {
    engine: egresswatch::baseline::Engine,
    cfg: egresswatch::baseline::BaselineConfig,
    snaps: Option<egresswatch::state::snapshot::Snapshots>,
    loaded: Option<u64>,
}

impl BaselineStage {
    fn open(
        a: &BaselineArgs,
        rules: &RuleSet,
        aws: &AwsArgs,
        rt: &tokio::runtime::Runtime,
    ) -> Result<Option<BaselineStage>> {
        let cfg = rules.baseline.clone();
        if a.no_baseline || !cfg.enabled {
            return Ok(None);
        }
        let snaps = match &a.state {
            Some(loc) => {
                let store = egresswatch::state::Store::open(loc, || Some(aws.s3(rt)))?;
                Some(baseline_persist::snapshots(store))
            }
            None => None,
        };
        let (loaded, state) = match &snaps {
            Some(s) => match rt.block_on(baseline_persist::load(s))? {
                Some((g, st)) => (Some(g), Some(st)),
                None => (None, None),
            },
            None => (None, None),
        };
        let engine = egresswatch::baseline::Engine::new(cfg.clone(), state)
            .map_err(|m| anyhow::anyhow!("--state: {m}"))?;
        Ok(Some(BaselineStage {
            engine,
            cfg,
            snaps,
            loaded,
        }))
    }

    /// Scores the run's observations, adds the anomaly findings, saves the state.
    fn finish(
        mut self,
        result: &mut scan::ScanResult,
        model: &egresswatch::enrich::Model,
        objects: &[String],
        files: &[String],
        rt: &tokio::runtime::Runtime,
    ) -> Result<()> {
        let Some(obs) = result.baseline.take() else {
            // The run fed no observations (a resumed replay): the state stays as it was.
            return Ok(());
        };
        let flush = self.snaps.is_none();
        let fresh: Vec<String> = objects.to_vec();
        self.engine.absorb(obs.clone(), model, files);
        let anomalies = self.engine.advance(flush, model);
        self.engine.fill_summary();
        result.findings.extend(anomalies);
        result.findings.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then(a.first_seen.cmp(&b.first_seen))
                .then(a.id.cmp(&b.id))
        });
        result.summary.findings = result.findings.len() as u64;
        result.summary.baseline = Some(self.engine.summary.clone());
        if let Some(s) = &self.snaps {
            let g = rt.block_on(baseline_persist::save(
                s,
                &self.engine,
                self.loaded,
                &obs,
                &fresh,
                files,
                model,
                &self.cfg,
                flush,
            ))?;
            tracing::info!(generation = g, state = %s.location(), "baseline state saved");
        }
        Ok(())
    }
}

fn load_inventory(path: Option<&Path>) -> Result<Inventory> {
    Ok(match path {
        Some(p) => {
            let inv = Inventory::load(p)?;
            if inv.recognised.is_empty() {
                bail!("inventory {}: no recognised AWS CLI JSON file", p.display());
            }
            inv
        }
        None => {
            tracing::warn!("no --inventory: ENIs cannot be attributed to SageMaker; use --scope all to evaluate every ENI");
            Inventory::default()
        }
    })
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

fn run_replay(a: ReplayCmd) -> Result<ExitCode> {
    use egresswatch::source::layout::{parse_time_arg, Layout, ReplayQuery};
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs() as i64;
    let start = parse_time_arg(&a.start, now)
        .with_context(|| format!("--start {:?}: RFC 3339 or relative like 7d", a.start))?;
    let end = parse_time_arg(&a.end, now)
        .with_context(|| format!("--end {:?}: RFC 3339, relative like 1h, or now", a.end))?;
    if end <= start {
        bail!("--end must be after --start");
    }
    let mut inventory = load_inventory(a.inventory.as_deref())?;
    let rt = runtime()?;
    let s3 = a.aws.s3(&rt);
    let history = load_history(
        &mut inventory,
        &a.history,
        Some((start, end)),
        Some(&s3),
        &rt,
    )?;
    let rules = load_rules(a.common.rules.as_deref())?;
    let engine = std::sync::Arc::new(Engine::new(
        &inventory,
        &rules,
        scope(a.common.scope),
        a.regions.first().map(String::as_str),
    ));
    let (fields, sources) = field_sources(
        a.inputs.fields.as_deref(),
        a.inputs.fields_map.as_deref(),
        &inventory,
    )?;
    let decode = DecodeOptions {
        fields,
        sources,
        projection: Some(scan::PROJECTION.to_vec()),
        ..Default::default()
    };
    let opts = options(&a.common, decode)?;
    let args = egresswatch::replay::ReplayArgs {
        bucket: a.bucket.clone(),
        query: ReplayQuery {
            prefix: a.prefix.clone(),
            accounts: a.accounts.clone(),
            regions: a.regions.clone(),
            start,
            end,
            flow_log_id: a.flow_log_id.clone(),
        },
        layouts: a
            .layout
            .iter()
            .map(|l| match l {
                LayoutArg::Daily => Layout::Daily,
                LayoutArg::Hourly => Layout::Hourly,
                LayoutArg::Hive => Layout::Hive,
                LayoutArg::HiveHourly => Layout::HiveHourly,
                LayoutArg::SecurityLake => Layout::SecurityLake,
                LayoutArg::Firehose => Layout::Firehose,
            })
            .collect(),
        concurrency: a.concurrency,
        checkpoint: a.checkpoint.clone(),
        max_objects: a.max_objects,
        baseline_counted: Default::default(),
    };
    let mut args = args;
    let mut opts = opts;
    let stage = BaselineStage::open(&a.baseline, &rules, &a.aws, &rt)?;
    if let Some(st) = stage.as_ref() {
        opts.baseline = Some(Vec::new());
        args.baseline_counted = st.engine.state.seen_objects.keys().cloned().collect();
    }
    let outputs = egresswatch::report::Outputs {
        html: a.report.clone(),
        json: a.report_json.clone(),
        csv_dir: a.report_csv.clone(),
        manifest: None,
    };
    let reporting = outputs.html.is_some() || outputs.json.is_some() || outputs.csv_dir.is_some();
    let (mut result, traffic, objects) = rt.block_on(egresswatch::replay::replay_with_traffic(
        &s3,
        engine.clone(),
        &args,
        &opts,
        reporting,
    ))?;
    if let Some(mut st) = stage {
        if result.baseline.is_some() {
            let counted: Vec<String> = objects
                .iter()
                .filter(|o| st.engine.first_time(o))
                .cloned()
                .collect();
            st.finish(&mut result, &engine.model, &counted, &objects, &rt)?;
        }
    }
    result.summary.history = history;
    if reporting {
        let files = write_report(
            ReportParts {
                inventory: &inventory,
                inventory_source: a
                    .inventory
                    .as_ref()
                    .map_or_else(|| "none".to_string(), |p| p.display().to_string()),
                engine: &engine,
                findings: result.findings.clone(),
                summary: Some(&result.summary),
                traffic: traffic.as_ref(),
                objects: &objects,
                flow_packs: flow_pack_refs(a.common.rules.as_deref(), &rules)?,
                posture_path: a.posture_rules.as_deref(),
            },
            &outputs,
        )?;
        let mut err = io::stderr().lock();
        for f in &files {
            writeln!(err, "wrote {}", f.display())?;
        }
    }
    finish(&a.common, &result, Format::Jsonl)
}

fn run_watch(a: WatchCmd) -> Result<ExitCode> {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let mut inventory = load_inventory(a.inventory.as_deref())?;
    let rules = load_rules(a.common.rules.as_deref())?;
    // ENI history: the ledger (and a trail caught up on start, so ENIs born and deleted
    // while watch was down are known); events on the queue update it afterwards.
    let history = if a.history.ledger.is_some() || a.history.cloudtrail.is_some() {
        let hrt = runtime()?;
        let s3 = a.aws.s3(&hrt);
        load_history(&mut inventory, &a.history, None, Some(&s3), &hrt)?;
        let store = match &a.history.ledger {
            Some(l) => Some(egresswatch::inventory::history::open_store(l, Some(&s3))?),
            None => None,
        };
        Some(egresswatch::watch::WatchHistory {
            inventory: inventory.clone(),
            store,
            rules: rules.clone(),
            scope: scope(a.common.scope),
        })
    } else {
        None
    };
    let engine = Arc::new(Engine::new(&inventory, &rules, scope(a.common.scope), None));
    let (fields, sources) = field_sources(
        a.inputs.fields.as_deref(),
        a.inputs.fields_map.as_deref(),
        &inventory,
    )?;
    let decode = DecodeOptions {
        fields,
        sources,
        projection: Some(scan::PROJECTION.to_vec()),
        ..Default::default()
    };
    let opts = options(&a.common, decode)?;
    let grace = timeout(&a.shutdown_grace)?;
    let args = egresswatch::watch::WatchArgs {
        queue_url: a.queue_url.clone(),
        batch: a.batch,
        wait_secs: a.wait,
        visibility_secs: a.visibility,
        max_receives: a.max_receives,
        idle_exit: a.idle_exit.as_deref().map(timeout).transpose()?,
        max_messages: a.max_messages,
        concurrency: a.concurrency,
        shutdown_grace: grace,
        report_every: Some(timeout(&a.report_every)?),
        metrics: None,
        reload: match &a.inventory_reload {
            Some(every) => Some(egresswatch::watch::Reload {
                location: a
                    .inventory_url
                    .clone()
                    .or_else(|| a.inventory.as_ref().map(|p| p.display().to_string()))
                    .context("--inventory-reload needs --inventory or --inventory-url")?,
                every: timeout(every)?,
                rules: rules.clone(),
                scope: scope(a.common.scope),
            }),
            None => None,
        },
        history,
        state: match &a.state {
            Some(loc) => {
                let srt = runtime()?;
                Some(egresswatch::state::Store::open(loc, || {
                    Some(a.aws.s3(&srt))
                })?)
            }
            None => None,
        },
        lateness: lateness(&a.lateness).context("--lateness")?,
        baseline: Some(rules.baseline.clone()).filter(|c| c.enabled && !a.no_baseline),
    };
    let mut args = args;
    if let Some(addr) = &a.metrics_addr {
        let shared = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        egresswatch::watch::serve_metrics(addr, shared.clone())
            .with_context(|| format!("--metrics-addr {addr}"))?;
        args.metrics = Some(shared);
    }
    let format = a.common.format.unwrap_or(Format::Jsonl);
    let mut out_file = match &a.common.output {
        Some(p) => Some((
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .with_context(|| format!("cannot open {}", p.display()))?,
            p.clone(),
        )),
        None => None,
    };
    let mut router = match &a.common.route {
        Some(p) => Some(egresswatch::deliver::Router::open(
            egresswatch::deliver::RouteConfig::load(p)?,
        )?),
        None => None,
    };
    // Findings are spooled before the messages are deleted; delivery itself is best-effort per
    // batch (a down SIEM must not stall the queue), and the spool catches up on later batches.
    let deliver_wait = timeout(&a.common.deliver_timeout)?.min(std::time::Duration::from_secs(10));
    // Findings are written (and spooled) before the batch's messages are deleted.
    let mut emit = |findings: &[egresswatch::detect::Finding]| -> std::result::Result<(), String> {
        match out_file.as_mut() {
            Some((f, path)) => {
                // One batch is written whole or not at all: a write that stopped half-way
                // (disk full) is cut back, so the redelivered batch does not follow a torn line.
                let mut buf = Vec::new();
                output::write_findings(&mut buf, findings, format).map_err(|e| e.to_string())?;
                let len = f
                    .metadata()
                    .map_err(|e| format!("{}: {e}", path.display()))?
                    .len();
                if let Err(e) = f.write_all(&buf).and_then(|()| f.sync_data()) {
                    let _ = f.set_len(len);
                    return Err(format!("{}: {e}", path.display()));
                }
            }
            None => output::write_findings(&mut io::stdout().lock(), findings, format)
                .map_err(|e| e.to_string())?,
        }
        if let Some(r) = router.as_mut() {
            let routed = r.route(findings).map_err(|e| e.to_string())?;
            if !routed.refused_sinks.is_empty() {
                return Err(format!("spool full for {:?}", routed.refused_sinks));
            }
            let _ = r.drain(deliver_wait);
        }
        Ok(())
    };
    let shutdown = Arc::new(AtomicBool::new(false));
    let rt = runtime()?;
    let stats = rt.block_on(async {
        let flag = shutdown.clone();
        tokio::spawn(async move {
            let term = async {
                #[cfg(unix)]
                {
                    if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                        s.recv().await;
                        return;
                    }
                }
                std::future::pending::<()>().await
            };
            tokio::select! {
                _ = term => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            tracing::warn!(grace_secs = grace.as_secs(), "shutdown requested: finishing the batch in flight");
            flag.store(true, Ordering::SeqCst);
            tokio::time::sleep(grace).await;
            tracing::error!("shutdown grace expired; exiting with the batch unfinished (its messages will be redelivered)");
            std::process::exit(1);
        });
        let cfg = a.aws.sdk().await;
        let s3 = egresswatch::aws::s3_client(&cfg, a.aws.endpoint_url.is_some());
        let sqs = egresswatch::aws::sqs_client(&cfg);
        egresswatch::watch::watch(&s3, &sqs, engine, &args, &opts, &mut emit, shutdown.clone()).await
    });
    writeln!(
        io::stderr().lock(),
        "{}",
        serde_json::json!({ "watch": stats })
    )?;
    if let Some(e) = &stats.state_error {
        bail!("--state: {e}");
    }
    if let Some(p) = &a.common.summary_json {
        std::fs::write(p, serde_json::to_vec_pretty(&stats)?)
            .with_context(|| format!("cannot write {}", p.display()))?;
    }
    if stats.unfinished_messages > 0 {
        // Exit 2 (an error), not 0: a local write failed (the errors above name the path) and
        // these messages were not acknowledged; they are redelivered to the next run.
        bail!(
            "{} messages could not be finished because a local write failed (see the errors above); they stay on the queue",
            stats.unfinished_messages
        );
    }
    Ok(if stats.summary.failed_files > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn run_collect(
    out: &Path,
    since: Option<&str>,
    lookback: Option<&str>,
    regions: &[String],
    aws: &AwsArgs,
    history: &HistoryArgs,
) -> Result<ExitCode> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs() as i64;
    let since = since
        .map(|s| {
            egresswatch::source::layout::parse_time_arg(s, now)
                .with_context(|| format!("--since {s:?}: RFC 3339 or relative like 30d"))
        })
        .transpose()?;
    let rt = runtime()?;
    let mut targets: Vec<Option<&str>> = regions.iter().map(|r| Some(r.as_str())).collect();
    if targets.is_empty() {
        targets.push(aws.aws_region.as_deref());
    }
    for region in targets {
        let collector = rt.block_on(async {
            let cfg = egresswatch::aws::sdk_config_with(
                aws.endpoint_url.as_deref(),
                region,
                aws.read_timeout,
            )
            .await;
            egresswatch::collect::Collector::new(&cfg, aws.endpoint_url.as_deref()).await
        })?;
        let report = egresswatch::collect::collect(&collector, out, since)?;
        writeln!(
            io::stderr().lock(),
            "{}",
            serde_json::json!({ "region": collector.region(), "collected": report })
        )?;
        if let (Some(back), None) = (lookback, &history.cloudtrail) {
            lookup_into_ledger(&collector, back, now, aws, history, &rt)?;
        }
    }
    // Each collection is a snapshot: diffed into the ledger, so what it shows is not
    // forgotten when the ENIs are deleted; the trail adds what lived between snapshots.
    if let Some(ledger) = &history.ledger {
        let s3 = aws.s3(&rt);
        let store = egresswatch::inventory::history::open_store(ledger, Some(&s3))?;
        let mut inv = Inventory::load(out)?;
        let seg = rt.block_on(egresswatch::inventory::history::record_snapshot(
            &store,
            &inv,
            now,
            &out.display().to_string(),
        ))?;
        let report = load_history(&mut inv, history, None, Some(&s3), &rt)?;
        writeln!(
            io::stderr().lock(),
            "{}",
            serde_json::json!({ "ledger": ledger, "snapshot_segment": seg, "history": report })
        )?;
    } else if history.cloudtrail.is_some() {
        bail!("--cloudtrail with inventory collect needs --ledger (where to keep what it learns)");
    }
    Ok(ExitCode::SUCCESS)
}

/// `inventory collect --history 90d`: LookupEvents of the collector's region into the ledger.
fn lookup_into_ledger(
    collector: &egresswatch::collect::Collector,
    back: &str,
    now: i64,
    aws: &AwsArgs,
    history: &HistoryArgs,
    rt: &tokio::runtime::Runtime,
) -> Result<()> {
    use egresswatch::inventory::{cloudtrail::TrailReader, ledger, lookup};
    let Some(loc) = &history.ledger else {
        bail!("--history needs --ledger (where to keep what LookupEvents teaches)");
    };
    let mut start = egresswatch::source::layout::parse_time_arg(back, now)
        .with_context(|| format!("--history {back:?}: RFC 3339 or relative like 90d"))?;
    if start < now - 90 * 86_400 {
        tracing::warn!("LookupEvents keeps 90 days; --history {back} reads the last 90 days");
        start = now - 90 * 86_400;
    }
    let s3 = aws.s3(rt);
    let store = egresswatch::inventory::history::open_store(loc, Some(&s3))?;
    let led = rt.block_on(ledger::Ledger::load(&store))?;
    let mut reader = TrailReader::with_seen(led.seen_events);
    let stats = lookup::lookup_history(collector, start, now, lookup::DEFAULT_PACE, &mut reader)?;
    reader.finish();
    let seg = ledger::Segment {
        entries: std::mem::take(&mut reader.entries),
    };
    let written = rt.block_on(seg.write(&store))?;
    writeln!(
        io::stderr().lock(),
        "{}",
        serde_json::json!({
            "region": collector.region(),
            "lookup_events": stats,
            "kept": reader.stats.events_kept,
            "duplicates": reader.stats.duplicates,
            "failed_or_dry_run": reader.stats.failed_or_dry_run,
            "segment": written,
        })
    )?;
    Ok(())
}

fn run_demo(a: DemoArgs) -> Result<ExitCode> {
    let inventory = egresswatch::demo::inventory()?;
    let rules = load_rules(a.common.rules.as_deref())?;
    let engine = Engine::new(&inventory, &rules, scope(a.common.scope), None);
    let decode = DecodeOptions {
        projection: Some(scan::PROJECTION.to_vec()),
        ..Default::default()
    };
    let opts = options(&a.common, decode)?;
    let inputs = egresswatch::demo::inputs();
    let (result, traffic) = scan::run_with_traffic(
        &inputs,
        &engine.model,
        &engine.rules,
        &engine.enrich,
        &opts,
        a.report.is_some(),
    );
    if let Some(path) = &a.report {
        let objects: Vec<String> = inputs
            .iter()
            .map(egresswatch::decode::Input::name)
            .collect();
        let files = write_report(
            ReportParts {
                inventory: &inventory,
                inventory_source: "bundled samples (samples/inventory)".into(),
                engine: &engine,
                findings: result.findings.clone(),
                summary: Some(&result.summary),
                traffic: traffic.as_ref(),
                objects: &objects,
                flow_packs: flow_pack_refs(a.common.rules.as_deref(), &rules)?,
                posture_path: None,
            },
            &egresswatch::report::Outputs {
                html: Some(path.clone()),
                ..Default::default()
            },
        )?;
        let mut err = io::stderr().lock();
        for f in &files {
            writeln!(err, "wrote {}", f.display())?;
        }
    }
    finish(&a.common, &result, Format::Text)
}

/// Hash of the flow rule files used: the built-in pack's text, or the files under `--rules`.
fn flow_pack_refs(
    path: Option<&Path>,
    rules: &RuleSet,
) -> Result<Vec<egresswatch::report::PackRef>> {
    use egresswatch::detect::rules::{BUILTIN, BUILTIN_NAME};
    let (file, text) = match path {
        None => (BUILTIN_NAME.to_string(), BUILTIN.to_string()),
        Some(p) if p.is_dir() => {
            let mut files: Vec<PathBuf> = std::fs::read_dir(p)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.extension().is_some_and(|x| x == "toml"))
                .collect();
            files.sort();
            let mut text = String::new();
            for f in &files {
                text.push_str(&std::fs::read_to_string(f)?);
            }
            (p.display().to_string(), text)
        }
        Some(p) => (p.display().to_string(), std::fs::read_to_string(p)?),
    };
    let names: Vec<&str> = rules.packs.iter().map(|(n, _)| n.as_str()).collect();
    let versions: Vec<&str> = rules.packs.iter().map(|(_, v)| v.as_str()).collect();
    Ok(vec![egresswatch::report::PackRef::of(
        "flow rules",
        &names.join("+"),
        &versions.join("+"),
        &file,
        &text,
    )])
}

struct ReportParts<'a> {
    inventory: &'a Inventory,
    inventory_source: String,
    engine: &'a Engine,
    findings: Vec<egresswatch::detect::Finding>,
    summary: Option<&'a egresswatch::scan::Summary>,
    traffic: Option<&'a egresswatch::report::traffic::Traffic>,
    objects: &'a [String],
    flow_packs: Vec<egresswatch::report::PackRef>,
    posture_path: Option<&'a Path>,
}

/// Builds and writes the report; returns the files written.
fn write_report(
    parts: ReportParts<'_>,
    outputs: &egresswatch::report::Outputs,
) -> Result<Vec<PathBuf>> {
    use egresswatch::report::{self, posture::PosturePack, prices, requirements, PackRef};
    let posture = match parts.posture_path {
        Some(p) => PosturePack::load(p)?,
        None => PosturePack::builtin(),
    };
    let posture_text = match parts.posture_path {
        Some(p) => std::fs::read_to_string(p)?,
        None => report::posture::BUILTIN.to_string(),
    };
    let reqs = requirements::RequirementTable::builtin();
    let price = prices::PriceTable::builtin();
    let mut packs = parts.flow_packs;
    packs.push(PackRef::of(
        "posture rules",
        &posture.pack,
        &posture.version,
        &posture.file,
        &posture_text,
    ));
    packs.push(PackRef::of(
        "requirement mapping",
        "requirements",
        "1",
        requirements::BUILTIN_NAME,
        requirements::BUILTIN,
    ));
    packs.push(PackRef::of(
        "NAT price table",
        "nat-prices",
        &price.date,
        prices::BUILTIN_NAME,
        prices::BUILTIN,
    ));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs() as i64;
    let r = report::build(report::ReportInput {
        command: std::env::args().collect(),
        generated_at: now,
        inventory: parts.inventory,
        inventory_source: parts.inventory_source,
        model: &parts.engine.model,
        findings: parts.findings,
        summary: parts.summary,
        traffic: parts.traffic,
        objects: parts.objects,
        packs,
        posture: &posture,
        requirements: &reqs,
        prices: &price,
    });
    Ok(report::write(&r, outputs)?)
}

fn run_report(a: ReportArgs) -> Result<ExitCode> {
    let started = std::time::Instant::now();
    let outputs = egresswatch::report::Outputs {
        html: a.out.clone(),
        json: a.json.clone(),
        csv_dir: a.csv.clone(),
        manifest: a.manifest.clone(),
    };
    if outputs.html.is_none() && outputs.json.is_none() && outputs.csv_dir.is_none() {
        bail!("give at least one of --out report.html, --json report.json, --csv DIR");
    }
    if a.from_findings.is_some() != a.paths.is_empty() {
        bail!("give flow-log paths to scan, or --from-findings FILE (not both)");
    }
    let mut inventory = load_inventory(a.inventory.as_deref())?;
    let (inputs, missing) = scan::collect_inputs(&a.paths);
    let rt = runtime()?;
    history_for_files(&mut inventory, &a.history, &a.aws, &inputs, &rt)?;
    let rules = load_rules(a.common.rules.as_deref())?;
    let engine = Engine::new(
        &inventory,
        &rules,
        scope(a.common.scope),
        a.region.as_deref(),
    );
    let source = a
        .inventory
        .as_ref()
        .map_or_else(|| "none".to_string(), |p| p.display().to_string());
    let flow_packs = flow_pack_refs(a.common.rules.as_deref(), &rules)?;
    let files = if let Some(ff) = &a.from_findings {
        let text =
            std::fs::read_to_string(ff).with_context(|| format!("cannot read {}", ff.display()))?;
        let mut findings = Vec::new();
        for (i, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            let f: egresswatch::detect::Finding =
                serde_json::from_str(line).with_context(|| {
                    format!(
                        "{}:{}: not a finding (JSON lines from scan --format jsonl)",
                        ff.display(),
                        i + 1
                    )
                })?;
            findings.push(f);
        }
        let mut objects: Vec<String> = findings
            .iter()
            .flat_map(|f| f.evidence.iter().map(|e| e.file.to_string()))
            .collect();
        objects.sort();
        objects.dedup();
        write_report(
            ReportParts {
                inventory: &inventory,
                inventory_source: source,
                engine: &engine,
                findings,
                summary: None,
                traffic: None,
                objects: &objects,
                flow_packs,
                posture_path: a.posture_rules.as_deref(),
            },
            &outputs,
        )?
    } else {
        let fields = a
            .fields
            .as_deref()
            .map(Layout::parse_spec)
            .transpose()
            .map_err(anyhow::Error::msg)?;
        let decode = DecodeOptions {
            fields,
            projection: Some(scan::PROJECTION.to_vec()),
            ..Default::default()
        };
        let opts = options(&a.common, decode)?;
        let (mut result, traffic) = scan::run_with_traffic(
            &inputs,
            &engine.model,
            &engine.rules,
            &engine.enrich,
            &opts,
            true,
        );
        result.summary.files += missing.len() as u64;
        result.summary.failed_files += missing.len() as u64;
        result.summary.errors.extend(missing);
        let scanned = started.elapsed();
        let objects: Vec<String> = inputs
            .iter()
            .map(egresswatch::decode::Input::name)
            .collect();
        writeln!(
            io::stderr().lock(),
            "{}",
            output::summary_line(&result.summary)
        )?;
        let files = write_report(
            ReportParts {
                inventory: &inventory,
                inventory_source: source,
                engine: &engine,
                findings: result.findings,
                summary: Some(&result.summary),
                traffic: traffic.as_ref(),
                objects: &objects,
                flow_packs,
                posture_path: a.posture_rules.as_deref(),
            },
            &outputs,
        )?;
        tracing::info!(
            scan_ms = scanned.as_millis() as u64,
            report_ms = (started.elapsed() - scanned).as_millis() as u64,
            "report written"
        );
        if result.summary.failed_files > 0 {
            for f in &files {
                writeln!(io::stderr().lock(), "wrote {}", f.display())?;
            }
            return Ok(ExitCode::from(1));
        }
        files
    };
    let mut err = io::stderr().lock();
    for f in &files {
        writeln!(err, "wrote {}", f.display())?;
    }
    writeln!(err, "report: {:.2}s", started.elapsed().as_secs_f64())?;
    Ok(ExitCode::SUCCESS)
}

fn run_inventory_show(path: &Path) -> Result<ExitCode> {
    let inv = Inventory::load(path)?;
    let model = egresswatch::enrich::Model::build(&inv, None);
    let mut out = io::stdout().lock();
    for (file, kinds) in &inv.recognised {
        writeln!(out, "recognised  {file}  {kinds:?}")?;
    }
    for file in &inv.ignored {
        writeln!(out, "ignored     {file}")?;
    }
    for w in &model.warnings {
        writeln!(out, "warning     {w}")?;
    }
    writeln!(out)?;
    for e in &model.enis {
        let res: Vec<String> = e
            .resources
            .iter()
            .map(|&r| {
                let r = &model.resources[r as usize];
                format!(
                    "{}/{} (network isolation: {})",
                    r.kind_str(),
                    r.name,
                    r.network_isolation
                        .map_or("unknown".to_string(), |b| b.to_string())
                )
            })
            .collect();
        let vpc = model.vpcs.get(e.vpc as usize).map_or("-", |v| &v.id);
        writeln!(
            out,
            "{}  {:?}  {}  {}",
            e.id,
            e.kind,
            vpc,
            if res.is_empty() {
                "-".to_string()
            } else {
                res.join(", ")
            }
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

fn run_inventory_history(
    ledger: &str,
    eni: Option<&str>,
    format: &str,
    aws: &AwsArgs,
) -> Result<ExitCode> {
    let rt = runtime()?;
    let s3 = ledger.starts_with("s3://").then(|| aws.s3(&rt));
    let store = egresswatch::inventory::history::open_store(ledger, s3.as_ref())?;
    let led = rt.block_on(egresswatch::inventory::ledger::Ledger::load(&store))?;
    let mut out = io::stdout().lock();
    let t = |x: Option<i64>| x.map_or("-".to_string(), egresswatch::time::format_rfc3339);
    for l in led.enis.values().filter(|l| eni.is_none_or(|e| e == l.eni)) {
        if format == "jsonl" {
            serde_json::to_writer(&mut out, l)?;
            writeln!(out)?;
            continue;
        }
        let owner = l.owner.as_ref().map_or("-".to_string(), |o| {
            format!(
                "{}/{} ({})",
                o.kind,
                o.name,
                o.confidence.as_deref().unwrap_or("-")
            )
        });
        writeln!(
            out,
            "{}  {}  {}  created {}  deleted {}  seen {}..{}  by {}  owner {}  evidence {}",
            l.eni,
            l.subnet_id.as_deref().unwrap_or("-"),
            l.private_ips.join(","),
            t(l.created_at),
            t(l.end()),
            t(l.first_seen),
            t(l.last_seen),
            l.created_by
                .as_ref()
                .and_then(|c| c.session_issuer_arn.as_deref())
                .unwrap_or("-"),
            owner,
            l.evidence.len()
        )?;
    }
    if format != "jsonl" {
        for r in led.resources.values() {
            writeln!(
                out,
                "resource {}/{}  role {}  subnets {}  created {}  ended {}",
                r.kind,
                r.name,
                r.role_arn.as_deref().unwrap_or("-"),
                r.subnets.join(","),
                t(r.created_at),
                t(r.ended_at)
            )?;
        }
        for r in &led.routes {
            writeln!(
                out,
                "routes {}  from {}  {} route tables  {} endpoints",
                t(r.taken_at),
                r.source,
                r.route_tables.len(),
                r.vpc_endpoints.len()
            )?;
        }
        for (loc, until) in &led.checkpoints {
            writeln!(out, "trail {loc}  read until {}", t(*until))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn run_rules_check(path: Option<&Path>) -> Result<ExitCode> {
    use egresswatch::report::posture::PosturePack;
    // Posture packs: the built-in one (no path), a posture file, or DIR/posture/*.toml.
    let mut posture = Vec::new();
    match path {
        None => posture.push(PosturePack::builtin()),
        Some(p) if p.is_file() => {
            let text = std::fs::read_to_string(p)?;
            if PosturePack::looks_like(&text) {
                posture.push(PosturePack::parse(&p.display().to_string(), &text)?);
            }
        }
        Some(p) => {
            if let Ok(rd) = std::fs::read_dir(p.join("posture")) {
                let mut files: Vec<PathBuf> = rd
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|f| f.extension().is_some_and(|x| x == "toml"))
                    .collect();
                files.sort();
                for f in files {
                    posture.push(PosturePack::load(&f)?);
                }
            }
        }
    }
    let only_posture = path.is_some_and(|p| p.is_file()) && !posture.is_empty();
    let mut out = io::stdout().lock();
    for p in &posture {
        writeln!(out, "pack {} {} (posture)", p.pack, p.version)?;
        for r in &p.rules {
            writeln!(
                out,
                "{}  {:<24} {:<8} {}{}",
                r.id,
                "posture",
                r.severity.as_str(),
                r.control,
                if r.enabled { "" } else { "  (disabled)" }
            )?;
        }
    }
    if only_posture {
        return Ok(ExitCode::SUCCESS);
    }
    let rules = load_rules(path)?;
    for (pack, version) in &rules.packs {
        writeln!(out, "pack {pack} {version}")?;
    }
    for r in &rules.rules {
        writeln!(
            out,
            "{}  {:<24} {:<8} {}{}",
            r.id,
            r.category,
            r.severity.as_str(),
            r.control,
            if r.enabled { "" } else { "  (disabled)" }
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    // Limits are process-wide and set before any input is read (flags over environment).
    let limit_args = match &cli.command {
        Command::Scan(a) => a.common.limits.clone(),
        Command::Demo(a) => a.common.limits.clone(),
        Command::Replay(a) => a.common.limits.clone(),
        Command::Watch(a) => a.common.limits.clone(),
        Command::Report(a) => a.common.limits.clone(),
        _ => LimitArgs::default(),
    };
    match limit_args.resolve() {
        Ok(l) => {
            egresswatch::limits::install(l);
        }
        Err(e) => {
            eprintln!("egresswatch: error: {e:#}");
            return ExitCode::from(2);
        }
    }
    let result = match cli.command {
        Command::Scan(a) => run_scan(a),
        Command::Demo(a) => run_demo(a),
        Command::Inventory {
            command: InventoryCommand::Show { inventory },
        } => run_inventory_show(&inventory),
        Command::Inventory {
            command:
                InventoryCommand::Collect {
                    out,
                    since,
                    regions,
                    history,
                    aws,
                    ledger,
                },
        } => run_collect(
            &out,
            since.as_deref(),
            history.as_deref(),
            &regions,
            &aws,
            &ledger,
        ),
        Command::Inventory {
            command:
                InventoryCommand::History {
                    ledger,
                    eni,
                    format,
                    aws,
                },
        } => run_inventory_history(&ledger, eni.as_deref(), &format, &aws),
        Command::Rules {
            command: RulesCommand::Check { path },
        } => run_rules_check(path.as_deref()),
        Command::Deliver { route, timeout } => run_deliver(&route, &timeout),
        Command::Replay(a) => run_replay(a),
        Command::Watch(a) => run_watch(a),
        Command::Report(a) => run_report(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("egresswatch: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
