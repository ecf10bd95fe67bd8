//! Issue 17: the errors of configuration, remotes, usage, init, gc and the repository itself,
//! each built in the situation that prints it and checked whole: the exit code the README
//! documents and all of stdout and stderr as an 80-column snapshot (temp paths filtered).
mod common;

use std::path::Path;
use std::process::{Child, Command};

use common::cli::{Env, fits, repo_with, settings, whole};
use tempfile::TempDir;

/// Runs `ferry ARGS` in `dir`, snapshots its whole output as `name` and checks `exit`; the
/// output fits 80 columns except for lines holding `wide` (a path or URL that cannot wrap).
fn expect(env: &Env, dir: &Path, args: &[&str], exit: i32, name: &str, wide: &[&str]) -> String {
    let out = env.run(dir, args);
    let text = whole(&out);
    {
        let _s = settings(&[(dir, "[REPO]")]).bind_to_scope();
        insta::assert_snapshot!(name, text);
    }
    assert_eq!(out.status.code(), Some(exit), "{text}");
    fits(&text, 80, wide);
    text
}

/// An initialised repository with one S3 remote `store` (never contacted) and no default.
fn repo_with_remote(env: &Env) -> TempDir {
    let repo = repo_with(env, &[]);
    env.ok(repo.path(), &["remote", "add", "store", "s3://bucket/path"]);
    repo
}

#[test]
fn a_command_outside_a_repository_says_where_it_looked() {
    let env = Env::new();
    let dir = TempDir::new().unwrap();
    expect(&env, dir.path(), &["status"], 253, "not_a_repo_status", &[]);
    expect(&env, dir.path(), &["push"], 253, "not_a_repo_push", &[]);
}

#[test]
fn init_twice_changes_nothing_and_says_how_to_start_over() {
    let env = Env::new();
    let repo = repo_with(&env, &[]);
    let config = std::fs::read(repo.path().join(".dvc/config")).unwrap();
    expect(&env, repo.path(), &["init"], 1, "init_twice", &[]);
    assert_eq!(
        std::fs::read(repo.path().join(".dvc/config")).unwrap(),
        config
    );
}

#[test]
fn init_outside_git_names_both_ways_out() {
    let env = Env::new();
    let dir = TempDir::new().unwrap();
    expect(&env, dir.path(), &["init"], 1, "init_no_git", &[]);
    assert!(!dir.path().join(".dvc").exists());
}

#[test]
fn a_misspelt_setting_gets_the_nearest_one() {
    let env = Env::new();
    let repo = repo_with_remote(&env);
    let d = repo.path();
    expect(
        &env,
        d,
        &["config", "pul.order", "store"],
        251,
        "config_did_you_mean",
        &[],
    );
    expect(
        &env,
        d,
        &["config", "remote.store.daily_downlod_limit", "1GB"],
        251,
        "config_remote_did_you_mean",
        &[],
    );
    assert!(!d.join(".dvc/ferry.toml").exists());
}

#[test]
fn an_unknown_setting_lists_the_known_ones() {
    let env = Env::new();
    let repo = repo_with_remote(&env);
    expect(
        &env,
        repo.path(),
        &["config", "zzzzzz", "1"],
        251,
        "config_unknown_key",
        &[],
    );
}

/// `jobs` is a DVC option of the remote, not a Ferry setting: the hint says where it is set
/// instead of offering a per-remote setting that merely shares the `remote.NAME.` prefix.
#[test]
fn a_remote_option_given_to_config_points_to_remote_modify() {
    let env = Env::new();
    let repo = repo_with_remote(&env);
    let text = expect(
        &env,
        repo.path(),
        &["config", "remote.store.jobs", "4"],
        251,
        "config_remote_option",
        &[],
    );
    assert!(!text.contains("did you mean"), "{text}");
    assert!(
        text.replace("\n  ", " ")
            .contains("`ferry remote modify store jobs VALUE`"),
        "{text}"
    );
}

