//! `ferry completions bash|zsh|fish` and `ferry man`: shell completion scripts and the man page,
//! generated from the same clap definitions as the parser, so they never drift from the real
//! flags. Where a remote's name is expected (every `NAME` option, `--to`/`--from`, the remote
//! of `remote rename|remove|modify|default`), the scripts ask `ferry remote list --names`, so
//! the names of the repository the shell is in are offered.
use std::io::Write;

use clap::CommandFactory;

use super::{Cli, Ctx};
use crate::error::Exit;

/// The shells Ferry writes completions for.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Shell {
    Bash,
    Zsh,
    Fish,
}

/// Print a shell completion script.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  ferry completions bash > ~/.local/share/bash-completion/completions/ferry
  ferry completions zsh > ~/.zfunc/_ferry        # with `fpath+=~/.zfunc` before compinit
  ferry completions fish > ~/.config/fish/completions/ferry.fish
  source <(ferry completions bash)                # just this shell")]
pub struct Args {
    /// The shell to complete in.
    shell: Shell,
}

/// Writes the script for the chosen shell to stdout.
pub fn run(_ctx: &Ctx, args: Args) -> anyhow::Result<Exit> {
    let shell = match args.shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    let mut cmd = Cli::command();
    let remote_args = mark_remote_args(&mut cmd);
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, "ferry", &mut script);
    let script = with_remote_names(args.shell, &String::from_utf8_lossy(&script), &remote_args);
    // `ferry completions bash | head` closes the pipe early: that is not an error.
    match std::io::stdout().lock().write_all(script.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(Exit::Ok),
    }
}

/// The value name every argument that takes a remote's name gets in the generated scripts.
const REMOTE: &str = "REMOTE";

/// The `remote` subcommands whose first positional is an existing remote.
const NAMES_A_REMOTE: [&str; 4] = ["rename", "remove", "modify", "default"];

/// One argument that takes a remote's name: its subcommand path and its flags (none for the
/// positional of `remote modify` and friends).
#[derive(Debug, Clone, PartialEq)]
struct RemoteArg {
    path: Vec<String>,
    long: Option<String>,
    short: Option<char>,
    /// A positional's help text (how zsh's script names it).
    help: Option<String>,
}

/// Gives every option that takes a remote's name (value name `NAME`) the value name [`REMOTE`]
/// and returns them with the first positional of [`NAMES_A_REMOTE`] (left as it is: changing a
/// positional would move it last).
fn mark_remote_args(cmd: &mut clap::Command) -> Vec<RemoteArg> {
    fn walk(cmd: clap::Command, path: &[String], found: &mut Vec<RemoteArg>) -> clap::Command {
        let parent_is_remote = path.len() == 2 && path[0] == "remote";
        let ids: Vec<(clap::Id, bool, RemoteArg)> = cmd
            .get_arguments()
            .filter(|a| {
                let named = !a.is_positional()
                    && a.get_value_names()
                        .is_some_and(|v| v.iter().any(|n| n.as_str() == "NAME"));
                let positional_remote = parent_is_remote
                    && a.is_positional()
                    && a.get_id().as_str() == "name"
                    && NAMES_A_REMOTE.contains(&path[1].as_str());
                named || positional_remote
            })
            .map(|a| {
                let arg = RemoteArg {
                    path: path.to_vec(),
                    long: a.get_long().map(str::to_string),
                    short: a.get_short(),
                    help: a.get_help().map(|h| h.to_string()),
                };
                (a.get_id().clone(), a.is_positional(), arg)
            })
            .collect();
        let mut cmd = cmd;
        for (id, positional, arg) in ids {
            if !positional {
                cmd = cmd.mut_arg(id, |a| a.value_name(REMOTE));
            }
            found.push(arg);
        }
        let subs: Vec<String> = cmd
            .get_subcommands()
            .map(|s| s.get_name().to_string())
            .collect();
        for sub in subs {
            let mut deeper = path.to_vec();
            deeper.push(sub.clone());
            let mut inner = Vec::new();
            cmd = cmd.mut_subcommand(&sub, |s| walk(s, &deeper, &mut inner));
            found.extend(inner);
        }
        cmd
    }
    let taken = std::mem::replace(cmd, clap::Command::new("ferry"));
    let mut found = Vec::new();
    *cmd = walk(taken, &[], &mut found);
    found
}

