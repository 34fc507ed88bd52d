//! A durable, bounded, append-only queue on disk, one per sink.
//!
//! Layout: `seg-<first seq>.ndjson` segment files of JSON lines (`{"seq":..,"activity":..,
//! "queued_at":..,"finding":{..}}`) and an `acked` file holding the highest sequence number the
//! receiver confirmed. `push` returns only after the lines are fsynced, so "spooled" means "on
//! disk". A line cut short by a crash was never acknowledged as spooled and is ignored on open.
//! Delivery is in order: the head of the queue is retried until it is accepted (or moved to
//! `rejected.ndjson` when the receiver refuses it permanently), so acknowledgements are a single
//! cursor. Fully acknowledged segments are deleted.

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::detect::Finding;

#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("spool {dir}: {source}")]
    Io { dir: String, source: io::Error },
    /// An append failed (disk full, file too large, read-only folder). The file was cut back
    /// to its last whole record, so nothing that was refused is left half-written.
    #[error("spool {path}: write failed, nothing of this batch was spooled: {source}")]
    Write { path: String, source: io::Error },
    #[error(
        "spool {dir} is full ({bytes} of {max} bytes): findings stay upstream until it drains"
    )]
    Full { dir: String, bytes: u64, max: u64 },
}

/// One queued finding.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Entry {
    pub seq: u64,
    /// OCSF activity: 1 first report, 2 update (a re-send with new counters).
    pub activity: u8,
    /// Unix milliseconds when it was spooled (for end-to-end latency).
    pub queued_at: i64,
    pub finding: Finding,
}

const SEGMENT_BYTES: u64 = 8 * 1024 * 1024;

pub struct Spool {
    dir: PathBuf,
    max_bytes: u64,
    /// (first seq, path, size) of each segment, oldest first.
    segments: VecDeque<(u64, PathBuf, u64)>,
    next_seq: u64,
    acked: u64,
    bytes: u64,
    /// Reader positioned after the last entry handed out by `peek`.
    reader: Option<(usize, BufReader<File>)>,
    pending: VecDeque<Entry>,
    /// Bytes of lines that could not be parsed (cut by a crash), skipped on open.
    pub torn_lines: u64,
}

