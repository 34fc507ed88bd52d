//! Versioned, atomic, bounded snapshots of state that is replaced as a whole (baseline state).
//!
//! A snapshot folder holds one object per generation, `<dir>/<generation:020>.snap`, each one
//! written with [`Store::put_new`] (locally a fsynced temporary file hard-linked to its name; on
//! S3 `PutObject` with `If-None-Match: *`). The name is the compare-and-swap: a writer that read
//! generation N writes N+1, and if another writer took N+1 first the create fails (412 or 409 on
//! S3, an existing link locally) and the writer gets [`SnapshotError::Conflict`].
//! [`Snapshots::update`] turns that into the usual loop: re-read the winner, merge into it, try
//! the next generation. Two writers therefore never overwrite each other silently.
//!
//! Each object is self-checking: a first line of JSON
//! `{"format":"egresswatch-snapshot","version":1,"generation":N,"len":BYTES,"sha256":"hex"}` then
//! the body. An object whose header does not parse, names another generation than its object
//! name, or whose body has another length or SHA-256 is not a snapshot: [`Snapshots::load`]
//! skips it with a warning and loads the previous generation, and `update` writes after it
//! (never into it). A `kill -9` leaves either the whole object or nothing (plus, locally, a
//! `.tmp-*` file that is never listed). Only the newest `keep` (at least 2) generations stay;
//! older ones are deleted after each successful commit, best effort.
//!
//! Why generations with `If-None-Match: *` rather than one object overwritten with `If-Match:
//! <etag>`: the previous generation survives a newest one that is corrupted (by hand, by a bad
//! copy, by a truncating tool), so a reader falls back instead of losing the state; a generation
//! number orders writers without trusting clocks; and create-only writes are what S3-compatible
//! servers support most widely (AWS S3 has had `If-None-Match` on `PutObject` since August 2024,
//! `If-Match` only since November 2024, and other S3-compatible servers vary), and the same
//! primitive is the hard link locally. The moto server the integration tests use (5.2.5, pinned
//! by `scripts/setup_moto.sh`) does implement both on `PutObject` (`If-Match` compared with the
//! ETag, quotes ignored, 412 on mismatch, 404 when the key is missing; `If-None-Match: *` 412 when
//! the key exists, also on `CompleteMultipartUpload`) and `If-Match` on `DeleteObject`; its
//! check and store are separate steps of a threaded server, not one atomic operation, so
//! `tests/state.rs` runs it with a long GIL switch interval (no preemption between the two).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Store, StoreError};

const FORMAT: &str = "egresswatch-snapshot";
const VERSION: u32 = 1;
const SUFFIX: &str = ".snap";
/// How often `load` lists again when a generation it listed was pruned before it read it.
const LIST_ROUNDS: u32 = 5;

/// The snapshots in one folder of a store.
#[derive(Clone, Debug)]
pub struct Snapshots {
    store: Store,
    dir: String,
    keep: usize,
}

/// One intact generation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Loaded {
    pub generation: u64,
    pub body: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("snapshot generation {generation} was written by another writer first")]
    Conflict { generation: u64 },
    #[error("snapshot not written: another writer won each of {attempts} attempts")]
    TooManyConflicts { attempts: u32 },
    #[error("{0}")]
    Merge(String),
}

