//! Where egresswatch keeps what must survive a restart: a local folder (CLI, ECS) or an S3 prefix
//! (Lambda). The ENI ledger lives here; so will baseline state.
//!
//! The store only offers operations that stay safe under `kill -9` and concurrent writers:
//! - `put_new` writes an object that must not exist yet. Locally: a temporary file, fsynced,
//!   then hard-linked to its name (the link fails if the name exists), then the folder fsynced.
//!   On S3: `PutObject` with `If-None-Match: *`. A crash leaves either nothing or the whole
//!   object; a second writer never overwrites the first.
//! - `list` and `get` read what was completely written.
//!
//! Append-only data (the ledger) is a series of `put_new` segments with unique names, so two
//! writers never conflict and a reader merges all segments. State that is replaced as a whole
//! (baseline state) is a series of numbered generations ([`snapshot`]): each one `put_new`, the
//! name being the compare-and-swap; `delete` prunes old generations.

pub mod snapshot;
pub mod windows;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use aws_sdk_s3::error::DisplayErrorContext;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("state {location}: {message}")]
    Io { location: String, message: String },
    #[error("state {location}: object {name} exists already")]
    Exists { location: String, name: String },
    #[error("state {location}: {message}")]
    S3 { location: String, message: String },
}

/// A state location: `DIR` or `s3://bucket/prefix`.
#[derive(Clone)]
pub enum Store {
    Local(PathBuf),
    S3 {
        client: aws_sdk_s3::Client,
        bucket: String,
        prefix: String,
    },
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.location())
    }
}

/// Splits `s3://bucket/prefix` into bucket and prefix (no leading slash, trailing slash kept
/// as written); `None` for anything else.
pub fn parse_s3_url(s: &str) -> Option<(String, String)> {
    let rest = s.strip_prefix("s3://")?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    (!bucket.is_empty()).then(|| (bucket.to_string(), prefix.to_string()))
}

impl Store {
    /// A local folder store (created when missing).
    pub fn local(dir: &Path) -> Result<Store, StoreError> {
        fs::create_dir_all(dir).map_err(|e| StoreError::Io {
            location: dir.display().to_string(),
            message: format!("cannot create the folder: {e}"),
        })?;
        Ok(Store::Local(dir.to_path_buf()))
    }

    pub fn s3(client: aws_sdk_s3::Client, bucket: &str, prefix: &str) -> Store {
        let mut prefix = prefix.trim_start_matches('/').to_string();
        if !prefix.is_empty() && !prefix.ends_with('/') {
            prefix.push('/');
        }
        Store::S3 {
            client,
            bucket: bucket.to_string(),
            prefix,
        }
    }

    /// Opens `DIR` or `s3://bucket/prefix`; `client` is needed (and used) only for S3.
    pub fn open(
        location: &str,
        client: impl FnOnce() -> Option<aws_sdk_s3::Client>,
    ) -> Result<Store, StoreError> {
        match parse_s3_url(location) {
            Some((bucket, prefix)) => match client() {
                Some(c) => Ok(Store::s3(c, &bucket, &prefix)),
                None => Err(StoreError::S3 {
                    location: location.to_string(),
                    message: "no S3 client configured".into(),
                }),
            },
            None if location.starts_with("s3://") => Err(StoreError::S3 {
                location: location.to_string(),
                message: "expected s3://bucket/prefix".into(),
            }),
            None => Store::local(Path::new(location)),
        }
    }

    pub fn location(&self) -> String {
        match self {
            Store::Local(p) => p.display().to_string(),
            Store::S3 { bucket, prefix, .. } => format!("s3://{bucket}/{prefix}"),
        }
    }

    fn io(&self, message: String) -> StoreError {
        StoreError::Io {
            location: self.location(),
            message,
        }
    }

    /// Names (relative to the store, `/`-separated) of the objects under `dir`, sorted.
    pub async fn list(&self, dir: &str) -> Result<Vec<String>, StoreError> {
        match self {
            Store::Local(root) => {
                let d = root.join(dir);
                let mut out = Vec::new();
                let rd = match fs::read_dir(&d) {
                    Ok(rd) => rd,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
                    Err(e) => return Err(self.io(format!("listing {}: {e}", d.display()))),
                };
                for entry in rd {
                    let entry = entry.map_err(|e| self.io(format!("listing {dir}: {e}")))?;
                    let name = entry.file_name().to_string_lossy().into_owned();
                    // Temporary files of an interrupted write are never objects.
                    if name.starts_with(".tmp-") || !entry.path().is_file() {
                        continue;
                    }
                    out.push(format!("{}/{name}", dir.trim_end_matches('/')));
                }
                out.sort();
                Ok(out)
            }
            Store::S3 {
                client,
                bucket,
                prefix,
            } => {
                let full = format!("{prefix}{}/", dir.trim_end_matches('/'));
                let objs = crate::aws::list_objects(client, bucket, &full)
                    .await
                    .map_err(|e| StoreError::S3 {
                        location: self.location(),
                        message: e.to_string(),
                    })?;
                let mut out: Vec<String> = objs
                    .into_iter()
                    .filter_map(|o| o.key.strip_prefix(prefix.as_str()).map(str::to_string))
                    .collect();
                out.sort();
                Ok(out)
            }
        }
    }

    pub async fn get(&self, name: &str) -> Result<Vec<u8>, StoreError> {
        match self {
            Store::Local(root) => {
                fs::read(root.join(name)).map_err(|e| self.io(format!("reading {name}: {e}")))
            }
            Store::S3 {
                client,
                bucket,
                prefix,
            } => crate::aws::get_object(client, bucket, &format!("{prefix}{name}"))
                .await
                .map(|b| b.to_vec())
                .map_err(|e| StoreError::S3 {
                    location: self.location(),
                    message: e.to_string(),
                }),
        }
    }