/// The clap-generated `script` with remote names completed for `args`: a wrapper function for
/// bash, a completion function in place of `_default` for zsh, extra `complete` lines for fish.
fn with_remote_names(shell: Shell, script: &str, args: &[RemoteArg]) -> String {
    const LIST: &str = "ferry remote list --names 2>/dev/null";
    match shell {
        Shell::Zsh => {
            let helper = format!(
                "\n_ferry_remote_names() {{\n    local -a names\n    names=(${{(f)\"$({LIST})\"}})\n    _describe 'remote' names\n}}\n"
            );
            let mut body = script.replace(
                &format!(":{REMOTE}:_default"),
                &format!(":{REMOTE}:_ferry_remote_names"),
            );
            for help in args
                .iter()
                .filter(|a| a.long.is_none())
                .filter_map(|a| a.help.as_ref())
            {
                body = body.replace(
                    &format!("name -- {help}:_default'"),
                    &format!("name -- {help}:_ferry_remote_names'"),
                );
            }
            // compdef scripts run their last line; the helper goes before it
            match body.rfind("\nif [ \"$funcstack[1]\" = \"_ferry\" ]") {
                Some(at) => format!("{}{helper}{}", &body[..at], &body[at..]),
                None => format!("{body}{helper}"),
            }
        }
        Shell::Fish => {
            let mut out = script.to_string();
            for a in args {
                let condition = match a.path.as_slice() {
                    [sub] => format!("__fish_ferry_using_subcommand {sub}"),
                    [sub, rest @ ..] => format!(
                        "__fish_ferry_using_subcommand {sub}; and __fish_seen_subcommand_from {}",
                        rest.join(" ")
                    ),
                    [] => continue,
                };
                let mut line = format!("complete -c ferry -n \"{condition}\"");
                if let Some(s) = a.short {
                    line.push_str(&format!(" -s {s}"));
                }
                if let Some(l) = &a.long {
                    line.push_str(&format!(" -l {l}"));
                }
                line.push_str(&format!(" -x -a \"({LIST})\"\n"));
                out.push_str(&line);
            }
            out
        }
        Shell::Bash => {
            let mut cases = Vec::new();
            let mut positional = Vec::new();
            for a in args {
                let sub = a.path.join(" ");
                match (&a.long, a.short) {
                    (None, None) => positional.push(format!("\"{sub}\"")),
                    (long, short) => {
                        let flags: Vec<String> = long
                            .iter()
                            .map(|l| format!("\"{sub} --{l}\""))
                            .chain(short.iter().map(|s| format!("\"{sub} -{s}\"")))
                            .collect();
                        cases.push(flags.join("|"));
                    }
                }
            }
            let wrapper = format!(
                r#"
# Remote names come from the repository the shell is in.
_ferry_with_remotes() {{
    local cur="${{COMP_WORDS[COMP_CWORD]}}" prev="${{COMP_WORDS[COMP_CWORD-1]}}"
    local sub="${{COMP_WORDS[1]}}"
    [[ "$sub" == remote ]] && sub="remote ${{COMP_WORDS[2]}}"
    case "$sub $prev" in
        {flags})
            COMPREPLY=($(compgen -W "$({LIST})" -- "$cur"))
            return 0 ;;
    esac
    if [[ "$cur" != -* && $COMP_CWORD -ge 3 ]]; then
        case "$sub" in
            {positional})
                local w given=0
                for w in "${{COMP_WORDS[@]:3:COMP_CWORD-3}}"; do [[ "$w" != -* ]] && given=1; done
                if [[ $given -eq 0 ]]; then
                    COMPREPLY=($(compgen -W "$({LIST})" -- "$cur"))
                    return 0
                fi ;;
        esac
    fi
    _ferry "$@"
}}
"#,
                flags = cases.join("|"),
                positional = positional.join("|"),
            );
            let registered =
                script.replace("complete -F _ferry ", "complete -F _ferry_with_remotes ");
            match registered.rfind("\nif [[ \"${BASH_VERSINFO[0]}\"") {
                Some(at) => format!("{}{wrapper}{}", &registered[..at], &registered[at..]),
                None => format!("{registered}{wrapper}"),
            }
        }
    }
}

/// Print the man page.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  ferry man > ~/.local/share/man/man1/ferry.1 && man ferry
  ferry man | man -l -                            # read it without installing")]
pub struct ManArgs {}

/// Writes `ferry(1)` in roff to stdout.
pub fn run_man(_ctx: &Ctx, _args: ManArgs) -> anyhow::Result<Exit> {
    let mut page = Vec::new();
    clap_mangen::Man::new(Cli::command()).render(&mut page)?;
    match std::io::stdout().lock().write_all(&page) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(Exit::Ok),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    /// Help that teaches: every command and subcommand, `ferry` itself included, ends its
    /// `--help` with examples.
    #[test]
    fn every_command_has_examples() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            let has = cmd
                .get_after_help()
                .is_some_and(|h| h.to_string().contains("Examples:"));
            if !has && cmd.get_name() != "help" {
                missing.push(path.to_string());
            }
            for sub in cmd.get_subcommands() {
                walk(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), "ferry", &mut missing);
        assert!(missing.is_empty(), "no Examples in --help of: {missing:?}");
    }

    #[test]
    fn scripts_name_every_subcommand() {
        for shell in [
            clap_complete::Shell::Bash,
            clap_complete::Shell::Zsh,
            clap_complete::Shell::Fish,
        ] {
            let mut buf = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "ferry", &mut buf);
            let script = String::from_utf8(buf).unwrap();
            for sub in ["pull", "push", "remote", "completions", "usage"] {
                assert!(script.contains(sub), "{shell:?} script lacks {sub}");
            }
        }
    }

    #[test]
    fn the_man_page_names_every_subcommand() {
        let mut page = Vec::new();
        clap_mangen::Man::new(Cli::command())
            .render(&mut page)
            .unwrap();
        let page = String::from_utf8(page).unwrap();
        assert!(page.contains(".TH ferry 1"), "not a section-1 roff page");
        let section = page
            .split(".SH SUBCOMMANDS")
            .nth(1)
            .and_then(|rest| rest.split(".SH ").next())
            .unwrap_or_default()
            .to_string();
        // hidden commands (`repro`, which only points to dvc) are not documented
        for sub in Cli::command()
            .get_subcommands()
            .filter(|s| !s.is_hide_set())
        {
            let entry = format!("ferry\\-{}(1)", sub.get_name().replace('-', "\\-"));
            assert!(section.contains(&entry), "{entry} missing:\n{section}");
        }
    }
}
