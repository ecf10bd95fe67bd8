//! The README's first command, `scripts/demo`, run end to end with the binary under test: the
//! pull must really fall back (Backblaze's budget runs out, DagsHub serves the rest), Bob's
//! workspace must end up byte-identical to Alice's, and the user's own state must be untouched.
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{run, text};

/// The budget day the demo runs on, so its budget never resets half-way whatever the date.
const DEMO_DAY: &str = "2026-11-27T15:00:00Z";

fn demo(play_env: &Path) -> Command {
    let mut cmd = Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/demo"));
    cmd.env("FERRY", assert_cmd::cargo::cargo_bin("ferry"))
        // The demo must use its own ledger and config, whatever the caller's environment says.
        .env("FERRY_STATE_DIR", play_env.join("user-state"))
        .env("XDG_STATE_HOME", play_env.join("user-xdg-state"))
        .env("HOME", play_env.join("home"))
        .env("TMPDIR", play_env.join("tmp"))
        .env("FERRY_NOW", DEMO_DAY)
        .env_remove("FERRY_LOG");
    std::fs::create_dir_all(play_env.join("tmp")).unwrap();
    std::fs::create_dir_all(play_env.join("home")).unwrap();
    cmd
}

/// Every file under `dir`, relative, sorted.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path.strip_prefix(dir).unwrap().to_path_buf());
            }
        }
    }
    out.sort();
    out
}

/// The cells of `remote`'s row in the table printed right after `bob$ ferry pull` (or
/// `bob$ ferry pull --dry-run` with `step` = `"pull --dry-run"`).
fn row<'a>(stdout: &'a str, step: &str, remote: &str) -> Vec<&'a str> {
    let after = stdout
        .split(&format!("bob$ ferry {step}\n"))
        .nth(1)
        .unwrap_or_else(|| panic!("no `ferry {step}` step in:\n{stdout}"));
    after
        .lines()
        .take_while(|l| !l.is_empty())
        .find(|l| l.split_whitespace().next() == Some(remote))
        .unwrap_or_else(|| panic!("no row for {remote} in the pull summary:\n{after}"))
        .split_whitespace()
        .collect()
}

#[test]
fn the_pull_falls_back_and_bob_gets_every_byte() {
    let env = tempfile::tempdir().unwrap();
    let play = env.path().join("play");
    let out = run(demo(env.path()).arg("--keep").arg(&play));
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "demo failed ({}):\n{stdout}\n{}",
        out.status,
        text(&out.stderr)
    );

    // The summary has one row per remote and both served objects.
    let backblaze = row(&stdout, "pull", "backblaze");
    let dagshub = row(&stdout, "pull", "dagshub");
    let served = |row: &[&str]| row[1].parse::<u32>().unwrap();
    // The dry run already showed the split, before a byte was downloaded.
    let planned = row(&stdout, "pull --dry-run", "dagshub");
    assert!(
        served(&planned) > 0,
        "the plan sends nothing to dagshub: {planned:?}"
    );
    assert!(served(&row(&stdout, "pull --dry-run", "backblaze")) > 0);
    assert!(
        served(&backblaze) > 0,
        "backblaze served nothing: {backblaze:?}"
    );
    assert!(served(&dagshub) > 0, "dagshub served nothing: {dagshub:?}");
    assert!(
        backblaze.join(" ").contains("over budget"),
        "the fallback reason is not shown: {backblaze:?}"
    );
    // 24 images + model + the directory's manifest.
    assert_eq!(served(&backblaze) + served(&dagshub), 26);
    // The plan is what the pull then did, remote by remote (objects and bytes).
    for remote in ["backblaze", "dagshub"] {
        let plan = row(&stdout, "pull --dry-run", remote);
        let done = row(&stdout, "pull", remote);
        assert_eq!(plan[1..3], done[1..3], "plan {plan:?} vs pull {done:?}");
    }

    // Bob's workspace is Alice's, byte for byte.
    for dir in ["data/images", "models"] {
        let alice = play.join("alice").join(dir);
        let bob = play.join("bob").join(dir);
        let names = files(&alice);
        assert_eq!(names, files(&bob), "{dir} differs");
        assert!(!names.is_empty());
        for name in names {
            assert_eq!(
                std::fs::read(alice.join(&name)).unwrap(),
                std::fs::read(bob.join(&name)).unwrap(),
                "{dir}/{} differs",
                name.display()
            );
        }
    }
    assert_eq!(files(&play.join("bob/data/images")).len(), 24);
    assert!(stdout.contains("Data and pipelines are up to date."));
    // Backblaze served up to its 3 MB limit and no further: what is left is less than one
    // 200 kB image, so the rest had to come from DagsHub.
    let usage = common::ok(
        Command::new(assert_cmd::cargo::cargo_bin("ferry"))
            .current_dir(play.join("bob"))
            .env("FERRY_STATE_DIR", play.join("state"))
            .env("FERRY_NOW", DEMO_DAY)
            .args(["remote", "usage", "--json"]),
    );
    let usage: serde_json::Value = serde_json::from_str(&usage).unwrap();
    let usage = &usage["remotes"];
    assert_eq!(usage[0]["name"], "backblaze");
    assert_eq!(usage[0]["bytes_limit"], 3_000_000);
    let used = usage[0]["bytes"].as_u64().unwrap();
    assert!(
        used <= 3_000_000 && used > 3_000_000 - 200_000,
        "backblaze served {used} bytes"
    );
    assert!(stdout.contains(" of 3.0 MB  "), "no usage bar: {stdout}");

    // Both remotes hold everything, and doctor shows Backblaze's budget for today.
    assert!(
        stdout.contains("Every object is on at least 2 remotes."),
        "{stdout}"
    );
    let doctor = stdout.split("bob$ ferry doctor\n").nth(1).unwrap();
    assert!(doctor.contains(" of 3.0 MB downloaded today, "), "{doctor}");
    assert!(!doctor.contains("FAIL"), "{doctor}");

    // The ledger is the demo's own; the caller's state directories were never written.
    assert!(play.join("state/budget").is_dir());
    for untouched in [
        "user-state",
        "user-xdg-state",
        "home/.local",
        "home/.config",
    ] {
        assert!(
            !env.path().join(untouched).exists(),
            "the demo wrote {untouched}"
        );
    }
}

