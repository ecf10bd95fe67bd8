//! `ferry remote add|list|rename|remove|modify|default`: the arguments, the DagsHub token
//! prompt and `remote list`'s rich-compatible rendering; the edits themselves (presets, which
//! file each key goes to) are in [`crate::ops::remote`].
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use super::Ctx;
use crate::config::Level;
use crate::config::edit::Levels;
use crate::config::ferry::{self, FerryFile};
use crate::error::{Exit, UserError};
use crate::ops::remote as ops;

/// Set up and manage data remotes.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  ferry remote add -d storage s3://my-bucket/dvcstore
  ferry remote add backblaze b2://my-bucket/dvcstore --region us-west-004
  ferry remote add dagshub dagshub://alice/proj --token-env DAGSHUB_TOKEN
  ferry remote list -v
  ferry remote modify --local storage secret_access_key '…'
  ferry remote modify backblaze daily_download_limit 1GB   # goes to .dvc/ferry.toml")]
pub struct Args {
    #[command(subcommand)]
    cmd: Sub,
}

/// Which config file to read or write; the default is `.dvc/config` for writes and the merge
/// of all levels for reads, as in DVC.
#[derive(Debug, Clone, Copy, clap::Args)]
#[group(id = "level", multiple = false)]
struct LevelArgs {
    /// Use the system config file (DVC_SYSTEM_CONFIG_DIR, /etc/xdg/dvc/config).
    #[arg(long)]
    system: bool,
    /// Use the user's global config file (DVC_GLOBAL_CONFIG_DIR, ~/.config/dvc/config).
    #[arg(long)]
    global: bool,
    /// Use the repository's git-ignored .dvc/config.local (the place for secrets).
    #[arg(long)]
    local: bool,
}

impl LevelArgs {
    fn chosen(self) -> Option<Level> {
        if self.system {
            Some(Level::System)
        } else if self.global {
            Some(Level::Global)
        } else if self.local {
            Some(Level::Local)
        } else {
            None
        }
    }

    fn write_level(self) -> Level {
        self.chosen().unwrap_or(Level::Repo)
    }
}

#[derive(Debug, clap::Subcommand)]
enum Sub {
    /// Add a new data remote.
    #[command(after_help = "Examples:
  ferry remote add -d storage s3://my-bucket/dvcstore
  ferry remote add local-copy ../dvc-storage       # relative to this directory
  ferry remote add backblaze b2://my-bucket/dvcstore --region us-west-004
  ferry remote add dagshub dagshub://alice/proj --token-env DAGSHUB_TOKEN
  ferry remote add dagshub dagshub://alice/proj --s3 --token-env DAGSHUB_TOKEN   # can list

b2:// writes B2's free tier (1GB, 2500 GET/HEAD, 2500 LIST a day) to .dvc/ferry.toml as the
remote's daily limits unless --no-free-tier is given.")]
    Add(AddArgs),
    /// List all available data remotes (-v: with their options and Ferry settings).
    #[command(after_help = "Examples:
  ferry remote list
  ferry remote list -v        # options (secrets hidden), Ferry settings, where each is set
  ferry remote list --json    # for scripts (docs/json.md)
  ferry remote list --local")]
    List(ListArgs),
    /// Rename a remote at every config level, so no section is left behind.
    #[command(after_help = "Examples:
  ferry remote rename myremote backblaze")]
    Rename(RenameArgs),
    /// Remove a data remote.
    #[command(after_help = "Examples:
  ferry remote remove old-storage
  ferry remote remove --global shared")]
    Remove(RemoveArgs),
    /// Modify the configuration of a data remote (Ferry settings go to .dvc/ferry.toml).
    #[command(after_help = "Examples:
  ferry remote modify storage endpointurl https://s3.example.com
  ferry remote modify --local dagshub password '…'        # secrets: always --local
  ferry remote modify backblaze daily_download_limit 1GB  # Ferry setting
  ferry remote modify backblaze budget_reset Europe/Berlin
  ferry remote modify --unset storage region

Ferry settings (.dvc/ferry.toml): daily_download_limit, daily_request_limit (GET/HEAD),
daily_list_limit (LIST), budget_reset.
Everything else is a DVC option, checked against the remote's URL type as DVC does.")]
    Modify(ModifyArgs),
    /// Set/unset the default data remote (without NAME: print it).
    #[command(after_help = "Examples:
  ferry remote default             # print the default remote
  ferry remote default backblaze
  ferry remote default --unset")]
    Default(DefaultArgs),
    /// Show each remote's downloads today against its daily limits, and when they reset.
    #[command(after_help = "Examples:
  ferry remote usage
  ferry remote usage --json")]
    Usage(super::usage::Args),
}

