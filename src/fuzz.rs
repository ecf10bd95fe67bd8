//! Shared proptest strategies for the parser fuzz tests: arbitrary text, and valid samples with
//! random byte edits (most bugs hide just next to valid input). Kept small (≤ 256 cases, short
//! inputs) so the unit tests stay fast.
use proptest::prelude::*;

/// Cases per parser property.
pub const CASES: u32 = 256;

/// The proptest configuration every parser fuzz test uses.
pub fn config() -> ProptestConfig {
    ProptestConfig {
        cases: CASES,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Arbitrary text up to 300 characters, biased to the characters the formats care about.
pub fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>().prop_map(|s| s.chars().take(300).collect()),
        "[-\\[\\]{}:,'\"#|>&*!?%@` \t\n=a-z0-9.\\\\/]{0,300}",
    ]
}

/// One of `seeds` with up to eight random edits: a byte replaced, inserted or deleted (the
/// result is made UTF-8 lossily, so parsers also see replacement characters).
pub fn mutated(seeds: &'static [&'static str]) -> impl Strategy<Value = String> {
    let edit = (any::<u8>(), any::<prop::sample::Index>(), 0..3u8);
    (
        prop::sample::select(seeds),
        prop::collection::vec(edit, 0..8),
    )
        .prop_map(|(seed, edits)| {
            let mut bytes = seed.as_bytes().to_vec();
            for (byte, at, kind) in edits {
                let i = at.index(bytes.len() + 1);
                match kind {
                    0 if i < bytes.len() => bytes[i] = byte,
                    1 => bytes.insert(i, byte),
                    _ if i < bytes.len() => {
                        bytes.remove(i);
                    }
                    _ => {}
                }
            }
            String::from_utf8_lossy(&bytes).into_owned()
        })
}