#[test]
fn without_keep_the_playground_is_removed() {
    let env = tempfile::tempdir().unwrap();
    let out = run(&mut demo(env.path()));
    assert!(
        out.status.success(),
        "demo failed:\n{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let left: Vec<_> = std::fs::read_dir(env.path().join("tmp")).unwrap().collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    assert!(!env.path().join("user-state").exists());
}

#[test]
fn a_failing_step_stops_the_demo_with_its_exit_code() {
    let env = tempfile::tempdir().unwrap();
    let out = run(demo(env.path()).env("FERRY", "/bin/false"));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(
        text(&out.stderr).contains("`ferry init` exited with 1"),
        "{}",
        text(&out.stderr)
    );
}

/// `ferry completions bash` is a script bash accepts, completing ferry's subcommands; the other
/// shells get theirs, and a closed pipe is no error.
#[test]
fn completions_work_in_bash_and_survive_a_closed_pipe() {
    let dir = tempfile::tempdir().unwrap();
    let ferry = assert_cmd::cargo::cargo_bin("ferry");
    let script = common::ok(common::ferry(dir.path()).args(["completions", "bash"]));
    std::fs::write(dir.path().join("ferry.bash"), &script).unwrap();
    let words = common::ok(Command::new("bash").current_dir(dir.path()).args([
        "-c",
        "source ./ferry.bash; COMP_WORDS=(ferry do); COMP_CWORD=1; COMP_LINE='ferry do'; \
         COMP_POINT=8; _ferry ferry do ferry; printf '%s\\n' \"${COMPREPLY[@]}\"",
    ]));
    assert_eq!(words.trim(), "doctor", "{words}");
    for shell in ["zsh", "fish"] {
        let script = common::ok(common::ferry(dir.path()).args(["completions", shell]));
        assert!(
            script.contains("doctor") && script.contains("all-remotes"),
            "{shell}"
        );
    }
    let piped = common::ok(Command::new("bash").args([
        "-c",
        &format!(
            "set -o pipefail; '{}' completions fish | head -c 10",
            ferry.display()
        ),
    ]));
    assert_eq!(piped.len(), 10);
}

/// The README opens with exactly the two commands a newcomer needs — the demo and the whole test
/// suite — and CI runs that same test command.
#[test]
fn readme_opens_with_the_demo_and_the_test_command_ci_runs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let block = readme
        .split("```bash\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .unwrap();
    let commands: Vec<&str> = block
        .lines()
        .map(|l| l.split('#').next().unwrap().trim())
        .collect();
    assert_eq!(commands, ["scripts/demo", "scripts/test"], "{block}");
    assert!(readme.find("```bash").unwrap() < readme.find("## ").unwrap());
    let ci = std::fs::read_to_string(root.join(".ci/run")).unwrap();
    assert!(
        ci.lines().any(|l| l.trim() == "exec scripts/test"),
        ".ci/run: {ci}"
    );
}