fn io_err(dir: &Path) -> impl Fn(io::Error) -> SpoolError {
    let dir = dir.display().to_string();
    move |source| SpoolError::Io {
        dir: dir.clone(),
        source,
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl Spool {
    pub fn open(dir: &Path, max_bytes: u64) -> Result<Spool, SpoolError> {
        let e = io_err(dir);
        fs::create_dir_all(dir).map_err(&e)?;
        let acked: u64 = match fs::read_to_string(dir.join("acked")) {
            Ok(s) => s.trim().parse().unwrap_or(0),
            Err(err) if err.kind() == io::ErrorKind::NotFound => 0,
            Err(err) => return Err(e(err)),
        };
        let mut segments: Vec<(u64, PathBuf, u64)> = Vec::new();
        for entry in fs::read_dir(dir).map_err(&e)? {
            let path = entry.map_err(&e)?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if let Some(first) = name
                .strip_prefix("seg-")
                .and_then(|n| n.strip_suffix(".ndjson"))
                .and_then(|n| n.parse::<u64>().ok())
            {
                let size = fs::metadata(&path).map_err(&e)?.len();
                segments.push((first, path, size));
            }
        }
        segments.sort_by_key(|s| s.0);
        // The next sequence number follows the last complete line of the newest segment.
        // Saturating: `acked` is read from disk, and u64::MAX there must not panic.
        let mut next_seq = acked.saturating_add(1);
        let mut torn = 0;
        if let Some((_, path, size)) = segments.last_mut() {
            // A crash can leave a line without its newline: it was never reported as spooled.
            // Cut it so the next append starts on a fresh line.
            let data = fs::read(&*path).map_err(&e)?;
            let keep = data.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
            if keep < data.len() {
                torn += (data.len() - keep) as u64;
                let f = OpenOptions::new().write(true).open(&*path).map_err(&e)?;
                f.set_len(keep as u64).map_err(&e)?;
                f.sync_all().map_err(&e)?;
                *size = keep as u64;
            }
            let f = File::open(&*path).map_err(&e)?;
            for line in BufReader::new(f).split(b'\n') {
                let line = line.map_err(&e)?;
                match serde_json::from_slice::<Entry>(&line) {
                    Ok(entry) => next_seq = next_seq.max(entry.seq.saturating_add(1)),
                    Err(_) => torn += line.len() as u64,
                }
            }
        }
        // The newest segment is named after the first sequence number it was created for, so
        // the next one is at least that. It matters when the newest segment holds no complete
        // line: a crash right after the segment file was created, before its first line reached
        // the disk. Taking the oldest segment's name here (as before) let the next push reuse
        // sequence numbers of the older segments, and `peek` then skipped those pushes as
        // already seen: spooled findings never delivered (found by fuzz/spool).
        if let Some((first, _, _)) = segments.last() {
            next_seq = next_seq.max(*first);
        }
        let bytes = segments.iter().map(|s| s.2).sum();
        let mut spool = Spool {
            dir: dir.to_path_buf(),
            max_bytes,
            segments: segments.into(),
            next_seq,
            acked,
            bytes,
            reader: None,
            pending: VecDeque::new(),
            torn_lines: torn,
        };
        spool.drop_acked_segments()?;
        Ok(spool)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Findings waiting for delivery.
    pub fn len(&self) -> u64 {
        self.next_seq.saturating_sub(self.acked.saturating_add(1))
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Appends findings durably (fsynced) or refuses all of them when the spool is full.
    pub fn push(&mut self, items: &[(u8, Finding)]) -> Result<(), SpoolError> {
        if items.is_empty() {
            return Ok(());
        }
        let e = io_err(&self.dir);
        let mut buf = Vec::new();
        let mut seq = self.next_seq;
        for (activity, finding) in items {
            let entry = Entry {
                seq,
                activity: *activity,
                queued_at: now_ms(),
                finding: finding.clone(),
            };
            serde_json::to_writer(&mut buf, &entry).map_err(|err| e(err.into()))?;
            buf.push(b'\n');
            // Only a damaged `acked` file or segment can bring the counter here; refusing is
            // loud, and an entry at u64::MAX could never be told apart from one delivered.
            seq = seq.checked_add(1).ok_or_else(|| {
                e(io::Error::other(
                    "sequence numbers exhausted (damaged acked file or segment?)",
                ))
            })?;
        }
        if self.bytes + buf.len() as u64 > self.max_bytes {
            return Err(SpoolError::Full {
                dir: self.dir.display().to_string(),
                bytes: self.bytes,
                max: self.max_bytes,
            });
        }
        let need_new = self
            .segments
            .back()
            .is_none_or(|s| s.2 + buf.len() as u64 > SEGMENT_BYTES);
        if need_new {
            let path = self.dir.join(format!("seg-{:020}.ndjson", self.next_seq));
            self.segments.push_back((self.next_seq, path, 0));
        }
        let Some(seg) = self.segments.back_mut() else {
            return Ok(());
        };
        if let Err(source) = append_whole(&seg.1, &buf, seg.2) {
            // Nothing of this batch is spooled: the caller keeps its source unacknowledged.
            let path = seg.1.display().to_string();
            if need_new {
                // A new segment that holds nothing must not stay listed (or on disk): peek
                // would try to open it, and open would take its name for a first seq.
                let _ = fs::remove_file(&seg.1);
                self.segments.pop_back();
            }
            return Err(SpoolError::Write { path, source });
        }
        if need_new {
            sync_dir(&self.dir).map_err(&e)?;
        }
        seg.2 += buf.len() as u64;
        self.bytes += buf.len() as u64;
        self.next_seq = seq;
        Ok(())
    }

    /// Up to `n` entries from the head of the queue, oldest first, not yet acknowledged.
    pub fn peek(&mut self, n: usize) -> Result<Vec<Entry>, SpoolError> {
        let e = io_err(&self.dir);
        while self.pending.len() < n {
            if self.reader.is_none() {
                // (Re)open at the first segment that may hold unacknowledged entries.
                let Some(idx) = (0..self.segments.len()).find(|&i| {
                    let next_first = self.segments.get(i + 1).map_or(u64::MAX, |s| s.0);
                    next_first
                        > self
                            .acked
                            .saturating_add(1)
                            .saturating_add(self.pending.len() as u64)
                }) else {
                    break;
                };
                let f = File::open(&self.segments[idx].1).map_err(&e)?;
                self.reader = Some((idx, BufReader::new(f)));
            }
            let Some((idx, reader)) = self.reader.as_mut() else {
                break;
            };
            let mut line = Vec::new();
            let n_read = reader.read_until(b'\n', &mut line).map_err(&e)?;
            if n_read == 0 || line.last() != Some(&b'\n') {
                // End of this segment (or a torn tail): move on if a newer segment exists.
                if *idx + 1 < self.segments.len() {
                    let next = *idx + 1;
                    let f = File::open(&self.segments[next].1).map_err(&e)?;
                    self.reader = Some((next, BufReader::new(f)));
                    continue;
                }
                // Stay at the end; rewind the partial read so a later push is seen whole.
                let back = n_read as i64;
                reader.seek(SeekFrom::Current(-back)).map_err(&e)?;
                break;
            }
            let Ok(entry) = serde_json::from_slice::<Entry>(&line) else {
                continue;
            };
            let last = self.pending.back().map_or(self.acked, |p| p.seq);
            if entry.seq > last {
                self.pending.push_back(entry);
            }
        }
        Ok(self.pending.iter().take(n).cloned().collect())
    }

    /// Acknowledges every entry up to and including `seq`.
    pub fn ack(&mut self, seq: u64) -> Result<(), SpoolError> {
        if seq <= self.acked {
            return Ok(());
        }
        let e = io_err(&self.dir);
        // The cursor moves in memory only once it is on disk: a failed write (disk full) leaves
        // the entries pending, so they are sent again (at-least-once), never skipped.
        let tmp = self.dir.join("acked.tmp");
        let write = || -> io::Result<()> {
            let mut f = File::create(&tmp)?;
            writeln!(f, "{seq}")?;
            f.sync_all()?;
            fs::rename(&tmp, self.dir.join("acked"))
        };
        if let Err(err) = write() {
            let _ = fs::remove_file(&tmp);
            return Err(e(err));
        }
        sync_dir(&self.dir).map_err(&e)?;
        while self.pending.front().is_some_and(|p| p.seq <= seq) {
            self.pending.pop_front();
        }
        self.acked = seq;
        self.drop_acked_segments()
    }

    /// Moves a permanently refused entry to `rejected.ndjson` (kept for the operator; never
    /// silently dropped), then acknowledges it.
    pub fn reject(&mut self, entry: &Entry, reason: &str) -> Result<(), SpoolError> {
        let e = io_err(&self.dir);
        let path = self.dir.join("rejected.ndjson");
        let line = serde_json::json!({ "reason": reason, "entry": entry });
        let mut buf = serde_json::to_vec(&line).map_err(|err| e(err.into()))?;
        buf.push(b'\n');
        let len = match fs::metadata(&path) {
            Ok(m) => m.len(),
            Err(err) if err.kind() == io::ErrorKind::NotFound => 0,
            Err(err) => return Err(e(err)),
        };
        append_whole(&path, &buf, len).map_err(|source| SpoolError::Write {
            path: path.display().to_string(),
            source,
        })?;
        self.ack(entry.seq)
    }

    fn drop_acked_segments(&mut self) -> Result<(), SpoolError> {
        let e = io_err(&self.dir);
        // A segment is done when the next one starts at or before the first unacked seq, or,
        // for the newest, when everything written is acknowledged.
        while let Some(first) = self.segments.front() {
            let next_first = self.segments.get(1).map(|s| s.0);
            let done = match next_first {
                Some(nf) => nf <= self.acked.saturating_add(1),
                None => self.next_seq <= self.acked.saturating_add(1) && first.0 <= self.acked,
            };
            if !done {
                break;
            }
            if let Some((_, path, size)) = self.segments.pop_front() {
                fs::remove_file(&path).map_err(&e)?;
                self.bytes = self.bytes.saturating_sub(size);
            }
            self.reader = None;
            self.pending.clear();
        }
        Ok(())
    }
}

/// Appends `buf` to `path` (which holds `len` bytes of whole lines) and fsyncs it. If any of it
/// fails (ENOSPC, EFBIG, EROFS, EACCES) the file is cut back to `len`: a write that stopped
/// half-way must not leave a partial line that a later append would glue a good record to
/// (that record would then be unreadable, though it was reported as spooled).
fn append_whole(path: &Path, buf: &[u8], len: u64) -> io::Result<()> {
    let mut f = OpenOptions::new().create(true).append(true).open(path)?;
    let r = f.write_all(buf).and_then(|()| f.sync_data());
    if let Err(err) = r {
        // Shrinking needs no space; if even this fails, open() cuts the torn tail later.
        if f.set_len(len).and_then(|()| f.sync_data()).is_err() {
            tracing::warn!(file = %path.display(), "could not cut a failed append back; the torn tail is cut when the spool is opened again");
        }
        return Err(err);
    }
    Ok(())
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(id: &str) -> Finding {
        let mut f: Finding = serde_json::from_str(
            include_str!("../../tests/golden/samples.jsonl")
                .lines()
                .next()
                .unwrap(),
        )
        .unwrap();
        f.id = id.to_string();
        f
    }

    fn ids(v: &[Entry]) -> Vec<String> {
        v.iter().map(|e| e.finding.id.clone()).collect()
    }

    #[test]
    fn push_peek_ack_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Spool::open(dir.path(), 1 << 30).unwrap();
        s.push(&[(1, finding("a")), (1, finding("b")), (2, finding("c"))])
            .unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(ids(&s.peek(2).unwrap()), ["a", "b"]);
        let head = s.peek(1).unwrap();
        s.ack(head[0].seq).unwrap();
        drop(s);
        let mut s = Spool::open(dir.path(), 1 << 30).unwrap();
        assert_eq!(s.len(), 2);
        let rest = s.peek(10).unwrap();
        assert_eq!(ids(&rest), ["b", "c"]);
        assert_eq!(rest[1].activity, 2);
        s.push(&[(1, finding("d"))]).unwrap();
        assert_eq!(ids(&s.peek(10).unwrap()), ["b", "c", "d"]);
        s.ack(rest[1].seq).unwrap();
        assert_eq!(ids(&s.peek(10).unwrap()), ["d"]);
        let last = s.peek(1).unwrap()[0].seq;
        s.ack(last).unwrap();
        assert!(s.is_empty());
        assert!(s.peek(10).unwrap().is_empty());
        // Fully acknowledged segments are removed.
        let segs = fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with("seg-")
            })
            .count();
        assert_eq!(segs, 0);
    }

    #[test]
    fn torn_tail_is_cut_and_later_pushes_stay_whole() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Spool::open(dir.path(), 1 << 30).unwrap();
        s.push(&[(1, finding("a"))]).unwrap();
        let seg = s.segments[0].1.clone();
        drop(s);
        // A crash in the middle of a write.
        let mut f = OpenOptions::new().append(true).open(&seg).unwrap();
        f.write_all(b"{\"seq\":2,\"activity\":1,\"queued_at\":0,\"finding\":{\"id\":\"tor")
            .unwrap();
        drop(f);
        let mut s = Spool::open(dir.path(), 1 << 30).unwrap();
        assert!(s.torn_lines > 0);
        s.push(&[(1, finding("b"))]).unwrap();
        assert_eq!(ids(&s.peek(10).unwrap()), ["a", "b"]);
    }

    #[test]
    fn empty_newest_segment_after_crash_does_not_reuse_sequence_numbers() {
        // A crash right after a new segment file was created, before its first line was on
        // disk (fuzz/regressions/spool/empty-newest-segment).
        let dir = tempfile::tempdir().unwrap();
        let mut s = Spool::open(dir.path(), 1 << 30).unwrap();
        s.push(&[(1, finding("a")), (1, finding("b"))]).unwrap();
        drop(s);
        fs::write(dir.path().join(format!("seg-{:020}.ndjson", 3)), b"").unwrap();
        let mut s = Spool::open(dir.path(), 1 << 30).unwrap();
        s.push(&[(1, finding("c"))]).unwrap();
        let got = s.peek(10).unwrap();
        assert_eq!(ids(&got), ["a", "b", "c"]);
        assert_eq!(got[2].seq, 3);
    }

    #[test]
    fn acked_at_the_end_of_the_sequence_space_refuses_loudly() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("acked"), format!("{}\n", u64::MAX)).unwrap();
        let mut s = Spool::open(dir.path(), 1 << 30).unwrap();
        assert!(s.is_empty());
        assert!(matches!(
            s.push(&[(1, finding("a"))]),
            Err(SpoolError::Io { .. })
        ));
    }

    #[test]
    fn full_spool_refuses_without_dropping_and_rejects_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let one = serde_json::to_vec(&finding("x")).unwrap().len() as u64 + 100;
        let mut s = Spool::open(dir.path(), one * 2).unwrap();
        s.push(&[(1, finding("a"))]).unwrap();
        s.push(&[(1, finding("b"))]).unwrap();
        assert!(matches!(
            s.push(&[(1, finding("c"))]),
            Err(SpoolError::Full { .. })
        ));
        assert_eq!(ids(&s.peek(10).unwrap()), ["a", "b"]);
        let head = s.peek(1).unwrap().remove(0);
        s.reject(&head, "mapping error").unwrap();
        let rejected = fs::read_to_string(dir.path().join("rejected.ndjson")).unwrap();
        assert!(rejected.contains("mapping error") && rejected.contains("\"a\""));
        assert_eq!(ids(&s.peek(10).unwrap()), ["b"]);
    }

    #[test]
    fn many_segments_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Spool::open(dir.path(), 1 << 30).unwrap();
        let big: Vec<(u8, Finding)> = (0..10000)
            .map(|i| (1, finding(&format!("f{i:05}"))))
            .collect();
        for chunk in big.chunks(500) {
            s.push(chunk).unwrap();
        }
        assert!(s.segments.len() > 1, "expected several segments");
        let mut seen = Vec::new();
        let mut s = Spool::open(dir.path(), 1 << 30).unwrap();
        loop {
            let b = s.peek(700).unwrap();
            if b.is_empty() {
                break;
            }
            seen.extend(ids(&b));
            s.ack(b.last().unwrap().seq).unwrap();
        }
        let want: Vec<String> = (0..10000).map(|i| format!("f{i:05}")).collect();
        assert_eq!(seen, want);
    }
}
