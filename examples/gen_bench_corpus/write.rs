//! The three encodings of one object's records: default-format v2 text and custom v5 text (both
//! with AWS's header line, gzip level 6) and Parquet with AWS's schema for the default fields
//! (GZIP, dictionary encoding on, AWS's embedded Avro schema in the footer).

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::{Int32Builder, Int64Builder, StringBuilder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use flate2::write::GzEncoder;
use flate2::Compression;
use parquet::arrow::arrow_writer::ArrowWriterOptions;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression as PqCompression, GzipLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;

use crate::traffic::{Rec, NO_FLAGS, NO_SVC, SVC_NAMES};
use crate::world::{Role, World, ACCT, AZ_IDS, REGION};

pub const V2_HEADER: &str = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status";
/// A custom layout in an order of its own (not the table order), as the issue asks: readers
/// must follow the header.
pub const V5_HEADER: &str = "version vpc-id subnet-id instance-id interface-id account-id type srcaddr dstaddr srcport dstport pkt-srcaddr pkt-dstaddr protocol bytes packets start end action tcp-flags log-status region az-id sublocation-type sublocation-id pkt-src-aws-service pkt-dst-aws-service flow-direction traffic-path";

/// What a record prints for its ENI, computed once.
pub struct EniText {
    id: String,
    vpc: String,
    subnet: String,
    instance: String,
    az_id: &'static str,
    account: &'static str,
}

pub fn eni_texts(w: &World) -> Vec<EniText> {
    (0..w.enis.len())
        .map(|e| EniText {
            id: w.enis[e].id.clone(),
            vpc: w.vpcs[w.vpc_of(e)].id.clone(),
            subnet: w.subnets[w.enis[e].subnet].id.clone(),
            // Requester-managed ENIs (NAT, endpoints, SageMaker, Lambda) show `-`.
            instance: w.instance_id(e).unwrap_or("-").to_string(),
            az_id: AZ_IDS[w.az(e)],
            // AWS may log `unknown` as the account of ENIs an AWS service created.
            account: if matches!(w.enis[e].role, Role::Vpce(_)) {
                "unknown"
            } else {
                ACCT
            },
        })
        .collect()
}

fn put_u(buf: &mut Vec<u8>, mut v: u64) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    buf.extend_from_slice(&tmp[i..]);
}

fn put_ip(buf: &mut Vec<u8>, ip: u32) {
    let b = ip.to_be_bytes();
    for (i, o) in b.iter().enumerate() {
        if i > 0 {
            buf.push(b'.');
        }
        put_u(buf, *o as u64);
    }
}

fn sp(buf: &mut Vec<u8>) {
    buf.push(b' ');
}

fn dash(buf: &mut Vec<u8>) {
    buf.push(b'-');
}

fn action(r: &Rec) -> &'static str {
    match r.action {
        1 => "ACCEPT",
        2 => "REJECT",
        _ => "-",
    }
}

fn status(r: &Rec) -> &'static str {
    match r.status {
        0 => "OK",
        1 => "NODATA",
        _ => "SKIPDATA",
    }
}

fn svc(v: u8) -> &'static str {
    if v == NO_SVC {
        "-"
    } else {
        SVC_NAMES[v as usize]
    }
}

pub fn v2_line(buf: &mut Vec<u8>, r: &Rec, t: &EniText) {
    buf.extend_from_slice(b"2 ");
    buf.extend_from_slice(t.account.as_bytes());
    sp(buf);
    buf.extend_from_slice(t.id.as_bytes());
    if r.status == 0 {
        for v in [r.src, r.dst] {
            sp(buf);
            put_ip(buf, v);
        }
        for v in [
            r.sport as u64,
            r.dport as u64,
            r.proto as u64,
            r.packets as u64,
            r.bytes,
        ] {
            sp(buf);
            put_u(buf, v);
        }
    } else {
        buf.extend_from_slice(b" - - - - - - -");
    }
    sp(buf);
    put_u(buf, r.start as u64);
    sp(buf);
    put_u(buf, r.end as u64);
    sp(buf);
    buf.extend_from_slice(action(r).as_bytes());
    sp(buf);
    buf.extend_from_slice(status(r).as_bytes());
    buf.push(b'\n');
}

