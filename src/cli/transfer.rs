//! Shared pieces of the transfer commands: loading `.dvc/ferry.toml` and rendering per-remote
//! tables.
use crate::config::ferry::FerrySettings;
use crate::repo::Repo;

/// Loads `.dvc/ferry.toml`.
pub fn settings(repo: &Repo) -> anyhow::Result<FerrySettings> {
    Ok(FerrySettings::load(&repo.dvc_dir)?)
}

/// Renders rows as a left-aligned text table with a header.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| -> String {
        let padded: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<w$}", w = widths[i]))
            .collect();
        padded.join("  ").trim_end().to_string()
    };
    let mut out = line(header.iter().map(|h| h.to_string()).collect());
    for row in rows {
        out.push('\n');
        out.push_str(&line(row.clone()));
    }
    out
}
