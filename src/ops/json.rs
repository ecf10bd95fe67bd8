//! How the leaf types that operations' reports carry appear in `--json`: `serde::Serialize`
//! for hashes, remote errors and budgets, written here so the modules that own those types stay
//! free of report concerns (the reports themselves derive `Serialize`).
use serde::ser::{Serialize, SerializeStruct, Serializer};

use crate::budget::Remaining;
use crate::hash::HashInfo;
use crate::remote::{ErrorKind, RemoteError};

impl Serialize for HashInfo {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.md5)
    }
}

impl Serialize for ErrorKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(match self {
            ErrorKind::NotFound => "not_found",
            ErrorKind::Quota => "quota",
            ErrorKind::Throttled => "throttled",
            ErrorKind::Auth => "auth",
            ErrorKind::Transient => "transient",
            ErrorKind::Corrupt => "corrupt",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::OverBudget => "over_budget",
            ErrorKind::Permanent => "permanent",
        })
    }
}

impl Serialize for RemoteError {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("RemoteError", 4)?;
        st.serialize_field("kind", &self.kind)?;
        st.serialize_field("remote", &self.remote)?;
        st.serialize_field("key", &self.key)?;
        st.serialize_field("message", &self.message)?;
        st.end()
    }
}

impl Serialize for Remaining {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Remaining", 4)?;
        st.serialize_field("bytes", &self.bytes)?;
        st.serialize_field("requests", &self.requests)?;
        st.serialize_field("lists", &self.lists)?;
        st.serialize_field("capped", &self.capped)?;
        st.end()
    }
}

#[cfg(test)]
mod tests {
    use crate::remote::{ErrorKind, RemoteError};

    #[test]
    fn a_remote_error_shows_its_kind_and_message() {
        let e = RemoteError::new(ErrorKind::Quota, "b2", "cap reached").with_key("files/md5/ab/c");
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"kind":"quota","remote":"b2","key":"files/md5/ab/c","message":"cap reached"}"#
        );
    }
}