pub fn v5_line(buf: &mut Vec<u8>, r: &Rec, t: &EniText) {
    buf.extend_from_slice(b"5 ");
    for s in [&t.vpc, &t.subnet, &t.instance, &t.id] {
        buf.extend_from_slice(s.as_bytes());
        sp(buf);
    }
    buf.extend_from_slice(t.account.as_bytes());
    let ok = r.status == 0;
    if ok {
        buf.extend_from_slice(b" IPv4 ");
        put_ip(buf, r.src);
        sp(buf);
        put_ip(buf, r.dst);
        sp(buf);
        put_u(buf, r.sport as u64);
        sp(buf);
        put_u(buf, r.dport as u64);
        sp(buf);
        put_ip(buf, r.psrc);
        sp(buf);
        put_ip(buf, r.pdst);
        sp(buf);
        put_u(buf, r.proto as u64);
        sp(buf);
        put_u(buf, r.bytes);
        sp(buf);
        put_u(buf, r.packets as u64);
    } else {
        buf.extend_from_slice(b" - - - - - - - - - -");
    }
    sp(buf);
    put_u(buf, r.start as u64);
    sp(buf);
    put_u(buf, r.end as u64);
    sp(buf);
    buf.extend_from_slice(action(r).as_bytes());
    sp(buf);
    if r.flags == NO_FLAGS || !ok {
        dash(buf);
    } else {
        put_u(buf, r.flags as u64);
    }
    sp(buf);
    buf.extend_from_slice(status(r).as_bytes());
    sp(buf);
    buf.extend_from_slice(REGION.as_bytes());
    sp(buf);
    buf.extend_from_slice(t.az_id.as_bytes());
    buf.extend_from_slice(b" - - ");
    if ok {
        buf.extend_from_slice(svc(r.ssvc).as_bytes());
        sp(buf);
        buf.extend_from_slice(svc(r.dsvc).as_bytes());
        sp(buf);
        buf.extend_from_slice(if r.dir == 1 { b"ingress" } else { b"egress" });
        sp(buf);
        // traffic-path is only defined for egress.
        if r.tpath == 0 || r.dir != 2 {
            dash(buf);
        } else {
            put_u(buf, r.tpath as u64);
        }
    } else {
        buf.extend_from_slice(b"- - - -");
    }
    buf.push(b'\n');
}

/// Writes a gzip (level 6) text object through `buf` (reused); returns (compressed bytes,
/// uncompressed bytes).
pub fn write_text(
    path: &Path,
    header: &str,
    recs: &[Rec],
    texts: &[EniText],
    line: fn(&mut Vec<u8>, &Rec, &EniText),
    buf: &mut Vec<u8>,
) -> std::io::Result<(u64, u64)> {
    let file = std::fs::File::create(path)?;
    let mut gz = GzEncoder::new(std::io::BufWriter::new(file), Compression::new(6));
    buf.clear();
    buf.extend_from_slice(header.as_bytes());
    buf.push(b'\n');
    let mut raw = 0u64;
    for r in recs {
        line(buf, r, &texts[r.eni as usize]);
        if buf.len() >= 1 << 18 {
            raw += buf.len() as u64;
            gz.write_all(buf)?;
            buf.clear();
        }
    }
    raw += buf.len() as u64;
    gz.write_all(buf)?;
    gz.finish()?.flush()?;
    Ok((std::fs::metadata(path)?.len(), raw))
}

/// AWS's Parquet schema for a default-format flow log (all columns optional).
pub fn parquet_schema() -> Arc<Schema> {
    let s = |n: &str| Field::new(n, DataType::Utf8, true);
    let i32f = |n: &str| Field::new(n, DataType::Int32, true);
    let i64f = |n: &str| Field::new(n, DataType::Int64, true);
    Arc::new(Schema::new(vec![
        i32f("version"),
        s("account_id"),
        s("interface_id"),
        s("srcaddr"),
        s("dstaddr"),
        i32f("srcport"),
        i32f("dstport"),
        i32f("protocol"),
        i64f("packets"),
        i64f("bytes"),
        i64f("start"),
        i64f("end"),
        s("action"),
        s("log_status"),
    ]))
}