#[test]
fn a_setting_naming_an_unknown_remote_is_refused() {
    let env = Env::new();
    let repo = repo_with_remote(&env);
    let d = repo.path();
    expect(
        &env,
        d,
        &["config", "pull.order", "stor"],
        251,
        "config_remote_near",
        &[],
    );
    expect(
        &env,
        d,
        &["config", "pull.order", "elsewhere"],
        251,
        "config_remote_unknown",
        &[],
    );
    assert!(!d.join(".dvc/ferry.toml").exists());
}

#[test]
fn a_bad_setting_value_says_what_is_expected() {
    let env = Env::new();
    let repo = repo_with_remote(&env);
    let d = repo.path();
    expect(
        &env,
        d,
        &["config", "remote.store.daily_download_limit", "lots"],
        251,
        "config_bad_size",
        &[],
    );
    expect(
        &env,
        d,
        &["config", "redundancy.min_copies", "many"],
        251,
        "config_bad_copies",
        &[],
    );
    expect(
        &env,
        d,
        &["config", "remote.store.budget_reset", "Mars/Olympus"],
        251,
        "config_bad_zone",
        &[],
    );
}

#[test]
fn config_without_a_key_is_a_usage_error() {
    let env = Env::new();
    let repo = repo_with_remote(&env);
    expect(&env, repo.path(), &["config"], 254, "config_no_key", &[]);
}

#[test]
fn a_broken_ferry_toml_is_named_with_its_keys() {
    let env = Env::new();
    let repo = repo_with_remote(&env);
    let d = repo.path();
    let cmd = ["fetch", "--dry-run"];
    common::write(d, ".dvc/ferry.toml", "[pull]\norder = 3\n");
    expect(&env, d, &cmd, 251, "ferry_toml_bad_type", &[]);
    // the list shows what is written, and says that every command refuses it
    expect(
        &env,
        d,
        &["config", "--list"],
        251,
        "ferry_toml_bad_type_list",
        &[],
    );
    common::write(d, ".dvc/ferry.toml", "[pull]\nordr = [\"store\"]\n");
    expect(&env, d, &cmd, 251, "ferry_toml_unknown_key", &[]);
    common::write(d, ".dvc/ferry.toml", "[pull\n");
    expect(&env, d, &cmd, 251, "ferry_toml_not_toml", &[]);
    expect(
        &env,
        d,
        &["config", "--list"],
        251,
        "ferry_toml_not_toml_list",
        &[],
    );
}

#[test]
fn a_broken_dvc_config_names_the_file() {
    let env = Env::new();
    let repo = repo_with_remote(&env);
    let d = repo.path();
    common::write(d, ".dvc/config", "[core]\nremote = a\nremote = b\n");
    expect(&env, d, &["status"], 251, "dvc_config_duplicate", &[]);
}

#[test]
fn adding_a_remote_twice_says_how_to_replace_it() {
    let env = Env::new();
    let repo = repo_with_remote(&env);
    expect(
        &env,
        repo.path(),
        &["remote", "add", "store", "s3://bucket/other"],
        251,
        "remote_add_exists",
        &[],
    );
}

#[test]
fn a_remote_of_an_unknown_kind_is_refused() {
    let env = Env::new();
    let repo = repo_with_remote(&env);
    expect(
        &env,
        repo.path(),
        &["remote", "add", "odd", "foo://x"],
        251,
        "remote_add_unsupported",
        &[],
    );
    expect(
        &env,
        repo.path(),
        &["remote", "add", "b2", "b2://"],
        251,
        "remote_add_b2_no_bucket",
        &[],
    );
    expect(
        &env,
        repo.path(),
        &["remote", "add", "nb", "s3://"],
        251,
        "remote_add_s3_no_bucket",
        &[],
    );
}

#[test]
fn modifying_an_option_the_remote_has_not_is_refused() {
    let env = Env::new();
    let repo = repo_with_remote(&env);
    let d = repo.path();
    let config = std::fs::read(d.join(".dvc/config")).unwrap();
    expect(
        &env,
        d,
        &["remote", "modify", "store", "nosuchopt", "1"],
        251,
        "remote_modify_unknown_option",
        &["https://"],
    );
    expect(
        &env,
        d,
        &["remote", "modify", "store", "jobs", "many"],
        251,
        "remote_modify_bad_value",
        &[],
    );
    assert_eq!(std::fs::read(d.join(".dvc/config")).unwrap(), config);
}