#[derive(Debug, clap::Args)]
struct AddArgs {
    /// Name of the remote (lowercased, as DVC does).
    name: String,
    /// Remote location: a path, s3://, https://, …, or the presets b2://BUCKET/PATH and
    /// dagshub://USER/REPO.
    url: String,
    /// Set as default remote.
    #[arg(short, long)]
    default: bool,
    /// Force overwriting existing configs.
    #[arg(short, long)]
    force: bool,
    /// b2:// only: the bucket's region, e.g. us-west-004 (from s3.<region>.backblazeb2.com).
    #[arg(long, value_name = "REGION")]
    region: Option<String>,
    /// dagshub:// only: read the access token from this environment variable.
    #[arg(long, value_name = "VAR")]
    token_env: Option<String>,
    /// dagshub:// only: the DagsHub user the token belongs to (default: the repo owner).
    #[arg(long, value_name = "USER")]
    user: Option<String>,
    /// dagshub:// only: use DagsHub's S3 endpoint (s3://dvc at https://dagshub.com/USER/REPO.s3,
    /// the token as both keys), which can list, instead of its DVC HTTP endpoint.
    #[arg(long)]
    s3: bool,
    /// b2:// only: set no daily limits (by default B2's free tier: 1GB, 2500 Class B and
    /// 2500 Class C calls a day, in .dvc/ferry.toml).
    #[arg(long)]
    no_free_tier: bool,
    #[command(flatten)]
    level: LevelArgs,
}