/// The Avro schema AWS's writer (parquet-avro) embeds in its files' footer.
fn avro_schema() -> String {
    let f = |n: &str, t: &str| match t {
        "string" => format!(r#"{{"name":"{n}","type":["string","null"],"default":"-"}}"#),
        t => format!(r#"{{"name":"{n}","type":["null","{t}"]}}"#),
    };
    let fields = [
        f("version", "int"),
        f("account_id", "string"),
        f("interface_id", "string"),
        f("srcaddr", "string"),
        f("dstaddr", "string"),
        f("srcport", "int"),
        f("dstport", "int"),
        f("protocol", "int"),
        f("packets", "long"),
        f("bytes", "long"),
        f("start", "long"),
        f("end", "long"),
        f("action", "string"),
        f("log_status", "string"),
    ];
    format!(
        r#"{{"type":"record","name":"LogFormatInfo","namespace":"LogFormatSchema","fields":[{}]}}"#,
        fields.join(",")
    )
}

/// Rows per Arrow batch handed to the Parquet writer (all land in one row group): small batches
/// keep every allocation small.
const PARQUET_BATCH: usize = 8192;

/// Writes one Parquet object (one row group); returns its size in bytes.
pub fn write_parquet(
    path: &Path,
    recs: &[Rec],
    texts: &[EniText],
) -> Result<u64, Box<dyn std::error::Error + Send + Sync>> {
    let schema = parquet_schema();
    let props = WriterProperties::builder()
        .set_compression(PqCompression::GZIP(GzipLevel::default()))
        .set_created_by("egresswatch gen_bench_corpus (parquet-rs)".into())
        .set_key_value_metadata(Some(vec![
            KeyValue::new("writer.model.name".into(), "avro".to_string()),
            KeyValue::new("parquet.avro.schema".into(), avro_schema()),
        ]))
        .build();
    // An AWS object carries no Arrow schema in its footer; readers must not rely on one.
    let opts = ArrowWriterOptions::new()
        .with_properties(props)
        .with_skip_arrow_metadata(true);
    let mut w =
        ArrowWriter::try_new_with_options(std::fs::File::create(path)?, schema.clone(), opts)?;
    for chunk in recs.chunks(PARQUET_BATCH) {
        w.write(&batch(&schema, chunk, texts)?)?;
    }
    w.close()?;
    Ok(std::fs::metadata(path)?.len())
}

fn batch(
    schema: &Arc<Schema>,
    recs: &[Rec],
    texts: &[EniText],
) -> Result<RecordBatch, arrow_schema::ArrowError> {
    let n = recs.len();
    let mut version = Int32Builder::with_capacity(n);
    let mut account = StringBuilder::with_capacity(n, n * 12);
    let mut eni = StringBuilder::with_capacity(n, n * 21);
    let mut src = StringBuilder::with_capacity(n, n * 13);
    let mut dst = StringBuilder::with_capacity(n, n * 13);
    let (mut sport, mut dport, mut proto) = (
        Int32Builder::with_capacity(n),
        Int32Builder::with_capacity(n),
        Int32Builder::with_capacity(n),
    );
    let (mut packets, mut bytes, mut start, mut end) = (
        Int64Builder::with_capacity(n),
        Int64Builder::with_capacity(n),
        Int64Builder::with_capacity(n),
        Int64Builder::with_capacity(n),
    );
    let mut act = StringBuilder::with_capacity(n, n * 6);
    let mut st = StringBuilder::with_capacity(n, n * 2);
    let mut ip = Vec::with_capacity(16);
    for r in recs {
        let t = &texts[r.eni as usize];
        version.append_value(2);
        account.append_value(t.account);
        eni.append_value(&t.id);
        if r.status == 0 {
            for (b, v) in [(&mut src, r.src), (&mut dst, r.dst)] {
                ip.clear();
                put_ip(&mut ip, v);
                // put_ip writes ASCII only.
                b.append_value(std::str::from_utf8(&ip).unwrap_or("-"));
            }
            sport.append_value(r.sport as i32);
            dport.append_value(r.dport as i32);
            proto.append_value(r.proto as i32);
            packets.append_value(r.packets as i64);
            bytes.append_value(r.bytes as i64);
        } else {
            // AWS's schema: missing strings default to "-", missing numbers are null.
            src.append_value("-");
            dst.append_value("-");
            sport.append_null();
            dport.append_null();
            proto.append_null();
            packets.append_null();
            bytes.append_null();
        }
        start.append_value(r.start as i64);
        end.append_value(r.end as i64);
        act.append_value(action(r));
        st.append_value(status(r));
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(version.finish()),
        Arc::new(account.finish()),
        Arc::new(eni.finish()),
        Arc::new(src.finish()),
        Arc::new(dst.finish()),
        Arc::new(sport.finish()),
        Arc::new(dport.finish()),
        Arc::new(proto.finish()),
        Arc::new(packets.finish()),
        Arc::new(bytes.finish()),
        Arc::new(start.finish()),
        Arc::new(end.finish()),
        Arc::new(act.finish()),
        Arc::new(st.finish()),
    ];
    RecordBatch::try_new(schema.clone(), columns)
}