#[test]
fn naming_a_remote_that_does_not_exist() {
    let env = Env::new();
    let repo = repo_with_remote(&env);
    let d = repo.path();
    expect(
        &env,
        d,
        &["remote", "modify", "nope", "jobs", "3"],
        251,
        "remote_modify_unknown",
        &[],
    );
    expect(
        &env,
        d,
        &["remote", "remove", "nope"],
        251,
        "remote_remove_unknown",
        &[],
    );
    expect(
        &env,
        d,
        &["remote", "default", "nope"],
        251,
        "remote_default_unknown",
        &[],
    );
    expect(
        &env,
        d,
        &["push", "-r", "nope"],
        251,
        "push_unknown_remote",
        &[],
    );
}

#[test]
fn renaming_a_remote_onto_a_used_name_is_refused() {
    let env = Env::new();
    let repo = repo_with_remote(&env);
    let d = repo.path();
    env.ok(d, &["remote", "add", "other", "s3://bucket/other"]);
    expect(
        &env,
        d,
        &["remote", "rename", "store", "other"],
        251,
        "remote_rename_taken",
        &[],
    );
}

/// As dvc (which exits 1 here too): no `-r` and no default remote.
#[test]
fn a_push_without_a_default_remote_says_how_to_name_one() {
    let env = Env::new();
    let repo = repo_with_remote(&env);
    expect(&env, repo.path(), &["push"], 1, "push_no_default", &[]);
}

#[test]
fn gc_without_a_scope_asks_for_one() {
    let env = Env::new();
    let repo = repo_with(&env, &[("a.txt", "a\n")]);
    expect(&env, repo.path(), &["gc"], 255, "gc_no_scope", &[]);
    assert!(repo.path().join(".dvc/cache/files").exists());
}

#[test]
fn remove_of_a_data_file_names_the_dvc_file_to_give() {
    let env = Env::new();
    let repo = repo_with(&env, &[("a.txt", "a\n")]);
    expect(
        &env,
        repo.path(),
        &["remove", "a.txt"],
        1,
        "remove_not_dvc",
        &[],
    );
    assert!(repo.path().join("a.txt.dvc").exists());
}

#[test]
fn add_errors_name_the_path_and_the_way_out() {
    let env = Env::new();
    let repo = repo_with(&env, &[]);
    let d = repo.path();
    common::write(d, "a.txt", "a\n");
    common::write(d, "b.txt", "b\n");
    expect(
        &env,
        d,
        &["add", "-o", "x", "a.txt", "b.txt"],
        254,
        "add_out_two_targets",
        &[],
    );
    expect(&env, d, &["add", "nosuch.txt"], 1, "add_missing", &[]);
    assert!(!d.join("a.txt.dvc").exists());
}

#[test]
fn status_of_an_untracked_target_says_what_can_be_named() {
    let env = Env::new();
    let repo = repo_with(&env, &[("a.txt", "a\n")]);
    expect(
        &env,
        repo.path(),
        &["status", "nosuch.dvc"],
        1,
        "status_unknown_target",
        &[],
    );
}

