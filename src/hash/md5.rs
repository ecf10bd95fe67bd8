//! MD5, through AWS-LC's assembly implementation (the `aws-lc-sys` crate rustls already links).
//!
//! Every byte Ferry adds, checks, pulls or pushes goes through MD5, so its speed per core bounds
//! big files: on the reference VM AWS-LC hashes 770 MB/s per core, the `md-5` crate 590 MB/s
//! (with its `asm` feature) to 620 MB/s, so a 1 GiB pull or add spends 1.4 CPU-s instead of 1.8.
//! This is the crate's one use of `unsafe`: three C calls on a context it owns.

/// A running MD5 (AWS-LC's `MD5_CTX`).
#[derive(Clone)]
pub struct Md5 {
    ctx: aws_lc_sys::MD5_CTX,
}

impl Md5 {
    /// A fresh hash.
    pub fn new() -> Self {
        let mut ctx = aws_lc_sys::MD5_CTX {
            h: [0; 4],
            Nl: 0,
            Nh: 0,
            data: [0; 64],
            num: 0,
        };
        // SAFETY: `ctx` is a valid, exclusively borrowed MD5_CTX; MD5_Init only writes to it.
        unsafe {
            aws_lc_sys::MD5_Init(&mut ctx);
        }
        Self { ctx }
    }

    /// Feeds `bytes` to the hash.
    pub fn update(&mut self, bytes: impl AsRef<[u8]>) {
        let bytes = bytes.as_ref();
        // SAFETY: the context was initialised by `new`; `bytes` is valid for `bytes.len()` bytes
        // for the duration of the call, and MD5_Update reads only those and the context.
        unsafe {
            aws_lc_sys::MD5_Update(&mut self.ctx, bytes.as_ptr().cast(), bytes.len());
        }
    }

    /// The digest of everything fed so far.
    pub fn finalize(mut self) -> [u8; 16] {
        let mut out = [0u8; 16];
        // SAFETY: `out` holds the 16 bytes MD5_Final writes; the context was initialised by `new`.
        unsafe {
            aws_lc_sys::MD5_Final(out.as_mut_ptr(), &mut self.ctx);
        }
        out
    }

    /// The digest of everything fed so far; the hash starts afresh.
    pub fn finalize_reset(&mut self) -> [u8; 16] {
        std::mem::take(self).finalize()
    }

    /// The digest of `bytes`.
    pub fn digest(bytes: impl AsRef<[u8]>) -> [u8; 16] {
        let mut md5 = Self::new();
        md5.update(bytes);
        md5.finalize()
    }
}

impl Default for Md5 {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::Md5;

    #[test]
    fn known_digests_whole_and_in_pieces() {
        // RFC 1321's test suite
        let cases: [(&[u8], &str); 3] = [
            (b"", "d41d8cd98f00b204e9800998ecf8427e"),
            (b"abc", "900150983cd24fb0d6963f7d28e17f72"),
            (
                b"12345678901234567890123456789012345678901234567890123456789012345678901234567890",
                "57edf4a22be3c955ac49da2e2107b67a",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(hex::encode(Md5::digest(input)), want);
            let mut pieces = Md5::new();
            for chunk in input.chunks(7) {
                pieces.update(chunk);
            }
            let copy = pieces.clone();
            assert_eq!(hex::encode(pieces.finalize()), want);
            assert_eq!(
                hex::encode(copy.finalize()),
                want,
                "a clone carries the state"
            );
        }
    }
}
