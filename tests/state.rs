//! Snapshots (`egresswatch::state::snapshot`) under the two things they must survive: a writer
//! killed with SIGKILL at any point (the test binary re-executes itself as the writer), and two
//! concurrent writers on a real S3 server (moto on 127.0.0.1, see tests/common/moto.rs).

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Barrier};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use egresswatch::state::snapshot::{Loaded, SnapshotError, Snapshots};
use egresswatch::state::Store;

mod common;
use common::moto::moto_atomic_conditionals;

/// Set to a folder, it makes `snapshot_writer_child` the writer that `kill_9_*` kills.
const CHILD_ENV: &str = "EGRESSWATCH_SNAPSHOT_CHILD_DIR";
const KEEP: usize = 3;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// What generation `g` holds in the kill test: 256 KiB that only generation `g` has.
fn body_for(g: u64) -> Vec<u8> {
    let mut b = format!("generation {g}\n").into_bytes();
    b.extend((0..256 * 1024u64).map(|i| (i.wrapping_mul(31).wrapping_add(g) % 251) as u8));
    b
}

/// The writer: runs only in the child process (`CHILD_ENV` set), forever, until killed. Each
/// update checks that its base is intact and reports the generation it wrote once `commit`
/// returned.
#[test]
fn snapshot_writer_child() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let s = Snapshots::new(Store::local(Path::new(&dir)).unwrap(), "baseline").with_keep(KEEP);
    let rt = rt();
    let mut out = std::io::stdout();
    loop {
        let mut bad = None;
        let g = rt
            .block_on(s.update(1, |base| {
                if let Some(b) = base {
                    if b.body != body_for(b.generation) {
                        bad = Some(b.generation);
                    }
                }
                Ok(body_for(base.map_or(1, |b| b.generation + 1)))
            }))
            .unwrap();
        if let Some(b) = bad {
            writeln!(out, "BAD base {b}").unwrap();
        }
        writeln!(out, "committed {g}").unwrap();
        out.flush().unwrap();
    }
}

/// xorshift64*, seeded from the clock (the seed is in every assertion message).
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

#[test]
fn kill_9_at_random_points_leaves_an_intact_generation_with_every_acknowledged_commit() {
    let d = tempfile::tempdir().unwrap();
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    let mut rng = Rng(seed);
    let s = Snapshots::new(Store::local(d.path()).unwrap(), "baseline").with_keep(KEEP);
    let rt = rt();
    let mut last_loaded = 0;
    for kill in 0..8 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "snapshot_writer_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, d.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(50 + rng.below(400)));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let mut out = String::new();
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        let ctx = format!("seed {seed}, kill {kill}, child said:\n{out}");
        assert!(!out.contains("BAD"), "{ctx}");
        let acknowledged = out
            .lines()
            .filter_map(|l| l.strip_prefix("committed ")?.parse::<u64>().ok())
            .max()
            .unwrap_or(0);
        let l = rt.block_on(s.load()).unwrap().expect(&ctx);
        assert!(l.generation >= acknowledged.max(last_loaded), "{ctx}");
        assert!(
            l.body == body_for(l.generation),
            "generation {}: {ctx}",
            l.generation
        );
        last_loaded = l.generation;
        // Bounded: `keep`, plus one a kill between write and prune left.
        let snaps = std::fs::read_dir(d.path().join("baseline"))
            .unwrap()
            .filter(|e| {
                let e = e.as_ref().unwrap();
                e.file_name().to_string_lossy().ends_with(".snap")
                    && !e.file_name().to_string_lossy().starts_with(".tmp-")
            })
            .count();
        assert!(snaps <= KEEP + 1, "{snaps} generations: {ctx}");
    }
    assert!(
        last_loaded >= 8,
        "the writers made little progress ({last_loaded}, seed {seed})"
    );
}

async fn s3_client(url: &str) -> aws_sdk_s3::Client {
    let cfg = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(url)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_credential_types::Credentials::new(
            "testing", "testing", None, None, "tests",
        ))
        .load()
        .await;
    egresswatch::aws::s3_client(&cfg, true)
}