#[derive(Serialize, Deserialize)]
struct Header {
    format: String,
    version: u32,
    generation: u64,
    len: u64,
    sha256: String,
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// The object for `generation`: the header line, then the body.
fn envelope(generation: u64, body: &[u8]) -> Vec<u8> {
    let header = Header {
        format: FORMAT.to_string(),
        version: VERSION,
        generation,
        len: body.len() as u64,
        sha256: hex(&Sha256::digest(body)),
    };
    // Serializing a struct of strings and integers cannot fail.
    let mut out = serde_json::to_vec(&header).unwrap_or_default();
    out.push(b'\n');
    out.extend_from_slice(body);
    out
}

/// The body of the object named for `generation`, or why it is not an intact snapshot.
fn open_envelope(generation: u64, data: &[u8]) -> Result<Vec<u8>, String> {
    let nl = memchr::memchr(b'\n', data).ok_or("no header line (truncated?)")?;
    let header: Header =
        serde_json::from_slice(&data[..nl]).map_err(|e| format!("bad header: {e}"))?;
    if header.format != FORMAT {
        return Err(format!(
            "header format is {:?}, not {FORMAT:?}",
            header.format
        ));
    }
    if header.version != VERSION {
        return Err(format!(
            "envelope version {} (this build reads {VERSION})",
            header.version
        ));
    }
    if header.generation != generation {
        return Err(format!(
            "header says generation {}, the name says {generation}",
            header.generation
        ));
    }
    let body = &data[nl + 1..];
    if body.len() as u64 != header.len {
        return Err(format!(
            "body is {} bytes, the header says {} (truncated?)",
            body.len(),
            header.len
        ));
    }
    if hex(&Sha256::digest(body)) != header.sha256 {
        return Err("body SHA-256 does not match the header (corrupted)".into());
    }
    Ok(body.to_vec())
}

/// A few milliseconds, different per call and process: spreads out writers that keep colliding.
fn jitter_ms(max: u64) -> u64 {
    let s = super::unique_suffix();
    let h = Sha256::digest(s.as_bytes());
    u64::from(h[0]) % (max + 1)
}

impl Snapshots {
    /// `dir` is a folder inside the store, e.g. "baseline". `keep` >= 2 newest generations are
    /// kept (3 unless [`Snapshots::with_keep`] says otherwise).
    pub fn new(store: Store, dir: &str) -> Snapshots {
        Snapshots {
            store,
            dir: dir.trim_matches('/').to_string(),
            keep: 3,
        }
    }

    /// Keeps the newest `keep` generations; values below 2 mean 2 (the previous generation is
    /// what a corrupted newest one falls back to).
    pub fn with_keep(self, keep: usize) -> Snapshots {
        Snapshots {
            keep: keep.max(2),
            ..self
        }
    }

    /// Where the snapshots are: the store's location and the folder.
    pub fn location(&self) -> String {
        format!(
            "{}/{}",
            self.store.location().trim_end_matches('/'),
            self.dir
        )
    }

    fn name(&self, generation: u64) -> String {
        format!("{}/{generation:020}{SUFFIX}", self.dir)
    }

    fn object(&self, generation: u64) -> String {
        format!("{}/{generation:020}{SUFFIX}", self.location())
    }

    /// Generation numbers present, ascending; objects with other names are not snapshots.
    async fn generations(&self) -> Result<Vec<u64>, StoreError> {
        let prefix = format!("{}/", self.dir);
        let mut out: Vec<u64> = self
            .store
            .list(&self.dir)
            .await?
            .iter()
            .filter_map(|n| {
                let digits = n.strip_prefix(&prefix)?.strip_suffix(SUFFIX)?;
                (digits.len() == 20 && digits.bytes().all(|b| b.is_ascii_digit()))
                    .then(|| digits.parse().ok())
                    .flatten()
            })
            .collect();
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }

    /// The newest intact generation, and the newest generation present (intact or not): the one
    /// a new generation must follow.
    async fn scan(&self) -> Result<(Option<Loaded>, Option<u64>), SnapshotError> {
        for _ in 0..LIST_ROUNDS {
            let gens = self.generations().await?;
            let newest = gens.last().copied();
            let mut vanished = false;
            for &g in gens.iter().rev() {
                let Some(data) = self.store.get_if_exists(&self.name(g)).await? else {
                    // Pruned since the listing: newer generations exist than the ones listed.
                    vanished = true;
                    break;
                };
                match open_envelope(g, &data) {
                    Ok(body) => {
                        return Ok((
                            Some(Loaded {
                                generation: g,
                                body,
                            }),
                            newest,
                        ))
                    }
                    Err(why) => tracing::warn!(
                        "snapshot {}: skipped, not an intact snapshot: {why}",
                        self.object(g)
                    ),
                }
            }
            if !vanished {
                if !gens.is_empty() {
                    tracing::warn!(
                        "snapshots {}: none of the {} generations is intact",
                        self.location(),
                        gens.len()
                    );
                }
                return Ok((None, newest));
            }
            tracing::debug!(
                "snapshots {}: a generation was pruned while loading; listing again",
                self.location()
            );
        }
        Err(SnapshotError::Store(StoreError::Io {
            location: self.location(),
            message: format!(
                "generations kept being pruned while loading ({LIST_ROUNDS} listings)"
            ),
        }))
    }