    /// Like [`Store::get`], but `None` when the object does not exist (deleted since it was
    /// listed, say).
    pub async fn get_if_exists(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        match self {
            Store::Local(root) => match fs::read(root.join(name)) {
                Ok(b) => Ok(Some(b)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(self.io(format!("reading {name}: {e}"))),
            },
            Store::S3 {
                client,
                bucket,
                prefix,
            } => match crate::aws::get_object(client, bucket, &format!("{prefix}{name}")).await {
                Ok(b) => Ok(Some(b.to_vec())),
                Err(crate::aws::AwsError::Missing { .. }) => Ok(None),
                Err(e) => Err(StoreError::S3 {
                    location: self.location(),
                    message: e.to_string(),
                }),
            },
        }
    }

    /// Removes an object; removing one that does not exist is not an error.
    pub async fn delete(&self, name: &str) -> Result<(), StoreError> {
        match self {
            Store::Local(root) => match fs::remove_file(root.join(name)) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(self.io(format!("deleting {name}: {e}"))),
            },
            Store::S3 {
                client,
                bucket,
                prefix,
            } => {
                let key = format!("{prefix}{name}");
                client
                    .delete_object()
                    .bucket(bucket)
                    .key(&key)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| StoreError::S3 {
                        location: self.location(),
                        message: format!("deleting {key}: {}", DisplayErrorContext(&e)),
                    })
            }
        }
    }

    /// Writes a new object; fails with [`StoreError::Exists`] if `name` is taken.
    pub async fn put_new(&self, name: &str, data: &[u8]) -> Result<(), StoreError> {
        match self {
            Store::Local(root) => {
                let path = root.join(name);
                let dir = path.parent().unwrap_or(root).to_path_buf();
                fs::create_dir_all(&dir).map_err(|e| self.io(format!("creating {name}: {e}")))?;
                let tmp = dir.join(format!(".tmp-{}-{}", std::process::id(), unique_suffix()));
                let write = || -> std::io::Result<()> {
                    let mut f = fs::File::create(&tmp)?;
                    f.write_all(data)?;
                    f.sync_all()
                };
                if let Err(e) = write() {
                    let _ = fs::remove_file(&tmp);
                    return Err(self.io(format!("writing {name}: {e}")));
                }
                let linked = fs::hard_link(&tmp, &path);
                let _ = fs::remove_file(&tmp);
                match linked {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        return Err(StoreError::Exists {
                            location: self.location(),
                            name: name.to_string(),
                        })
                    }
                    Err(e) => return Err(self.io(format!("writing {name}: {e}"))),
                }
                if let Ok(d) = fs::File::open(&dir) {
                    let _ = d.sync_all();
                }
                Ok(())
            }
            Store::S3 {
                client,
                bucket,
                prefix,
            } => {
                let key = format!("{prefix}{name}");
                let r = client
                    .put_object()
                    .bucket(bucket)
                    .key(&key)
                    .if_none_match("*")
                    .body(aws_sdk_s3::primitives::ByteStream::from(data.to_vec()))
                    .send()
                    .await;
                match r {
                    Ok(_) => Ok(()),
                    Err(e) => {
                        let status = e.raw_response().map(|r| r.status().as_u16());
                        if matches!(status, Some(412) | Some(409)) {
                            Err(StoreError::Exists {
                                location: self.location(),
                                name: name.to_string(),
                            })
                        } else {
                            Err(StoreError::S3 {
                                location: self.location(),
                                message: format!("writing {key}: {}", DisplayErrorContext(&e)),
                            })
                        }
                    }
                }
            }
        }
    }
}

/// A name part unique to this process and moment (time in ns, a counter): segments written by
/// two processes or twice in one nanosecond never collide.
pub fn unique_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let ns = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{ns:020}-{:08x}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn local_put_new_never_overwrites_and_lists_only_complete_objects() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::local(dir.path()).unwrap();
        s.put_new("ledger/a.jsonl", b"one\n").await.unwrap();
        assert!(matches!(
            s.put_new("ledger/a.jsonl", b"two\n").await,
            Err(StoreError::Exists { .. })
        ));
        // A temporary file left by a killed writer is not an object.
        fs::write(dir.path().join("ledger/.tmp-1-x"), b"torn").unwrap();
        s.put_new("ledger/b.jsonl", b"three\n").await.unwrap();
        assert_eq!(
            s.list("ledger").await.unwrap(),
            ["ledger/a.jsonl", "ledger/b.jsonl"]
        );
        assert_eq!(s.get("ledger/a.jsonl").await.unwrap(), b"one\n");
        assert!(s.list("nothing").await.unwrap().is_empty());
        s.delete("ledger/a.jsonl").await.unwrap();
        s.delete("ledger/a.jsonl").await.unwrap();
        assert_eq!(s.get_if_exists("ledger/a.jsonl").await.unwrap(), None);
        assert_eq!(
            s.get_if_exists("ledger/b.jsonl").await.unwrap().as_deref(),
            Some(&b"three\n"[..])
        );
        assert_eq!(s.list("ledger").await.unwrap(), ["ledger/b.jsonl"]);
    }

    #[test]
    fn s3_urls() {
        assert_eq!(parse_s3_url("s3://b/p/q"), Some(("b".into(), "p/q".into())));
        assert_eq!(parse_s3_url("s3://b"), Some(("b".into(), "".into())));
        assert_eq!(parse_s3_url("/tmp/x"), None);
    }
}
