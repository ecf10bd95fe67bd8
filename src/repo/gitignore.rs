//! `.gitignore` upkeep for outputs, as `dvc add`/`dvc remove` do it (dvc-format.md §7): one
//! `/<escaped name>` line in the output's parent directory.
use std::io;
use std::path::Path;
use std::process::{Command, Stdio};

/// The line DVC writes for an output named `name`: `/` plus the name with gitignore
/// metacharacters (`\ [ ] ! * # ?`) backslash-escaped.
pub fn entry_for(name: &str) -> String {
    let mut s = String::with_capacity(name.len() + 1);
    s.push('/');
    for ch in name.chars() {
        if matches!(ch, '\\' | '[' | ']' | '!' | '*' | '#' | '?') {
            s.push('\\');
        }
        s.push(ch);
    }
    s
}

/// Makes git ignore `out` (absolute, inside `root`); returns the `.gitignore` it changed, if any.
/// A `.gitignore` that is a symlink (or sits under a symlinked directory) is refused, never
/// appended to through the link.
pub fn ignore(root: &Path, out: &Path) -> anyhow::Result<Option<std::path::PathBuf>> {
    let (Some(parent), Some(name)) = (out.parent(), out.file_name()) else {
        return Ok(None);
    };
    let entry = entry_for(super::safepath::utf8(name)?);
    let file = parent.join(".gitignore");
    super::safepath::check_metadata(root, &file)?;
    let existing = match std::fs::read_to_string(&file) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e.into()),
    };
    if existing.lines().any(|l| l == entry) || git_ignores(root, out) {
        return Ok(None);
    }
    let mut text = existing;
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(&entry);
    text.push('\n');
    super::add::write_atomic(&file, text.as_bytes()).map_err(|e| {
        anyhow::anyhow!(
            "cannot write '{}': {}",
            file.display(),
            crate::error::describe_io(&e)
        )
    })?;
    Ok(Some(file))
}

/// Removes the line for `out` (inside `root`) from its `.gitignore`, deleting the file when it
/// ends up empty; a symlinked `.gitignore` is refused.
pub fn unignore(root: &Path, out: &Path) -> anyhow::Result<()> {
    let (Some(parent), Some(name)) = (out.parent(), out.file_name()) else {
        return Ok(());
    };
    let entry = entry_for(super::safepath::utf8(name)?);
    let file = parent.join(".gitignore");
    super::safepath::check_metadata(root, &file)?;
    let Ok(text) = std::fs::read_to_string(&file) else {
        return Ok(());
    };
    let kept: Vec<&str> = text.lines().filter(|l| *l != entry).collect();
    if kept.len() == text.lines().count() {
        return Ok(());
    }
    if kept.iter().all(|l| l.is_empty()) {
        std::fs::remove_file(&file)?;
    } else {
        super::add::write_atomic(&file, (kept.join("\n") + "\n").as_bytes())?;
    }
    Ok(())
}

/// Whether git already ignores `path` through some other rule.
fn git_ignores(root: &Path, path: &Path) -> bool {
    Command::new("git")
        .current_dir(root)
        .args(["check-ignore", "-q", "--"])
        .arg(path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_like_dvc() {
        assert_eq!(entry_for("we[ir]d*#!.txt"), "/we\\[ir\\]d\\*\\#\\!.txt");
        assert_eq!(entry_for("a b"), "/a b");
    }
}
