//! The Parquet floor: arrow-rs reading, into Arrow arrays and nothing more, exactly the columns
//! `egresswatch scan` reads (its projection), with the schema hint the decoder reads with
//! (flow-log strings as dictionaries). Whatever egresswatch does beyond this (conversion,
//! enrichment, detection, output) is the gap to this floor. AWS compresses Parquet pages with
//! GZIP, so most of the floor is inflate.
//! `cargo run --release --example parquet_floor -- [--threads N] PATH...`

use std::path::Path;
use std::sync::Arc;

use egresswatch::decode::parquet::dictionary_hint;
use egresswatch::schema::F;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};
use parquet::arrow::ProjectionMask;

#[path = "common/floor.rs"]
mod floor;

fn projected(name: &str) -> bool {
    F::lookup(name.as_bytes()).is_some_and(|f| egresswatch::scan::PROJECTION.contains(&f))
}

/// Rows and projected columns of one file.
fn read(path: &Path) -> Result<(u64, usize), String> {
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let plain =
        ArrowReaderMetadata::load(&file, ArrowReaderOptions::new()).map_err(|e| e.to_string())?;
    let meta = ArrowReaderMetadata::try_new(
        plain.metadata().clone(),
        ArrowReaderOptions::new().with_schema(Arc::new(dictionary_hint(plain.schema()))),
    )
    .map_err(|e| e.to_string())?;
    let builder = ParquetRecordBatchReaderBuilder::new_with_metadata(file, meta);
    let roots: Vec<usize> = builder
        .schema()
        .fields()
        .iter()
        .enumerate()
        .filter(|(_, f)| projected(f.name()))
        .map(|(i, _)| i)
        .collect();
    let ncols = roots.len();
    let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
    let reader = builder
        .with_projection(mask)
        .with_batch_size(8192)
        .build()
        .map_err(|e| e.to_string())?;
    let mut rows = 0u64;
    for batch in reader {
        rows += batch.map_err(|e| e.to_string())?.num_rows() as u64;
    }
    Ok((rows, ncols))
}

fn main() {
    let (threads, files) = floor::args("parquet");
    let (totals, secs) = floor::run(&files, threads, |next| {
        let (mut rows, mut cols, mut failed) = (0u64, 0usize, 0u64);
        while let Some(f) = next() {
            match read(f) {
                Ok((r, c)) => {
                    rows += r;
                    cols = cols.max(c);
                }
                Err(e) => {
                    eprintln!("{}: {e}", f.display());
                    failed += 1;
                }
            }
        }
        (rows, cols, failed)
    });
    let rows: u64 = totals.iter().map(|t| t.0).sum();
    let cols = totals.iter().map(|t| t.1).max().unwrap_or(0);
    let failed: u64 = totals.iter().map(|t| t.2).sum();
    println!(
        "{{\"files\":{},\"rows\":{rows},\"columns\":{cols},\"failed\":{failed},\"seconds\":{secs:.3}}}",
        files.len()
    );
}