/// Another process holds `.dvc/tmp/lock` (`flock`, as a running dvc would): after its short
/// wait, Ferry names the lock and how to wait for it, and changes nothing.
#[test]
fn a_held_repository_lock_is_named() {
    let env = Env::new();
    let repo = repo_with(&env, &[]);
    let d = repo.path();
    common::write(d, "a.txt", "a\n");
    std::fs::create_dir_all(d.join(".dvc/tmp")).unwrap();
    let lock = d.join(".dvc/tmp/lock");
    std::fs::write(&lock, "").unwrap();
    let holder = Holder(
        Command::new("flock")
            .arg("--no-fork")
            .arg(&lock)
            .args(["sleep", "30"])
            .spawn()
            .expect("flock from util-linux"),
    );
    // wait until the holder has the lock: a non-blocking try of our own then fails
    while Command::new("flock")
        .arg("-n")
        .arg(&lock)
        .arg("true")
        .status()
        .unwrap()
        .success()
    {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    expect(&env, d, &["add", "a.txt"], 1, "lock_held", &[]);
    assert!(!d.join("a.txt.dvc").exists());
    drop(holder);
}

/// A repository with `a.txt` added and a limited local-disk remote `disk` as its default.
fn repo_with_limited_disk(env: &Env) -> (TempDir, TempDir) {
    let repo = repo_with(env, &[("a.txt", "a\n")]);
    let d = repo.path();
    let disk = TempDir::new().unwrap();
    let disk_url = disk.path().display().to_string();
    env.ok(d, &["remote", "add", "-d", "disk", &disk_url]);
    env.ok(d, &["config", "remote.disk.daily_download_limit", "1GB"]);
    (repo, disk)
}

/// Runs `ferry ARGS` in `repo` with `FERRY_STATE_DIR` set to a file, so the budget ledger
/// cannot be written, and snapshots its whole output as `name`; returns it.
fn with_unwritable_ledger(
    env: &Env,
    repo: &Path,
    disk: &Path,
    args: &[&str],
    name: &str,
) -> (std::process::Output, String) {
    let state = TempDir::new().unwrap();
    let not_a_dir = state.path().join("state");
    std::fs::write(&not_a_dir, "").unwrap();
    let out = common::run(env.ferry(repo, args).env("FERRY_STATE_DIR", &not_a_dir));
    let text = whole(&out);
    // the ledger file is named by a hash of the remote URL, a temp path here
    let mut s = settings(&[
        (repo, "[REPO]"),
        (disk, "[DISK]"),
        (state.path(), "[STATE]"),
    ]);
    s.add_filter(r"[0-9a-f]{32}\.json", "[URL-HASH].json");
    let _s = s.bind_to_scope();
    insta::assert_snapshot!(name, text);
    (out, text)
}

/// The budget ledger cannot be written (`FERRY_STATE_DIR` is a file): the push still succeeds,
/// and the warnings say that the remote's use goes uncounted and what to set.
#[test]
fn an_unwritable_budget_ledger_warns_and_the_push_goes_on() {
    let env = Env::new();
    let (repo, disk) = repo_with_limited_disk(&env);
    let (out, text) = with_unwritable_ledger(
        &env,
        repo.path(),
        disk.path(),
        &["push"],
        "ledger_unwritable_push",
    );
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(disk.path().join("files/md5").exists(), "{text}");
    assert_eq!(text.matches("cannot be recorded").count(), 1, "{text}");
}

/// The same on pull, whose router writes the meter's counts after every batch: the pull
/// succeeds, and that the use goes unrecorded is said once, by the meter, not once per batch.
#[test]
fn an_unwritable_budget_ledger_is_named_once_on_pull() {
    let env = Env::new();
    let (repo, disk) = repo_with_limited_disk(&env);
    let d = repo.path();
    env.ok(d, &["push"]);
    std::fs::remove_dir_all(d.join(".dvc/cache")).unwrap();
    std::fs::remove_file(d.join("a.txt")).unwrap();
    let (out, text) =
        with_unwritable_ledger(&env, d, disk.path(), &["pull"], "ledger_unwritable_pull");
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert_eq!(std::fs::read(d.join("a.txt")).unwrap(), b"a\n");
    assert_eq!(text.matches("cannot be recorded").count(), 1, "{text}");
    assert_eq!(text.matches("WARNING").count(), 2, "{text}");
}

#[test]
fn sync_without_remotes_says_how_to_add_one() {
    let env = Env::new();
    let repo = repo_with(&env, &[("a.txt", "a\n")]);
    expect(&env, repo.path(), &["sync"], 1, "sync_no_remote", &[]);
}

/// `--token-env` names a variable that is not set: nothing is added, and the hint says what to
/// export (the token itself is never asked for on the command line).
#[test]
fn a_token_variable_that_is_not_set_is_named() {
    let env = Env::new();
    let repo = repo_with(&env, &[]);
    let d = repo.path();
    let config = std::fs::read(d.join(".dvc/config")).unwrap();
    let out = common::run(
        env.ferry(
            d,
            &[
                "remote",
                "add",
                "hub",
                "dagshub://alice/proj",
                "--token-env",
                "FERRY_TEST_UNSET_TOKEN",
            ],
        )
        .env_remove("FERRY_TEST_UNSET_TOKEN"),
    );
    let text = whole(&out);
    insta::assert_snapshot!("remote_add_token_env_unset", text);
    assert_eq!(out.status.code(), Some(251), "{text}");
    fits(&text, 80, &[]);
    assert_eq!(std::fs::read(d.join(".dvc/config")).unwrap(), config);
}

/// A remote that cannot be set up (an S3 URL without a bucket): doctor names it, gives the
/// commands to fix it and exits 251, never contacting a server.
#[test]
fn doctor_names_a_misconfigured_remote_and_the_fix() {
    let env = Env::new();
    let repo = repo_with(&env, &[]);
    let d = repo.path();
    // `remote add` refuses such a URL; a hand-edited config can still hold one.
    common::write(
        d,
        ".dvc/config",
        "[core]\n    remote = nb\n['remote \"nb\"']\n    url = s3://\n",
    );
    expect(&env, d, &["doctor"], 251, "doctor_misconfigured", &[]);
    // any other command names what to change, not only where to look
    expect(&env, d, &["fetch"], 251, "open_no_bucket", &[]);
    common::write(
        d,
        ".dvc/config",
        "[core]\n    remote = nb\n['remote \"nb\"']\n    url = ftp://host/path\n",
    );
    expect(&env, d, &["fetch"], 251, "open_unsupported_scheme", &[]);
}

/// Kills the lock holder when the test ends, pass or fail.
struct Holder(Child);

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `commit` of an output edited since its `.dvc` file was written, without `--force`: refused,
/// naming the `.dvc` file; nothing is recorded.
#[test]
fn commit_of_a_changed_output_asks_for_force() {
    let env = Env::new();
    let repo = repo_with(&env, &[("a.txt", "a\n")]);
    let d = repo.path();
    let dvc = std::fs::read(d.join("a.txt.dvc")).unwrap();
    common::write(d, "a.txt", "edited\n");
    expect(&env, d, &["commit"], 1, "commit_changed", &[]);
    assert_eq!(std::fs::read(d.join("a.txt.dvc")).unwrap(), dvc);
    assert_eq!(std::fs::read(d.join("a.txt")).unwrap(), b"edited\n");
}

/// `checkout` over a file edited and never added: refused with exit 255 (as dvc), the edit kept.
#[test]
fn checkout_over_unsaved_edits_is_refused() {
    let env = Env::new();
    let repo = repo_with(&env, &[("a.txt", "a\n")]);
    let d = repo.path();
    common::write(d, "a.txt", "edited\n");
    expect(&env, d, &["checkout"], 255, "checkout_unsaved", &[]);
    assert_eq!(std::fs::read(d.join("a.txt")).unwrap(), b"edited\n");
}

/// `checkout` of data that is neither in the workspace nor in the cache names the target.
#[test]
fn checkout_of_data_missing_from_the_cache_names_it() {
    let env = Env::new();
    let repo = repo_with(&env, &[("a.txt", "a\n")]);
    let d = repo.path();
    common::cli::forget(d, &["a.txt"]);
    expect(&env, d, &["checkout"], 255, "checkout_missing", &[]);
    assert!(!d.join("a.txt").exists());
}

/// `pull` over a file edited and never added: refused, the edit kept.
#[test]
fn pull_over_unsaved_edits_is_refused() {
    let env = Env::new();
    let repo = repo_with(&env, &[("a.txt", "a\n")]);
    let d = repo.path();
    let disk = TempDir::new().unwrap();
    env.ok(
        d,
        &[
            "remote",
            "add",
            "-d",
            "disk",
            &disk.path().display().to_string(),
        ],
    );
    env.ok(d, &["push"]);
    common::write(d, "a.txt", "edited\n");
    expect(&env, d, &["pull"], 1, "pull_unsaved", &[]);
    assert_eq!(std::fs::read(d.join("a.txt")).unwrap(), b"edited\n");
}

/// `gc -w` without `-f` and nothing on stdin (a script): not confirmed, nothing removed.
#[test]
fn gc_not_confirmed_removes_nothing() {
    let env = Env::new();
    let repo = repo_with(&env, &[("a.txt", "a\n")]);
    let d = repo.path();
    common::write(d, "b.txt", "b\n");
    env.ok(d, &["add", "b.txt"]);
    std::fs::remove_file(d.join("b.txt.dvc")).unwrap();
    let objects = || walkdir(&d.join(".dvc/cache/files/md5"));
    let before = objects();
    expect(&env, d, &["gc", "-w"], 1, "gc_not_confirmed", &[]);
    assert_eq!(objects(), before);
    assert_eq!(before.len(), 2);
}

/// `gc -w --cloud` on an HTTP remote, which cannot be listed: refused before anything is
/// removed, locally or on the remote, and the hint names the kinds that can.
#[test]
fn gc_cloud_on_an_http_remote_is_refused() {
    let env = Env::new();
    let repo = repo_with(&env, &[("a.txt", "a\n")]);
    let d = repo.path();
    common::write(d, "b.txt", "b\n");
    env.ok(d, &["add", "b.txt"]);
    std::fs::remove_file(d.join("b.txt.dvc")).unwrap();
    let store = TempDir::new().unwrap();
    let server = common::HttpServer::start(store.path(), "", "");
    env.ok(d, &["remote", "add", "web", &server.url("store")]);
    env.ok(d, &["push", "-r", "web"]);
    let remote_before = walkdir(store.path());
    let local_before = walkdir(&d.join(".dvc/cache/files/md5"));
    let out = env.run(d, &["gc", "-w", "--cloud", "-r", "web", "-f"]);
    let text = whole(&out);
    {
        let _s = settings(&[(d, "[REPO]")]).bind_to_scope();
        insta::assert_snapshot!("gc_cloud_http", text);
    }
    assert_eq!(out.status.code(), Some(1), "{text}");
    fits(&text, 80, &["http://"]);
    assert_eq!(walkdir(store.path()), remote_before);
    assert_eq!(walkdir(&d.join(".dvc/cache/files/md5")), local_before);
}

/// A secret in the tracked `ferry.toml`: refused, naming the file and the key (never the
/// value), and the hint says where the secret belongs.
#[test]
fn a_secret_in_ferry_toml_is_refused() {
    let env = Env::new();
    let repo = repo_with_remote(&env);
    let d = repo.path();
    common::write(
        d,
        ".dvc/ferry.toml",
        "[remote.store]\nsecret_access_key = \"s3cr3t-Vq7\"\n",
    );
    let text = expect(
        &env,
        d,
        &["fetch", "--dry-run"],
        251,
        "ferry_toml_secret",
        &[],
    );
    assert!(!text.contains("s3cr3t-Vq7"), "{text}");
}

/// `.dvc/config` is a symbolic link (as a cloned repository could make it), which Ferry never
/// writes through: `remote add` fails naming the file, and the link's target is unchanged.
#[test]
fn a_config_that_cannot_be_written_is_named() {
    let env = Env::new();
    let repo = repo_with(&env, &[]);
    let d = repo.path();
    let elsewhere = TempDir::new().unwrap();
    let target = elsewhere.path().join("config");
    std::fs::copy(d.join(".dvc/config"), &target).unwrap();
    let config = std::fs::read(&target).unwrap();
    std::fs::remove_file(d.join(".dvc/config")).unwrap();
    std::os::unix::fs::symlink(&target, d.join(".dvc/config")).unwrap();
    expect(
        &env,
        d,
        &["remote", "add", "store", "s3://bucket/path"],
        251,
        "config_unwritable",
        &[],
    );
    assert_eq!(std::fs::read(&target).unwrap(), config);
}

/// The files under `dir`, sorted, with their bytes.
fn walkdir(dir: &Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut found = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path);
            } else {
                found.push((path.clone(), std::fs::read(&path).unwrap()));
            }
        }
    }
    found.sort();
    found
}
