//! Converts a text flow log (with a header line) into Parquet the way AWS writes it: underscored
//! column names, int32 for version/ports/protocol/tcp-flags/traffic-path, int64 for counters and
//! times, strings for the rest, GZIP compression.
//!
//! `cargo run --example make_parquet_sample -- IN.txt OUT.parquet`

use std::sync::Arc;

use arrow_array::{ArrayRef, Int32Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, GzipLevel};
use parquet::file::properties::WriterProperties;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (input, output) = match args.as_slice() {
        [_, i, o] => (i, o),
        _ => return Err("usage: make_parquet_sample IN.txt OUT.parquet".into()),
    };
    let text = std::fs::read_to_string(input)?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines
        .next()
        .ok_or("empty input")?
        .split_whitespace()
        .collect();
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split_whitespace().collect()).collect();
    let int32 = [
        "version",
        "srcport",
        "dstport",
        "protocol",
        "tcp-flags",
        "traffic-path",
    ];
    let int64 = ["packets", "bytes", "start", "end"];
    let mut fields = Vec::new();
    let mut arrays: Vec<ArrayRef> = Vec::new();
    for (c, name) in header.iter().enumerate() {
        let col = name.replace('-', "_");
        let values = rows.iter().map(|r| r[c]);
        if int32.contains(name) {
            fields.push(Field::new(col, DataType::Int32, true));
            arrays.push(Arc::new(
                values
                    .map(|v| v.parse::<i32>().ok())
                    .collect::<Int32Array>(),
            ));
        } else if int64.contains(name) {
            fields.push(Field::new(col, DataType::Int64, true));
            arrays.push(Arc::new(
                values
                    .map(|v| v.parse::<i64>().ok())
                    .collect::<Int64Array>(),
            ));
        } else {
            fields.push(Field::new(col, DataType::Utf8, true));
            arrays.push(Arc::new(values.map(Some).collect::<StringArray>()));
        }
    }
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)?;
    let props = WriterProperties::builder()
        .set_compression(Compression::GZIP(GzipLevel::default()))
        .set_created_by("egresswatch make_parquet_sample".into())
        .build();
    if let Some(dir) = std::path::Path::new(output).parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut w = ArrowWriter::try_new(std::fs::File::create(output)?, batch.schema(), Some(props))?;
    w.write(&batch)?;
    w.close()?;
    Ok(())
}
