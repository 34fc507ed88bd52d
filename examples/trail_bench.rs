//! Ledger build rate: generates a month of a busy account's CloudTrail in memory (gzip
//! `{"Records": [...]}` files, mostly unrelated calls, ENI and SageMaker calls mixed in) and
//! times egresswatch's trail reader over it, in compressed MB/s on one core.
//!
//! `cargo run --release --example trail_bench -- [FILES] [RECORDS_PER_FILE]`

use std::io::Write;
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let files: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(2000);
    let per_file: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(500);
    let noise = [
        "AssumeRole",
        "GetObject",
        "PutObject",
        "DescribeInstances",
        "Decrypt",
        "GenerateDataKey",
        "ListBuckets",
        "GetParameter",
    ];
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut blobs = Vec::with_capacity(files);
    let mut raw = 0usize;
    let mut n_eni = 0usize;
    for f in 0..files {
        let mut recs = Vec::with_capacity(per_file);
        for r in 0..per_file {
            let x = next();
            let id = format!("{f:06}-{r:05}-{x:016x}");
            let time = format!(
                "2026-10-{:02}T{:02}:{:02}:00Z",
                1 + f % 30,
                (x >> 8) % 24,
                (x >> 16) % 60
            );
            let rec = if x % 100 == 0 {
                n_eni += 1;
                format!(
                    r#"{{"eventVersion":"1.09","userIdentity":{{"type":"AssumedRole","principalId":"AROAEXAMPLE:SageMaker","arn":"arn:aws:sts::111122223333:assumed-role/Exec/SageMaker","sessionContext":{{"sessionIssuer":{{"type":"Role","arn":"arn:aws:iam::111122223333:role/Exec"}}}},"invokedBy":"sagemaker.amazonaws.com"}},"eventTime":"{time}","eventSource":"ec2.amazonaws.com","eventName":"CreateNetworkInterface","awsRegion":"us-east-1","sourceIPAddress":"sagemaker.amazonaws.com","userAgent":"sagemaker.amazonaws.com","requestParameters":{{"subnetId":"subnet-1","groupSet":{{}}}},"responseElements":{{"networkInterface":{{"networkInterfaceId":"eni-{x:017x}","subnetId":"subnet-1","vpcId":"vpc-1","privateIpAddress":"10.0.{}.{}","groupSet":{{"items":[{{"groupId":"sg-1"}}]}}}}}},"eventID":"{id}","eventType":"AwsApiCall","recipientAccountId":"111122223333"}}"#,
                    (x >> 24) % 256,
                    (x >> 32) % 256
                )
            } else {
                let name = noise[(x % noise.len() as u64) as usize];
                format!(
                    r#"{{"eventVersion":"1.09","userIdentity":{{"type":"AssumedRole","principalId":"AROAOTHER:session-{}","arn":"arn:aws:sts::111122223333:assumed-role/App/session","accountId":"111122223333"}},"eventTime":"{time}","eventSource":"s3.amazonaws.com","eventName":"{name}","awsRegion":"us-east-1","sourceIPAddress":"10.1.2.3","userAgent":"aws-sdk-java/2.20 Linux/5.10 OpenJDK_64-Bit_Server_VM","requestParameters":{{"bucketName":"data-{}","key":"prefix/part-{:08}.parquet"}},"responseElements":null,"requestID":"{x:016X}","eventID":"{id}","readOnly":true,"eventType":"AwsApiCall","managementEvent":false,"recipientAccountId":"111122223333"}}"#,
                    x % 97,
                    x % 13,
                    x % 100_000_000
                )
            };
            recs.push(rec);
        }
        let body = format!("{{\"Records\":[{}]}}", recs.join(","));
        raw += body.len();
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(body.as_bytes()).unwrap();
        blobs.push(e.finish().unwrap());
    }
    let gz: usize = blobs.iter().map(Vec::len).sum();
    // The floor: inflating the same files into a reused buffer, nothing else.
    let t0 = Instant::now();
    let mut buf = Vec::new();
    let mut inflated = 0usize;
    for b in &blobs {
        use std::io::Read;
        buf.clear();
        flate2::read::MultiGzDecoder::new(&b[..])
            .read_to_end(&mut buf)
            .unwrap();
        inflated += buf.len();
    }
    let floor = t0.elapsed().as_secs_f64();
    assert_eq!(inflated, raw);
    let mut reader = egresswatch::inventory::cloudtrail::TrailReader::new();
    let t0 = Instant::now();
    for (i, b) in blobs.iter().enumerate() {
        reader.read_file(
            &format!("AWSLogs/111122223333/CloudTrail/us-east-1/2026/10/01/f{i}.json.gz"),
            b,
        );
    }
    let secs = t0.elapsed().as_secs_f64();
    assert_eq!(
        reader.stats.events_kept as usize, n_eni,
        "every ENI event kept"
    );
    println!(
        "{{\"files\": {files}, \"records\": {}, \"eni_events\": {n_eni}, \"gzip_mb\": {:.1}, \"json_mb\": {:.1}, \"seconds\": {secs:.2}, \"gzip_mb_per_s\": {:.1}, \"json_mb_per_s\": {:.1}, \"inflate_floor_seconds\": {floor:.2}, \"floor_gzip_mb_per_s\": {:.1}}}",
        files * per_file,
        gz as f64 / 1e6,
        raw as f64 / 1e6,
        gz as f64 / 1e6 / secs,
        raw as f64 / 1e6 / secs,
        gz as f64 / 1e6 / floor
    );
}
