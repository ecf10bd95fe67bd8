//! `ferry completions bash|zsh|fish` and `ferry man`: shell completion scripts and the man page,
//! generated from the same clap definitions as the parser, so they never drift from the real
//! flags.
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
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "ferry", &mut script);
    // `ferry completions bash | head` closes the pipe early: that is not an error.
    match std::io::stdout().lock().write_all(&script) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(Exit::Ok),
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
        for sub in Cli::command().get_subcommands() {
            let entry = format!("ferry\\-{}(1)", sub.get_name().replace('-', "\\-"));
            assert!(section.contains(&entry), "{entry} missing:\n{section}");
        }
    }
}