#[derive(Debug, clap::Args)]
struct ListArgs {
    #[command(flatten)]
    level: LevelArgs,
    /// Only the names, one a line (what shell completion reads).
    #[arg(long, conflicts_with = "json")]
    names: bool,
    /// A JSON report (docs/json.md): each remote's name, URL (credentials hidden), whether it
    /// is the default and, with -v, its values and where each comes from.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
struct RenameArgs {
    /// Remote to be renamed.
    name: String,
    /// New name of the remote.
    new: String,
    #[command(flatten)]
    level: LevelArgs,
}

#[derive(Debug, clap::Args)]
struct RemoveArgs {
    /// Name of the remote to remove.
    name: String,
    #[command(flatten)]
    level: LevelArgs,
}

#[derive(Debug, clap::Args)]
struct ModifyArgs {
    /// Name of the remote.
    name: String,
    /// Name of the option to modify.
    option: String,
    /// Value of the option (omit with --unset).
    #[arg(required_unless_present = "unset")]
    value: Option<String>,
    /// Unset option.
    #[arg(short, long)]
    unset: bool,
    #[command(flatten)]
    level: LevelArgs,
}

#[derive(Debug, clap::Args)]
struct DefaultArgs {
    /// Name of the remote.
    name: Option<String>,
    /// Unset default remote.
    #[arg(short, long, conflicts_with = "name")]
    unset: bool,
    #[command(flatten)]
    level: LevelArgs,
}

/// Runs a `ferry remote` subcommand: resolves its arguments and calls the operation.
pub fn run(ctx: &Ctx, args: Args) -> anyhow::Result<Exit> {
    let dvc_dir = find_dvc_dir(&ctx.cwd);
    let levels = Levels::new(dvc_dir.clone());
    let dvc = dvc_dir.as_deref();
    let out = &ctx.out;
    match args.cmd {
        Sub::Add(a) => {
            let token_env = a.token_env.clone();
            let add = ops::Add {
                name: a.name,
                url: a.url,
                level: a.level.write_level(),
                default: a.default,
                force: a.force,
                region: a.region,
                user: a.user,
                token_env: token_env.is_some(),
                no_free_tier: a.no_free_tier,
                s3: a.s3,
            };
            let token = |user: &str| dagshub_token(token_env.as_deref(), user);
            ops::add(out, &levels, &ctx.cwd, add, &token)
        }
        Sub::List(a) => list(ctx, &levels, dvc, a),
        Sub::Rename(a) => ops::rename(out, &levels, dvc, &a.name, &a.new, a.level.write_level()),
        Sub::Remove(a) => ops::remove(out, &levels, dvc, &a.name, a.level.write_level()),
        Sub::Modify(a) => {
            let modify = ops::Modify {
                name: a.name,
                option: a.option,
                value: if a.unset { None } else { a.value },
                level: a.level.chosen(),
            };
            ops::modify(out, &levels, dvc, modify)
        }
        Sub::Default(a) => ops::default(out, &levels, a.name.as_deref(), a.unset, a.level.chosen()),
        Sub::Usage(a) => super::usage::run(ctx, a),
    }
}

/// The nearest `.dvc` directory at or above `start` (None outside a repository).
fn find_dvc_dir(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .map(|d| d.join(".dvc"))
        .find(|d| d.is_dir())
}

/// The DagsHub token: from `--token-env`, else asked on a terminal without echo, else none.
fn dagshub_token(env: Option<&str>, user: &str) -> anyhow::Result<Option<String>> {
    if let Some(var) = env {
        return match std::env::var(var) {
            Ok(t) if !t.is_empty() => Ok(Some(t)),
            _ => Err(UserError::config(format!("environment variable {var} is not set"))
                .with_hint(format!("export {var}=<your DagsHub access token>, or leave out --token-env to be asked"))
                .into()),
        };
    }
    if std::io::stdin().is_terminal() && std::io::stderr().is_terminal() {
        let term = console::Term::stderr();
        term.write_str(&format!(
            "DagsHub access token for '{user}' (input hidden): "
        ))?;
        let token = term.read_secure_line()?;
        return Ok((!token.is_empty()).then_some(token));
    }
    Ok(None)
}

fn list(ctx: &Ctx, levels: &Levels, dvc_dir: Option<&Path>, a: ListArgs) -> anyhow::Result<Exit> {
    let doc = levels.read(a.level.chosen())?;
    let default = doc.get("core", "remote");
    let ferry_file = match dvc_dir {
        Some(dir) if ctx.verbose > 0 => {
            // Refuses a broken file (or one holding secrets) before showing anything from it.
            ferry::FerrySettings::load(dir)?;
            Some(FerryFile::open(dir)?)
        }
        _ => None,
    };
    let all_names: Vec<String> = doc.remotes().keys().cloned().collect();
    let root = dvc_dir.and_then(Path::parent).map(Path::to_path_buf);
    let shown = |p: &Path| {
        root.as_deref()
            .and_then(|r| p.strip_prefix(r).ok())
            .unwrap_or(p)
            .display()
            .to_string()
    };
    let values = |name: &str| {
        crate::ops::config::remote_values(
            levels,
            dvc_dir,
            name,
            &all_names,
            std::env::vars(),
            shown,
        )
    };
    if a.names {
        for name in &all_names {
            ctx.out.line(name);
        }
        return Ok(Exit::Ok);
    }
    if a.json {
        let remotes: Vec<serde_json::Value> = doc
            .remotes()
            .iter()
            .map(|(name, section)| {
                let mut r = serde_json::json!({
                    "name": name,
                    "url": section.get("url").map(|v| crate::remote::display_url(v.as_str())),
                    "default": Some(name.as_str()) == default,
                });
                if ferry_file.is_some() {
                    r["values"] = serde_json::to_value(values(name)).unwrap_or_default();
                }
                r
            })
            .collect();
        ctx.out.line(&crate::ui::json::report(
            &serde_json::json!({ "remotes": remotes }),
        )?);
        return Ok(Exit::Ok);
    }
    let mut text = String::new();
    for (name, section) in doc.remotes() {
        // Credentials and query strings inside the URL are never shown (the only place dvc's
        // bytes differ).
        let url = match section.get("url") {
            Some(v) => crate::remote::display_url(v.as_str()),
            // dvc crashes here; this level only holds options (e.g. secrets) of the remote.
            None => "(no url at this level)".to_string(),
        };
        let line = if Some(name.as_str()) == default {
            format!("{name}\t{url}\t(default)")
        } else {
            format!("{name}\t{url}")
        };
        let rendered = render_line(&line, console_width());
        if Some(name.as_str()) == default && ctx.out.is_tty() {
            // dvc shows the default remote in green on a terminal.
            let body = rendered.trim_end_matches('\n');
            text.push_str(&format!("{}\n", console::style(body).green()));
        } else {
            text.push_str(&rendered);
        }
        if ferry_file.is_some() {
            for v in values(name) {
                text.push_str(&format!("    {} = {}    ({})\n", v.key, v.value, v.origin));
            }
        }
    }
    ctx.out.raw(&text);
    Ok(Exit::Ok)
}

/// The width rich (DVC's console library) wraps to: `COLUMNS`, else the size of the first
/// terminal among stdin, stdout and stderr, else 80.
fn console_width() -> usize {
    if let Some(cols) = std::env::var("COLUMNS")
        .ok()
        .filter(|c| !c.is_empty() && c.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|c| c.parse().ok())
    {
        return cols;
    }
    let size = terminal_size::terminal_size_of(std::io::stdin())
        .or_else(|| terminal_size::terminal_size_of(std::io::stdout()))
        .or_else(|| terminal_size::terminal_size_of(std::io::stderr()));
    match size {
        Some((terminal_size::Width(w), _)) if w > 0 => w as usize,
        _ => 80,
    }
}

/// One line as rich prints it: TABs expanded to 8-column stops, then wrapped at `width`
/// (words moved to the next line, over-long words folded), each piece ending in `\n`.
fn render_line(line: &str, width: usize) -> String {
    let mut expanded = String::new();
    for c in line.chars() {
        if c == '\t' {
            let pad = 8 - expanded.chars().count() % 8;
            expanded.extend(std::iter::repeat_n(' ', pad));
        } else {
            expanded.push(c);
        }
    }
    let chars: Vec<char> = expanded.chars().collect();
    let breaks = divide_line(&chars, width.max(1));
    let mut out = String::new();
    let mut start = 0;
    for b in breaks.into_iter().chain(std::iter::once(chars.len())) {
        let piece: String = chars[start..b].iter().collect();
        // rich drops trailing spaces that would pass the width.
        let piece = if piece.chars().count() > width {
            piece.trim_end().to_string()
        } else {
            piece
        };
        out.push_str(&piece);
        out.push('\n');
        start = b;
    }
    out
}

/// rich's `divide_line` (rich/_wrap.py) with folding, measuring one cell per character.
fn divide_line(chars: &[char], width: usize) -> Vec<usize> {
    let mut breaks = Vec::new();
    let mut offset = 0usize;
    let mut pos = 0usize;
    while pos < chars.len() {
        // A word: leading spaces, non-spaces, trailing spaces.
        let start = pos;
        let mut i = pos;
        while i < chars.len() && chars[i].is_whitespace() {
            i += 1;
        }
        if i == chars.len() {
            break;
        }
        while i < chars.len() && !chars[i].is_whitespace() {
            i += 1;
        }
        let stripped_end = i;
        while i < chars.len() && chars[i].is_whitespace() {
            i += 1;
        }
        let word_len = stripped_end - start;
        let full_len = i - start;
        pos = i;
        if width.saturating_sub(offset) >= word_len {
            offset += full_len;
        } else if word_len > width {
            let mut s = start;
            let mut remaining = full_len;
            loop {
                if s != 0 {
                    breaks.push(s);
                }
                if remaining <= width {
                    offset = remaining;
                    break;
                }
                s += width;
                remaining -= width;
            }
        } else if offset > 0 && start > 0 {
            breaks.push(start);
            offset = full_len;
        }
    }
    breaks
}

#[cfg(test)]
mod tests {
    use super::render_line;

    #[test]
    fn passwords_in_urls_are_found() {
        use crate::config::url_has_password;
        assert!(url_has_password("https://u:p@h.org/x"));
        assert!(url_has_password("s3://KEY:SECRET@bucket/x"));
        assert!(!url_has_password("https://u@h.org/x:y@z"));
        assert!(!url_has_password("s3://b/p"));
        assert!(!url_has_password("/tmp/a:b@c"));
    }

    #[test]
    fn list_lines_match_rich() {
        // Observed `dvc remote list | od -c` with an 80-column console.
        assert_eq!(
            render_line("a\t/tmp/x\t(default)", 80),
            "a       /tmp/x  (default)\n"
        );
        let long = format!("https://example.com/{}", "x".repeat(100));
        let expected = format!("h       \n{}\n{}\n", &long[..80], &long[80..]);
        assert_eq!(render_line(&format!("h\t{long}"), 80), expected);
        assert_eq!(
            render_line("origin\thttps://dagshub.com/alice/proj.dvc\t(default)", 80),
            "origin  https://dagshub.com/alice/proj.dvc      (default)\n"
        );
    }
}
