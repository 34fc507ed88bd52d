//! Replays the committed fuzz corpora and every crash or timeout input found so far through the
//! same invariants the cargo-fuzz targets check (`egresswatch::fuzzing`), on stable, so CI
//! keeps every input that ever broke a parser fixed. It does not fuzz.
//!
//! Layout: `fuzz/corpus/<target>/*` (minimized with `cargo fuzz cmin`) and
//! `fuzz/regressions/<target>/*` (one file per finding, named after what it broke).

use std::path::{Path, PathBuf};

type Target = fn(&[u8]);

const TARGETS: &[(&str, Target)] = &[
    ("text_differential", egresswatch::fuzzing::text_differential),
    ("parquet", egresswatch::fuzzing::parquet),
    ("notification", egresswatch::fuzzing::notification),
    ("inventory", egresswatch::fuzzing::inventory),
    ("cloudtrail", egresswatch::fuzzing::cloudtrail),
    ("rules_toml", egresswatch::fuzzing::rules_toml),
    ("spool", egresswatch::fuzzing::spool),
    ("state", egresswatch::fuzzing::state),
];

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect(),
        Err(_) => Vec::new(),
    };
    out.sort();
    out
}

fn replay(name: &str, target: Target) -> usize {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let corpus = files(&root.join("corpus").join(name));
    assert!(
        !corpus.is_empty(),
        "fuzz/corpus/{name} is empty: every target keeps a corpus (fuzz/seed.sh builds one)"
    );
    let regressions = files(&root.join("regressions").join(name));
    let mut n = 0;
    for path in corpus.iter().chain(&regressions) {
        let data = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        // The panic names the input, so a failure says which file to run under `cargo fuzz run`.
        let r = std::panic::catch_unwind(|| target(&data));
        assert!(r.is_ok(), "{name}: invariant broken by {}", path.display());
        n += 1;
    }
    n
}

macro_rules! replay_tests {
    ($($t:ident),*) => {$(
        #[test]
        fn $t() {
            let (name, f) = TARGETS
                .iter()
                .find(|(n, _)| *n == stringify!($t))
                .copied()
                .unwrap_or_else(|| panic!("no target {}", stringify!($t)));
            assert!(replay(name, f) > 0);
        }
    )*};
}

replay_tests!(
    text_differential,
    parquet,
    notification,
    inventory,
    cloudtrail,
    rules_toml,
    spool,
    state
);

/// Every target in `fuzz/fuzz_targets/` is replayed here, and every replayed target has one.
#[test]
fn every_fuzz_target_is_replayed() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/fuzz_targets");
    let mut on_disk: Vec<String> = files(&dir)
        .iter()
        .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .collect();
    on_disk.sort();
    let mut here: Vec<String> = TARGETS.iter().map(|(n, _)| n.to_string()).collect();
    here.sort();
    assert_eq!(on_disk, here);
}