fn items(l: Option<&Loaded>) -> Result<BTreeSet<String>, String> {
    l.map_or(Ok(BTreeSet::new()), |l| {
        serde_json::from_slice(&l.body).map_err(|e| e.to_string())
    })
}

#[test]
fn two_s3_writers_lose_no_update_and_conflicts_are_merged() {
    let Some(m) = moto_atomic_conditionals() else {
        return;
    };
    let rt = rt();
    let admin = rt.block_on(s3_client(&m.url));
    rt.block_on(admin.create_bucket().bucket("state").send())
        .unwrap();
    // Both writers' first update merges the same (empty) base: one of them must lose.
    let barrier = Arc::new(Barrier::new(2));
    let results: Vec<(String, u32, Vec<u64>)> = std::thread::scope(|sc| {
        let hs: Vec<_> = ["a", "b"]
            .into_iter()
            .map(|w| {
                let (barrier, url) = (barrier.clone(), m.url.clone());
                sc.spawn(move || {
                    let rt = self::rt();
                    let store = Store::s3(rt.block_on(s3_client(&url)), "state", "env/");
                    let s = Snapshots::new(store, "baseline").with_keep(KEEP);
                    let (mut calls, mut written) = (0u32, Vec::new());
                    for i in 0..20 {
                        let g = rt
                            .block_on(s.update(100, |base| {
                                calls += 1;
                                if calls == 1 {
                                    barrier.wait();
                                }
                                let mut set = items(base)?;
                                set.insert(format!("{w}-{i}"));
                                serde_json::to_vec(&set).map_err(|e| e.to_string())
                            }))
                            .unwrap();
                        written.push(g);
                    }
                    (w.to_string(), calls, written)
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });

    let store = Store::s3(admin.clone(), "state", "env");
    let s = Snapshots::new(store.clone(), "baseline").with_keep(KEEP);
    let l = rt.block_on(s.load()).unwrap().unwrap();
    let got = items(Some(&l)).unwrap();
    let want: BTreeSet<String> = ["a", "b"]
        .iter()
        .flat_map(|w| (0..20).map(move |i| format!("{w}-{i}")))
        .collect();
    assert_eq!(got, want, "lost updates; writers: {results:?}");
    // Each success is its own generation: none written twice, none skipped.
    let mut all: Vec<u64> = results.iter().flat_map(|r| r.2.clone()).collect();
    all.sort_unstable();
    assert_eq!(all, (1..=40).collect::<Vec<_>>(), "{results:?}");
    assert_eq!(l.generation, 40);
    let conflicts: u32 = results.iter().map(|r| r.1 - 20).sum();
    assert!(conflicts >= 1, "no conflict happened: {results:?}");

    // Bounded on S3 too.
    let names = rt.block_on(store.list("baseline")).unwrap();
    assert_eq!(names.len(), KEEP, "{names:?}");

    // A writer that read an older generation cannot overwrite the newest.
    let stale = rt.block_on(s.commit(Some(l.generation - 1), b"[]"));
    assert!(
        matches!(stale, Err(SnapshotError::Conflict { generation: 40 })),
        "{stale:?}"
    );
    assert_eq!(rt.block_on(s.load()).unwrap().unwrap(), l);

    // A corrupted newest object on S3 is skipped; the next update goes past it.
    let mut bad = rt
        .block_on(store.get("baseline/00000000000000000040.snap"))
        .unwrap();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    rt.block_on(store.put_new("baseline/00000000000000000041.snap", &bad))
        .unwrap();
    assert_eq!(rt.block_on(s.load()).unwrap().unwrap().generation, 40);
    let g = rt
        .block_on(s.update(3, |base| {
            let mut set = items(base)?;
            set.insert("c-0".into());
            serde_json::to_vec(&set).map_err(|e| e.to_string())
        }))
        .unwrap();
    assert_eq!(g, 42);
    let after = rt.block_on(s.load()).unwrap().unwrap();
    assert_eq!(
        (after.generation, items(Some(&after)).unwrap().len()),
        (42, 41)
    );
}
