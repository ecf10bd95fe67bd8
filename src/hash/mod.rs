//! Content hashing as DVC does it: plain MD5 for DVC 3 outputs, the `md5-dos2unix` rule for
//! legacy 2.x outputs, and a state cache so unchanged files are never read twice.
pub mod state;

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

pub mod md5;

use md5::Md5;

/// Read size for hashing: DVC reads 1 MiB chunks, and the legacy text rule is defined per chunk.
const CHUNK: usize = 1 << 20;

/// The hash of an object: its md5 (with `.dir` for directory manifests) and whether it is a
/// legacy 2.x hash (no `hash:` key, `md5-dos2unix`, root cache layout).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HashInfo {
    /// 32 lowercase hex digits, plus `.dir` for a directory manifest.
    pub md5: String,
    /// `true` for a legacy (`md5-dos2unix`) hash.
    pub legacy: bool,
}

impl HashInfo {
    /// The object as one string telling the two kinds apart (`legacy:` before a legacy md5),
    /// for records and maps keyed by object.
    pub fn tagged(&self) -> String {
        if self.legacy {
            format!("legacy:{}", self.md5)
        } else {
            self.md5.clone()
        }
    }

    /// A DVC 3 hash.
    pub fn md5(md5: impl Into<String>) -> Self {
        Self {
            md5: md5.into(),
            legacy: false,
        }
    }

    /// Whether this names a `.dir` manifest.
    pub fn is_dir(&self) -> bool {
        self.md5.ends_with(".dir")
    }

    /// The name DVC prints before the value (`md5: …` or `md5-dos2unix: …`).
    pub fn name(&self) -> &'static str {
        if self.legacy { "md5-dos2unix" } else { "md5" }
    }

    /// Whether the value looks like an md5 DVC could have written (32 hex digits, optional `.dir`).
    pub fn is_valid(&self) -> bool {
        let hex = self.md5.strip_suffix(".dir").unwrap_or(&self.md5);
        hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit())
    }
}

impl std::fmt::Display for HashInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.name(), self.md5)
    }
}

/// Lowercase hex of a finished digest.
pub fn hex_digest(md5: Md5) -> String {
    hex::encode(md5.finalize())
}

/// MD5 of raw bytes, as hex.
pub fn md5_bytes(bytes: &[u8]) -> String {
    hex::encode(Md5::digest(bytes))
}

thread_local! {
    /// One read buffer per hashing thread: allocating (and zeroing) 1 MiB per file would cost
    /// more than hashing a small file.
    static BUF: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0u8; CHUNK]);
}

/// Plain MD5 of a file's bytes and its size (DVC 3 `hash: md5`).
pub fn file_md5(path: &Path) -> io::Result<(String, u64)> {
    hash_file(path, false)
}

/// MD5 under DVC 3's `md5-dos2unix` rule, for legacy outputs: each 1 MiB chunk whose first
/// 512 bytes look like text has its `\r\n` turned into `\n` before hashing.
pub fn file_md5_dos2unix(path: &Path) -> io::Result<(String, u64)> {
    hash_file(path, true)
}

/// An md5 fed chunk by chunk under either rule; for `md5-dos2unix` every chunk but the last
/// must be exactly 1 MiB (the rule is defined per 1 MiB read, as [`file_md5_dos2unix`] reads).
pub struct ChunkHasher {
    md5: Md5,
    dos2unix_text: bool,
}

/// The size of the chunks [`ChunkHasher`] expects under the `md5-dos2unix` rule.
pub const HASH_CHUNK: usize = CHUNK;

impl ChunkHasher {
    /// A hasher for a plain (`legacy == false`) or `md5-dos2unix` hash.
    pub fn new(legacy: bool) -> Self {
        Self {
            md5: Md5::new(),
            dos2unix_text: legacy,
        }
    }

    /// Feeds one chunk (see the type's docs for its size).
    pub fn update(&mut self, chunk: &[u8]) {
        if self.dos2unix_text && is_text_block(&chunk[..chunk.len().min(512)]) {
            self.md5.update(dos2unix(chunk));
        } else {
            self.md5.update(chunk);
        }
    }

    /// The md5 as lowercase hex.
    pub fn finish(self) -> String {
        hex_digest(self.md5)
    }
}

/// The md5 of bytes held in memory under either rule (what [`file_md5`] or
/// [`file_md5_dos2unix`] would say of a file holding them).
pub fn md5_of(bytes: &[u8], legacy: bool) -> String {
    if !legacy {
        return md5_bytes(bytes);
    }
    let mut h = ChunkHasher::new(true);
    for chunk in bytes.chunks(CHUNK) {
        h.update(chunk);
    }
    h.finish()
}

fn hash_file(path: &Path, dos2unix_text: bool) -> io::Result<(String, u64)> {
    let mut file = File::open(path)?;
    let mut hasher = Md5::new();
    let mut size = 0u64;
    BUF.with_borrow_mut(|buf| -> io::Result<()> {
        loop {
            let n = read_full(&mut file, buf)?;
            if n == 0 {
                return Ok(());
            }
            size += n as u64;
            let chunk = &buf[..n];
            if dos2unix_text && is_text_block(&chunk[..n.min(512)]) {
                hasher.update(dos2unix(chunk));
            } else {
                hasher.update(chunk);
            }
        }
    })?;
    Ok((hex_digest(hasher), size))
}

/// DVC's `istextblock`: empty is text, any NUL is binary, otherwise binary when more than 30%
/// of the bytes are outside printable ASCII and `\n\r\t\f\b`.
fn is_text_block(block: &[u8]) -> bool {
    if block.is_empty() {
        return true;
    }
    if block.contains(&0) {
        return false;
    }
    let non_text = block
        .iter()
        .filter(|&&b| !((32..127).contains(&b) || matches!(b, b'\n' | b'\r' | b'\t' | 0x0c | 0x08)))
        .count();
    non_text * 10 <= block.len() * 3
}

fn dos2unix(chunk: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(chunk.len());
    let mut i = 0;
    while i < chunk.len() {
        if chunk[i] == b'\r' && chunk.get(i + 1) == Some(&b'\n') {
            i += 1;
            continue;
        }
        out.push(chunk[i]);
        i += 1;
    }
    out
}

fn read_full(file: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_crlf_hash_matches_dvc_2x() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("crlf.txt");
        std::fs::write(&p, b"line1\r\nline2\r\n").unwrap();
        assert_eq!(
            file_md5_dos2unix(&p).unwrap(),
            ("4fcc82a88ee38e0aa16c17f512c685c9".into(), 14)
        );
        assert_eq!(file_md5(&p).unwrap().0, "c6242222cf6ccdb15a43e0e5b1a08810");
    }

    #[test]
    fn bytes_in_memory_hash_like_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("crlf.txt");
        let mut text = b"line1\r\nline2\r\n".repeat(100_000);
        text.extend_from_slice(b"\0\r\n");
        std::fs::write(&p, &text).unwrap();
        assert_eq!(md5_of(&text, true), file_md5_dos2unix(&p).unwrap().0);
        assert_eq!(md5_of(&text, false), file_md5(&p).unwrap().0);
    }

    #[test]
    fn binary_is_not_converted() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bin");
        std::fs::write(&p, b"a\0\r\n").unwrap();
        assert_eq!(file_md5_dos2unix(&p).unwrap(), file_md5(&p).unwrap());
    }
}