    /// The newest generation that is complete and intact (envelope checksum OK); newer ones that
    /// are not (corrupted by hand, truncated) are skipped with a `tracing::warn!` naming them.
    /// `None` when empty (or when no generation is intact, with a warning).
    pub async fn load(&self) -> Result<Option<Loaded>, SnapshotError> {
        Ok(self.scan().await?.0)
    }

    /// Writes generation `after.map_or(1, |g| g + 1)` create-only; `Conflict` if another writer
    /// took that generation (an object there with exactly these bytes is this write landing
    /// twice, a retried request, and counts as written). On success prunes generations older
    /// than the newest `keep` (best effort, a failed delete is a warn, never an error). A write
    /// that landed behind a newer generation (its name had been pruned) is withdrawn and is a
    /// `Conflict` too.
    ///
    /// After a [`Snapshots::load`] that skipped a corrupted newest generation, committing after
    /// the loaded one conflicts with the corrupted object; [`Snapshots::update`] commits after
    /// the newest object present and so moves past it.
    pub async fn commit(&self, after: Option<u64>, body: &[u8]) -> Result<u64, SnapshotError> {
        let generation = match after {
            None => 1,
            Some(g) => g
                .checked_add(1)
                .ok_or(SnapshotError::Conflict { generation: g })?,
        };
        let name = self.name(generation);
        let data = envelope(generation, body);
        match self.store.put_new(&name, &data).await {
            Ok(()) => {}
            Err(StoreError::Exists { .. }) => {
                let ours =
                    matches!(self.store.get_if_exists(&name).await, Ok(Some(d)) if d == data);
                if !ours {
                    return Err(SnapshotError::Conflict { generation });
                }
            }
            Err(e) => return Err(e.into()),
        }
        // Pruning frees old names, so create-only alone does not prove this write is the newest:
        // a writer that loaded generation N long ago (stalled, slow disk) can create N+1 after
        // N+1 was written by another writer and then pruned. Such a write sits behind the newest
        // generation and would be lost silently; it is a conflict like any other. A name is
        // pruned only once at least 2 (the smallest `keep`) newer generations exist, and the
        // newest present never goes away, so that case always lists a generation ≥ ours + 2.
        // Generations only ours + 1 ahead were built on this write. (Another writer committing
        // twice within this listing also looks stale: the withdrawal then costs a generation
        // number, never an update, because merges re-applied to a winner are idempotent.)
        let gens = match self.generations().await {
            Ok(g) => g,
            Err(e) => {
                // Unknown whether this write is behind: say it did not land (the caller re-merges
                // or retries; merges are idempotent) rather than report a write that may be lost.
                let _ = self.store.delete(&name).await;
                return Err(e.into());
            }
        };
        if let Some(&newest) = gens.last().filter(|&&g| g >= generation.saturating_add(2)) {
            tracing::debug!(
                "snapshot {}: written behind generation {newest} (its name had been pruned); withdrawn",
                self.object(generation)
            );
            if let Err(e) = self.store.delete(&name).await {
                tracing::warn!(
                    "snapshot {}: stale write not withdrawn: {e}",
                    self.object(generation)
                );
            }
            return Err(SnapshotError::Conflict { generation });
        }
        tracing::debug!("snapshot {}: written", self.object(generation));
        self.prune(&gens).await;
        Ok(generation)
    }

    /// Deletes all but the newest `keep` of the listed generations; failures are warnings.
    async fn prune(&self, gens: &[u64]) {
        let old = gens.len().saturating_sub(self.keep);
        for &g in &gens[..old] {
            if let Err(e) = self.store.delete(&self.name(g)).await {
                tracing::warn!("snapshot {}: not pruned: {e}", self.object(g));
            }
        }
    }

    /// The re-read-and-merge loop: load the newest, call `f(base)` (base `None` when empty) to
    /// produce the new body, commit after the loaded generation; on `Conflict` re-load and call
    /// `f` again with the winner's body, up to `attempts` times (then `TooManyConflicts`).
    /// Returns the written generation. `f` failing is [`SnapshotError::Merge`] (nothing written).
    pub async fn update<F>(&self, attempts: u32, mut f: F) -> Result<u64, SnapshotError>
    where
        F: FnMut(Option<&Loaded>) -> Result<Vec<u8>, String>,
    {
        for attempt in 1..=attempts {
            let (base, newest) = self.scan().await?;
            let body = f(base.as_ref()).map_err(|m| {
                SnapshotError::Merge(format!("snapshots {}: merge failed: {m}", self.location()))
            })?;
            match self.commit(newest, &body).await {
                Err(SnapshotError::Conflict { generation }) => {
                    tracing::debug!(
                        "snapshot {}: another writer won (attempt {attempt}); merging again",
                        self.object(generation)
                    );
                    if attempt < attempts {
                        let ms = jitter_ms(u64::from(attempt.min(20)));
                        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
                    }
                }
                other => return other,
            }
        }
        Err(SnapshotError::TooManyConflicts { attempts })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::fs;
    use std::sync::{Arc, Mutex};

    use super::*;

    fn snaps(dir: &std::path::Path) -> Snapshots {
        Snapshots::new(Store::local(dir).unwrap(), "baseline")
    }

    fn file(dir: &std::path::Path, g: u64) -> std::path::PathBuf {
        dir.join(format!("baseline/{g:020}.snap"))
    }

    #[tokio::test]
    async fn commit_load_round_trip_and_generations_increment() {
        let d = tempfile::tempdir().unwrap();
        let s = snaps(d.path());
        assert_eq!(s.load().await.unwrap(), None);
        assert_eq!(s.commit(None, b"one").await.unwrap(), 1);
        assert_eq!(
            s.load().await.unwrap(),
            Some(Loaded {
                generation: 1,
                body: b"one".to_vec()
            })
        );
        assert_eq!(s.commit(Some(1), b"two").await.unwrap(), 2);
        assert_eq!(s.commit(Some(2), b"").await.unwrap(), 3);
        let l = s.load().await.unwrap().unwrap();
        assert_eq!((l.generation, l.body.as_slice()), (3, &b""[..]));
        // The object is the envelope: a JSON header line naming its generation, then the body.
        let raw = fs::read(file(d.path(), 2)).unwrap();
        let (head, body) = raw.split_at(memchr::memchr(b'\n', &raw).unwrap());
        let h: serde_json::Value = serde_json::from_slice(head).unwrap();
        assert_eq!(h["format"], "egresswatch-snapshot");
        assert_eq!(
            (h["version"].as_u64(), h["generation"].as_u64()),
            (Some(1), Some(2))
        );
        assert_eq!(h["len"].as_u64(), Some(3));
        assert_eq!(h["sha256"], hex(&Sha256::digest(b"two")));
        assert_eq!(body, b"\ntwo");
        assert!(s.location().ends_with("/baseline"), "{}", s.location());
    }

    #[tokio::test]
    async fn a_taken_generation_is_a_conflict_and_keeps_the_winner() {
        let d = tempfile::tempdir().unwrap();
        let s = snaps(d.path());
        s.commit(None, b"first").await.unwrap();
        assert!(matches!(
            s.commit(None, b"second").await,
            Err(SnapshotError::Conflict { generation: 1 })
        ));
        s.commit(Some(1), b"third").await.unwrap();
        assert!(matches!(
            s.commit(Some(1), b"stale").await,
            Err(SnapshotError::Conflict { generation: 2 })
        ));
        assert_eq!(s.load().await.unwrap().unwrap().body, b"third");
        // The same bytes landing twice (a retried request) are not a conflict.
        assert_eq!(s.commit(Some(1), b"third").await.unwrap(), 2);
    }

    /// Collects what `tracing` writes while the guard lives (this thread only).
    #[derive(Clone, Default)]
    struct Logs(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Logs {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    impl Logs {
        fn capture(&self) -> tracing::subscriber::DefaultGuard {
            let w = self.clone();
            let sub = tracing_subscriber::fmt()
                .with_ansi(false)
                .with_max_level(tracing::Level::WARN)
                .with_writer(move || w.clone())
                .finish();
            tracing::subscriber::set_default(sub)
        }
        fn text(&self) -> String {
            String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
        }
    }

    #[tokio::test]
    async fn corrupted_or_truncated_newest_generations_are_skipped_with_a_warning() {
        let d = tempfile::tempdir().unwrap();
        let s = snaps(d.path()).with_keep(10);
        for (i, body) in ["a", "bb", "ccc", "dddd"].iter().enumerate() {
            s.commit((i > 0).then_some(i as u64), body.as_bytes())
                .await
                .unwrap();
        }
        let logs = Logs::default();
        let _g = logs.capture();
        // Generation 4: one body byte flipped.
        let mut raw = fs::read(file(d.path(), 4)).unwrap();
        let last = raw.len() - 1;
        raw[last] ^= 0x20;
        fs::write(file(d.path(), 4), &raw).unwrap();
        let l = s.load().await.unwrap().unwrap();
        assert_eq!((l.generation, l.body.as_slice()), (3, &b"ccc"[..]));
        assert!(
            logs.text().contains("00000000000000000004.snap"),
            "{}",
            logs.text()
        );
        assert!(logs.text().contains("SHA-256"), "{}", logs.text());
        // Generation 3 truncated by one byte: generation 2 loads.
        let raw = fs::read(file(d.path(), 3)).unwrap();
        fs::write(file(d.path(), 3), &raw[..raw.len() - 1]).unwrap();
        let l = s.load().await.unwrap().unwrap();
        assert_eq!((l.generation, l.body.as_slice()), (2, &b"bb"[..]));
        assert!(
            logs.text().contains("00000000000000000003.snap"),
            "{}",
            logs.text()
        );
        assert!(logs.text().contains("truncated"), "{}", logs.text());
        // A copy of generation 2 under another generation's name is not that generation; an
        // object cut inside its header is not a snapshot either.
        fs::copy(file(d.path(), 2), file(d.path(), 7)).unwrap();
        fs::write(file(d.path(), 8), b"{\"format\":\"egress").unwrap();
        let l = s.load().await.unwrap().unwrap();
        assert_eq!(l.generation, 2);
        assert!(logs.text().contains("the name says 7"), "{}", logs.text());
        // `update` writes after the newest object present, not into a corrupted one.
        let g = s
            .update(3, |base| {
                assert_eq!(base.map(|b| b.generation), Some(2));
                Ok(b"fixed".to_vec())
            })
            .await
            .unwrap();
        assert_eq!(g, 9);
        assert_eq!(s.load().await.unwrap().unwrap().body, b"fixed");
    }

    #[tokio::test]
    async fn prune_keeps_the_newest_keep_generations() {
        let d = tempfile::tempdir().unwrap();
        let s = snaps(d.path()).with_keep(3);
        let mut after = None;
        for i in 0..10u8 {
            after = Some(s.commit(after, &[i]).await.unwrap());
        }
        let names = s.store.list("baseline").await.unwrap();
        let want: Vec<String> = (8..=10).map(|g| format!("baseline/{g:020}.snap")).collect();
        assert_eq!(names, want);
        assert_eq!(s.load().await.unwrap().unwrap().body, [9]);
        // keep below 2 means 2.
        let s = s.with_keep(0);
        s.commit(after, b"x").await.unwrap();
        assert_eq!(s.store.list("baseline").await.unwrap().len(), 2);
    }

    #[tokio::test]
    async fn temp_files_of_a_killed_writer_and_foreign_files_are_ignored() {
        let d = tempfile::tempdir().unwrap();
        let s = snaps(d.path()).with_keep(2);
        s.commit(None, b"one").await.unwrap();
        let dir = d.path().join("baseline");
        // What a writer killed before its hard link leaves: a temporary file, maybe torn.
        fs::write(dir.join(".tmp-4242-00000000000000000002"), b"{\"format\":").unwrap();
        fs::write(dir.join(".tmp-4242-x.snap"), envelope(2, b"never linked")).unwrap();
        fs::write(dir.join("notes.txt"), b"hello").unwrap();
        fs::write(dir.join("12.snap"), envelope(12, b"bad name")).unwrap();
        let l = s.load().await.unwrap().unwrap();
        assert_eq!((l.generation, l.body.as_slice()), (1, &b"one"[..]));
        assert_eq!(s.commit(Some(1), b"two").await.unwrap(), 2);
        assert_eq!(s.commit(Some(2), b"three").await.unwrap(), 3);
        assert_eq!(s.load().await.unwrap().unwrap().body, b"three");
        // Pruning touched only generations.
        assert!(dir.join("notes.txt").exists() && dir.join(".tmp-4242-x.snap").exists());
        assert!(!file(d.path(), 1).exists() && file(d.path(), 2).exists());
    }

    fn set(body: Option<&Loaded>) -> Result<BTreeSet<String>, String> {
        match body {
            None => Ok(BTreeSet::new()),
            Some(l) => serde_json::from_slice(&l.body).map_err(|e| e.to_string()),
        }
    }

    #[tokio::test]
    async fn update_merges_into_the_winner_after_a_conflict() {
        let d = tempfile::tempdir().unwrap();
        let s = snaps(d.path());
        s.commit(None, br#"["a0"]"#).await.unwrap();
        let mut calls = 0;
        let g = s
            .update(5, |base| {
                calls += 1;
                let mut items = set(base)?;
                if calls == 1 {
                    // Another writer commits after the same base while this one merges.
                    let other = snaps(d.path());
                    std::thread::scope(|sc| {
                        sc.spawn(|| {
                            let rt = tokio::runtime::Builder::new_current_thread()
                                .enable_all()
                                .build()
                                .unwrap();
                            rt.block_on(other.update(1, |b| {
                                let mut o = set(b)?;
                                o.insert("b1".into());
                                serde_json::to_vec(&o).map_err(|e| e.to_string())
                            }))
                            .unwrap()
                        })
                        .join()
                        .unwrap()
                    });
                }
                items.insert("a1".into());
                serde_json::to_vec(&items).map_err(|e| e.to_string())
            })
            .await
            .unwrap();
        assert_eq!((g, calls), (3, 2));
        let got = set(s.load().await.unwrap().as_ref()).unwrap();
        assert_eq!(got, ["a0", "a1", "b1"].map(String::from).into());
        // A failing merge writes nothing and names the location.
        let e = s.update(3, |_| Err("not JSON".into())).await.unwrap_err();
        assert!(matches!(e, SnapshotError::Merge(_)));
        assert!(e.to_string().contains(&s.location()), "{e}");
        assert_eq!(s.load().await.unwrap().unwrap().generation, 3);
        // No attempts at all: nothing is written.
        assert!(matches!(
            s.update(0, |_| Ok(Vec::new())).await,
            Err(SnapshotError::TooManyConflicts { attempts: 0 })
        ));
    }

    #[tokio::test]
    async fn a_stale_writer_cannot_resurrect_a_pruned_generation() {
        let d = tempfile::tempdir().unwrap();
        let s = snaps(d.path());
        let mut after = None;
        for body in [b"1", b"2", b"3", b"4", b"5"] {
            after = Some(s.commit(after, body).await.unwrap());
        }
        assert!(!file(d.path(), 2).exists(), "generation 2 is pruned");
        // A writer that loaded generation 1 long ago: create-only succeeds on the freed name 2,
        // but the write is behind generation 5 and must not count as committed.
        assert!(matches!(
            s.commit(Some(1), b"stale").await,
            Err(SnapshotError::Conflict { generation: 2 })
        ));
        assert!(!file(d.path(), 2).exists(), "the stale write is withdrawn");
        let l = s.load().await.unwrap().unwrap();
        assert_eq!((l.generation, l.body.as_slice()), (5, &b"5"[..]));
        // update() re-merges onto the newest instead.
        assert_eq!(s.update(3, |_| Ok(b"6".to_vec())).await.unwrap(), 6);
    }

    #[test]
    fn concurrent_local_writers_lose_no_update() {
        let d = tempfile::tempdir().unwrap();
        let calls: Vec<u32> = std::thread::scope(|sc| {
            let hs: Vec<_> = ["a", "b"]
                .into_iter()
                .map(|w| {
                    let s = snaps(d.path());
                    sc.spawn(move || {
                        let rt = tokio::runtime::Builder::new_current_thread()
                            .enable_all()
                            .build()
                            .unwrap();
                        let mut calls = 0;
                        for i in 0..20 {
                            rt.block_on(s.update(100, |base| {
                                calls += 1;
                                let mut items = set(base)?;
                                items.insert(format!("{w}{i}"));
                                serde_json::to_vec(&items).map_err(|e| e.to_string())
                            }))
                            .unwrap();
                        }
                        calls
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let l = rt.block_on(snaps(d.path()).load()).unwrap().unwrap();
        assert_eq!(set(Some(&l)).unwrap().len(), 40);
        // Every successful update is one generation, except that a write withdrawn as possibly
        // stale costs a number (never an update); conflicts only add closure calls.
        assert!(l.generation >= 40, "{}", l.generation);
        assert!(calls.iter().all(|&c| c >= 20), "{calls:?}");
    }
}
