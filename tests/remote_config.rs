//! `ferry remote …` against the real pinned dvc: the same files byte for byte, the same stdout and
//! exit codes; each tool reads what the other wrote; secrets never printed; Ferry's settings
//! routed to `.dvc/ferry.toml`; presets; environment overrides.
mod common;
use std::path::Path;
use std::process::{Command, Output};

use common::*;
use tempfile::TempDir;

/// Private global and system config dirs, so no test touches (or sees) real user config.
struct Levels {
    global: TempDir,
    system: TempDir,
}

impl Levels {
    fn new() -> Self {
        Levels {
            global: tempfile::tempdir().unwrap(),
            system: tempfile::tempdir().unwrap(),
        }
    }

    fn apply<'a>(&self, cmd: &'a mut Command) -> &'a mut Command {
        cmd.env("DVC_GLOBAL_CONFIG_DIR", self.global.path())
            .env("DVC_SYSTEM_CONFIG_DIR", self.system.path())
            .env_remove("COLUMNS")
    }
}

/// A fresh DVC repository (made by the real dvc) with its own config levels.
struct Repo {
    dir: TempDir,
    levels: Levels,
}

impl Repo {
    fn new() -> Self {
        let dir = git_repo();
        let levels = Levels::new();
        ok(levels.apply(&mut dvc(dir.path())).args(["init", "-q"]));
        Repo { dir, levels }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn dvc(&self, args: &[&str]) -> Output {
        self.dvc_in("", args)
    }

    fn dvc_in(&self, sub: &str, args: &[&str]) -> Output {
        run(self
            .levels
            .apply(&mut dvc(&self.path().join(sub)))
            .args(args))
    }

    fn ferry(&self, args: &[&str]) -> Output {
        self.ferry_in("", args)
    }

    fn ferry_in(&self, sub: &str, args: &[&str]) -> Output {
        run(self
            .levels
            .apply(&mut ferry(&self.path().join(sub)))
            .args(args))
    }

    /// A file's bytes, `None` when absent.
    fn file(&self, rel: &str) -> Option<String> {
        std::fs::read_to_string(self.path().join(rel)).ok()
    }

    fn global_config(&self) -> Option<String> {
        std::fs::read_to_string(self.levels.global.path().join("config")).ok()
    }
}

fn all_output(o: &Output) -> String {
    format!("{}{}", text(&o.stdout), text(&o.stderr))
}

/// Runs each command with dvc in one repo and ferry in another, comparing stdout, exit code and
/// the bytes of every config file after each step.
fn compare(steps: &[(&str, &[&str])]) -> (Repo, Repo) {
    let d = Repo::new();
    let f = Repo::new();
    std::fs::create_dir_all(d.path().join("sub")).unwrap();
    std::fs::create_dir_all(f.path().join("sub")).unwrap();
    for (sub, args) in steps {
        let od = d.dvc_in(sub, args);
        let of = f.ferry_in(sub, args);
        let what = format!("`{}` in '{sub}'", args.join(" "));
        assert_eq!(
            of.status.code(),
            od.status.code(),
            "{what}: exit code\ndvc: {}\nferry: {}",
            all_output(&od),
            all_output(&of)
        );
        let mask = |r: &Repo, o: &Output| {
            text(&o.stdout).replace(&r.path().display().to_string(), "<repo>")
        };
        assert_eq!(mask(&f, &of), mask(&d, &od), "{what}: stdout");
        for file in [".dvc/config", ".dvc/config.local"] {
            assert_eq!(f.file(file), d.file(file), "{what}: {file}");
        }
        assert_eq!(
            f.global_config(),
            d.global_config(),
            "{what}: global config"
        );
    }
    (d, f)
}

#[test]
fn remote_commands_write_the_same_files_and_print_the_same_as_dvc() {
    compare(&[
        (
            "",
            &[
                "remote",
                "add",
                "-d",
                "Origin",
                "https://dagshub.com/alice/proj.dvc",
            ],
        ),
        (
            "",
            &["remote", "modify", "origin", "--local", "auth", "basic"],
        ),
        (
            "",
            &["remote", "modify", "origin", "--local", "user", "alice"],
        ),
        (
            "",
            &[
                "remote",
                "modify",
                "origin",
                "--local",
                "password",
                "p#a,s s\"w",
            ],
        ),
        ("", &["remote", "add", "storage", "s3://my-bucket/dvcstore"]),
        ("", &["remote", "add", "storage", "s3://elsewhere"]),
        (
            "",
            &[
                "remote",
                "modify",
                "storage",
                "endpointurl",
                "https://s3.example.com",
            ],
        ),
        ("", &["remote", "modify", "storage", "region", "us-east-1"]),
        (
            "",
            &[
                "remote",
                "modify",
                "--local",
                "storage",
                "access_key_id",
                "AKIAEXAMPLE",
            ],
        ),
        (
            "",
            &[
                "remote",
                "modify",
                "--local",
                "storage",
                "secret_access_key",
                "se/cr+et",
            ],
        ),
        ("", &["remote", "modify", "storage", "foo", "bar"]),
        ("", &["remote", "modify", "storage", "use_ssl", "maybe"]),
        ("", &["remote", "modify", "storage", "jobs", "0"]),
        ("", &["remote", "modify", "zz", "region", "x"]),
        ("", &["remote", "modify", "storage", "sse", "x#y'z\""]),
        ("", &["remote", "modify", "storage", "acl", " lead"]),
        ("", &["remote", "modify", "storage", "grant_read", ""]),
        (
            "",
            &["remote", "modify", "storage", "grant_write_acp", "'x'"],
        ),
        ("", &["remote", "modify", "storage", "profile", "a'b c=d;e"]),
        ("", &["remote", "modify", "--unset", "storage", "profile"]),
        ("", &["remote", "add", "zzz", "zz://x/y"]),
        ("sub", &["remote", "add", "rel", "../remote_rel"]),
        ("", &["remote", "add", "rel2", "./x/../y"]),
        ("", &["remote", "add", "home", "~/dvc-store"]),
        ("", &["remote", "add", "-f", "storage", "s3://other/path"]),
        ("", &["remote", "list"]),
        ("", &["remote", "default"]),
        ("", &["remote", "rename", "rel", "renamed"]),
        ("", &["remote", "rename", "renamed", "storage"]),
        ("", &["remote", "rename", "nope", "other"]),
        ("", &["remote", "default", "renamed"]),
        ("", &["remote", "default", "nope"]),
        ("", &["remote", "default"]),
        ("", &["remote", "remove", "renamed"]),
        ("", &["remote", "remove", "renamed"]),
        ("", &["remote", "default", "--unset"]),
        ("", &["remote", "default"]),
        ("", &["remote", "default", "--local"]),
        ("", &["remote", "add", "--global", "shared", "/srv/dvc"]),
        ("", &["remote", "add", "--global", "-d", "g2", "../g2"]),
        ("", &["remote", "default", "--global"]),
        ("", &["remote", "list"]),
        ("", &["remote", "list", "--global"]),
        ("", &["remote", "remove", "--global", "g2"]),
        ("", &["remote", "remove", "--global", "shared"]),
        ("", &["remote", "list"]),
    ]);
}

#[test]
fn long_urls_wrap_like_dvc_when_not_a_tty() {
    let long = format!("https://example.com/{}", "x".repeat(100));
    let (d, f) = compare(&[
        ("", &["remote", "add", "h", long.as_str()]),
        ("", &["remote", "add", "-d", "short", "/tmp/x"]),
        ("", &["remote", "list"]),
    ]);
    let wide = |r: &Repo, tool: fn(&Path) -> Command| {
        let mut cmd = tool(r.path());
        r.levels.apply(&mut cmd).env("COLUMNS", "200");
        text(&run(cmd.args(["remote", "list"])).stdout)
    };
    assert_eq!(wide(&f, ferry), wide(&d, dvc));
    assert!(wide(&f, ferry).contains(&long));
}

#[test]
fn each_tool_reads_what_the_other_wrote() {
    // dvc reads a ferry-written repository.
    let f = Repo::new();
    ok(f.levels
        .apply(&mut ferry(f.path()))
        .args(["remote", "add", "-d", "store", "../store"]));
    ok(f.levels
        .apply(&mut ferry(f.path()))
        .args(["remote", "modify", "--local", "store", "type", "copy"]));
    let listed = f.dvc(&["remote", "list"]);
    assert_eq!(listed.status.code(), Some(0), "{}", all_output(&listed));
    let store = f.path().parent().unwrap().join("store");
    let line = text(&listed.stdout);
    assert!(
        line.starts_with(&format!("store   {}", store.display())),
        "{line}"
    );
    assert!(line.ends_with("(default)\n"), "{line}");
    assert_eq!(
        text(&listed.stdout),
        text(&f.ferry(&["remote", "list"]).stdout)
    );
    let cfg = text(&f.dvc(&["config", "-l"]).stdout);
    assert!(cfg.contains("core.remote=store"), "{cfg}");
    assert!(cfg.contains("remote.store.type=copy"), "{cfg}");

    // ferry reads a hand-written, dvc-style file with comments and both section spellings.
    let d = Repo::new();
    write(
        d.path(),
        ".dvc/config",
        "# team remotes\n[remote \"B2\"]  # the fast one\n    url = s3://bucket/path\n    region = us-west-004 ; not a comment\n[core]\n    remote = b2\n['remote \"http\"']\n    url = \"https://x.org/a b\"\n",
    );
    let od = d.dvc(&["remote", "list"]);
    let of = d.ferry(&["remote", "list"]);
    assert_eq!(od.status.code(), Some(0), "{}", all_output(&od));
    assert_eq!(text(&of.stdout), text(&od.stdout));
    // A rewrite by either tool gives the same bytes.
    let before = d.file(".dvc/config");
    let e = Repo::new();
    std::fs::write(e.path().join(".dvc/config"), before.unwrap()).unwrap();
    ok(d.levels
        .apply(&mut dvc(d.path()))
        .args(["remote", "modify", "http", "method", "PUT"]));
    ok(e.levels
        .apply(&mut ferry(e.path()))
        .args(["remote", "modify", "http", "method", "PUT"]));
    assert_eq!(e.file(".dvc/config"), d.file(".dvc/config"));
    assert!(!e.file(".dvc/config").unwrap().contains('#'));
}

#[test]
fn rename_moves_the_remote_at_every_level_unlike_dvc() {
    for tool in ["dvc", "ferry"] {
        let r = Repo::new();
        let run_tool = |args: &[&str]| {
            if tool == "dvc" {
                r.dvc(args)
            } else {
                r.ferry(args)
            }
        };
        assert!(
            run_tool(&[
                "remote",
                "add",
                "-d",
                "myremote",
                "https://dagshub.com/a/b.dvc"
            ])
            .status
            .success()
        );
        assert!(
            run_tool(&[
                "remote", "modify", "--local", "myremote", "password", "tok3n"
            ])
            .status
            .success()
        );
        run_tool(&["remote", "rename", "myremote", "dagshub"]);
        let after = r.dvc(&["remote", "default", "dagshub"]);
        if tool == "dvc" {
            // DVC's bug: the local section is orphaned and the config no longer loads.
            assert_eq!(after.status.code(), Some(251), "{}", all_output(&after));
            continue;
        }
        assert_eq!(after.status.code(), Some(0), "{}", all_output(&after));
        assert_eq!(
            r.file(".dvc/config").unwrap(),
            "[core]\n    remote = dagshub\n['remote \"dagshub\"']\n    url = https://dagshub.com/a/b.dvc\n"
        );
        assert_eq!(
            r.file(".dvc/config.local").unwrap(),
            "['remote \"dagshub\"']\n    password = tok3n\n"
        );
        assert_eq!(
            text(&r.dvc(&["remote", "list"]).stdout),
            text(&r.ferry(&["remote", "list"]).stdout)
        );
    }
}

#[test]
fn remove_drops_leftover_sections_at_other_levels() {
    let r = Repo::new();
    ok(r.levels
        .apply(&mut ferry(r.path()))
        .args(["remote", "add", "h", "https://x.org/a"]));
    ok(r.levels
        .apply(&mut ferry(r.path()))
        .args(["remote", "modify", "--local", "h", "password", "pw"]));
    let out = r.ferry(&["remote", "remove", "h"]);
    assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
    assert!(
        text(&out.stderr).contains("config.local"),
        "{}",
        all_output(&out)
    );
    assert_eq!(r.file(".dvc/config.local").unwrap(), "\n");
    assert!(r.dvc(&["remote", "add", "x", "/tmp/x"]).status.success());
}

#[test]
fn secrets_are_never_printed() {
    let r = Repo::new();
    let secrets = ["s3cr3t-pass", "s3cr3t-key", "s3cr3t-token"];
    let steps: Vec<Vec<&str>> = vec![
        vec!["remote", "add", "-d", "h", "https://x.org/a"],
        vec!["remote", "modify", "--local", "h", "password", secrets[0]],
        vec!["remote", "add", "s", "s3://b/p"],
        vec!["remote", "modify", "s", "secret_access_key", secrets[1]],
        vec![
            "remote",
            "modify",
            "--local",
            "s",
            "session_token",
            secrets[2],
        ],
        vec!["-vvv", "remote", "list"],
        vec!["remote", "list", "-v"],
        vec!["-vvv", "remote", "list", "--local"],
        vec!["-vvv", "remote", "modify", "s", "foo", "bar"],
        vec!["-vvv", "remote", "modify", "s", "jobs", "-1"],
        vec!["-vvv", "remote", "rename", "s", "h"],
        vec!["-vvv", "remote", "default"],
        vec!["remote", "add", "u", "https://bob:s3cr3t-pass@h.org/x"],
        vec!["-vvv", "remote", "list", "-v"],
    ];
    let mut warned = String::new();
    for args in &steps {
        let out = r.ferry(args);
        let all = all_output(&out);
        for s in secrets {
            assert!(
                !all.contains(s),
                "`{}` printed a secret:\n{all}",
                args.join(" ")
            );
        }
        if args.get(3) == Some(&"secret_access_key") {
            warned = text(&out.stderr);
            assert_eq!(out.status.code(), Some(0));
        }
    }
    // A secret written to the tracked file works, with a warning saying how to move it.
    assert!(warned.starts_with("WARNING: "), "{warned}");
    assert!(
        warned.contains("ferry remote modify --local s secret_access_key"),
        "{warned}"
    );
    assert!(
        r.file(".dvc/config")
            .unwrap()
            .contains("secret_access_key = s3cr3t-key")
    );
    let levels = ferry::config::edit::Levels::new(Some(r.path().join(".dvc")));
    assert_eq!(
        levels.secrets_at(ferry::config::Level::Repo).unwrap(),
        vec![
            ("s".to_string(), "secret_access_key".to_string()),
            ("u".to_string(), "url".to_string())
        ]
    );
    let verbose = text(&r.ferry(&["remote", "list", "-v"]).stdout);
    assert!(verbose.contains("password = (secret, hidden)"), "{verbose}");
}

#[cfg(unix)]
#[test]
fn config_local_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let r = Repo::new();
    ok(r.levels
        .apply(&mut ferry(r.path()))
        .args(["remote", "add", "h", "https://x.org/a"]));
    ok(r.levels
        .apply(&mut ferry(r.path()))
        .args(["remote", "modify", "--local", "h", "password", "pw"]));
    let mode = std::fs::metadata(r.path().join(".dvc/config.local"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    // A file dvc created (0644) is tightened on the next write.
    let d = Repo::new();
    assert!(
        d.dvc(&["remote", "add", "--local", "x", "/tmp/x"])
            .status
            .success()
    );
    ok(d.levels
        .apply(&mut ferry(d.path()))
        .args(["remote", "modify", "--local", "x", "jobs", "2"]));
    let mode = std::fs::metadata(d.path().join(".dvc/config.local"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn level_flags_are_mutually_exclusive() {
    let r = Repo::new();
    let out = r.ferry(&["remote", "list", "--local", "--global"]);
    assert_eq!(out.status.code(), Some(254));
}

#[test]
fn environment_overrides_any_remote_key() {
    let r = Repo::new();
    assert!(
        r.dvc(&[
            "remote",
            "add",
            "-d",
            "dags-hub",
            "https://dagshub.com/a/b.dvc"
        ])
        .status
        .success()
    );
    assert!(
        r.dvc(&[
            "remote",
            "modify",
            "--local",
            "dags-hub",
            "password",
            "from-file"
        ])
        .status
        .success()
    );
    assert!(
        r.dvc(&["remote", "add", "dags", "../local-store"])
            .status
            .success()
    );
    let config = ferry::config::Config::load(&r.path().join(".dvc")).unwrap();
    let vars = [
        ("FERRY_REMOTE_DAGS_HUB_PASSWORD", "from-env"),
        ("FERRY_REMOTE_DAGS_HUB_USER", "ci"),
        ("FERRY_REMOTE_DAGS_JOBS", "3"),
    ]
    .map(|(k, v)| (k.to_string(), v.to_string()));
    let spec = config
        .remote_with_env("dags-hub", vars.clone().into_iter())
        .unwrap();
    assert_eq!(spec.options["password"], "from-env");
    assert_eq!(spec.options["user"], "ci");
    assert!(!spec.options.contains_key("jobs"));
    assert!(!format!("{spec:?}").contains("from-env"));
    let spec = config.remote_with_env("dags", vars.into_iter()).unwrap();
    assert_eq!(spec.options["jobs"], "3");
    assert!(!spec.options.contains_key("hub_password"));
    // The relative local URL is resolved against .dvc/, as dvc does.
    let store = r.path().parent().unwrap().join("local-store");
    assert_eq!(spec.url, store.to_string_lossy());
    // Without overrides, the file's value.
    let spec = config
        .remote_with_env("dags-hub", std::iter::empty())
        .unwrap();
    assert_eq!(spec.options["password"], "from-file");

    // remote://base/path inherits the base's URL and options under its own (as dvc does).
    assert!(
        r.dvc(&["remote", "add", "imgs", "remote://dags-hub/sub/dir"])
            .status
            .success()
    );
    assert!(
        r.dvc(&["remote", "modify", "imgs", "user", "alice"])
            .status
            .success()
    );
    let config = ferry::config::Config::load(&r.path().join(".dvc")).unwrap();
    let spec = config.remote_with_env("imgs", std::iter::empty()).unwrap();
    assert_eq!(spec.url, "https://dagshub.com/a/b.dvc/sub/dir");
    assert_eq!(spec.options["user"], "alice");
    assert_eq!(spec.options["password"], "from-file");
}

#[test]
fn ferry_settings_go_to_ferry_toml() {
    let r = Repo::new();
    ok(r.levels
        .apply(&mut ferry(r.path()))
        .args(["remote", "add", "-d", "myremote", "s3://b/p"]));
    ok(r.levels.apply(&mut ferry(r.path())).args([
        "remote",
        "add",
        "dagshub",
        "https://dagshub.com/a/b.dvc",
    ]));
    let dvc_config = r.file(".dvc/config");
    write(
        r.path(),
        ".dvc/ferry.toml",
        "# Ferry settings\n[pull]\norder = [\"myremote\", \"dagshub\"]   # fast first\n",
    );
    for (k, v) in [
        ("daily_download_limit", "1GB"),
        ("daily_request_limit", "2500"),
        ("budget_reset", "Europe/Berlin"),
    ] {
        ok(r.levels
            .apply(&mut ferry(r.path()))
            .args(["remote", "modify", "myremote", k, v]));
    }
    assert_eq!(r.file(".dvc/config"), dvc_config, "DVC's file untouched");
    assert!(
        r.dvc(&["remote", "default", "myremote"]).status.success(),
        "dvc still loads the config"
    );
    let toml = r.file(".dvc/ferry.toml").unwrap();
    assert!(
        toml.starts_with(
            "# Ferry settings\n[pull]\norder = [\"myremote\", \"dagshub\"]   # fast first\n"
        ),
        "{toml}"
    );
    let dvc_dir = r.path().join(".dvc");
    let s = ferry::config::ferry::FerrySettings::load(&dvc_dir).unwrap();
    let b = s.remote("myremote");
    assert_eq!(b.daily_download_limit.map(|x| x.0), Some(1_000_000_000));
    assert_eq!(b.daily_request_limit, Some(2500));
    assert_eq!(b.budget_reset.name, "Europe/Berlin");

    // Bad values and levels are refused with 251, naming the key; nothing changes.
    for args in [
        vec![
            "remote",
            "modify",
            "myremote",
            "budget_reset",
            "Mars/Olympus",
        ],
        vec![
            "remote",
            "modify",
            "myremote",
            "daily_download_limit",
            "lots",
        ],
        vec![
            "remote",
            "modify",
            "--local",
            "myremote",
            "daily_request_limit",
            "5",
        ],
        vec!["remote", "modify", "ghost", "daily_request_limit", "5"],
    ] {
        let out = r.ferry(&args);
        assert_eq!(
            out.status.code(),
            Some(251),
            "{args:?}: {}",
            all_output(&out)
        );
    }
    assert_eq!(r.file(".dvc/ferry.toml").unwrap(), toml);

    // -v shows the settings; rename and remove keep the file consistent.
    let listed = text(&r.ferry(&["remote", "list", "-v"]).stdout);
    assert!(listed.contains("daily_download_limit = 1GB"), "{listed}");
    ok(r.levels
        .apply(&mut ferry(r.path()))
        .args(["remote", "rename", "myremote", "backblaze"]));
    let config = ferry::config::Config::load(&dvc_dir).unwrap();
    let s = ferry::config::ferry::FerrySettings::load(&dvc_dir).unwrap();
    assert_eq!(s.pull_order(&config), vec!["backblaze", "dagshub"]);
    assert_eq!(s.remote("backblaze").daily_request_limit, Some(2500));
    ok(r.levels
        .apply(&mut ferry(r.path()))
        .args(["remote", "remove", "backblaze"]));
    let s = ferry::config::ferry::FerrySettings::load(&dvc_dir).unwrap();
    assert_eq!(s.pull.order, Some(vec!["dagshub".to_string()]));
    assert!(s.remote.is_empty());

    // Defaults: the default remote first, then the others in config order.
    std::fs::remove_file(dvc_dir.join("ferry.toml")).unwrap();
    ok(r.levels
        .apply(&mut ferry(r.path()))
        .args(["remote", "add", "a", "/tmp/a"]));
    ok(r.levels
        .apply(&mut ferry(r.path()))
        .args(["remote", "default", "a"]));
    let config = ferry::config::Config::load(&dvc_dir).unwrap();
    let s = ferry::config::ferry::FerrySettings::load(&dvc_dir).unwrap();
    assert_eq!(s.pull_order(&config), vec!["a", "dagshub"]);
    assert_eq!(s.push_remotes(&config), vec!["a"]);

    // Secrets are refused in the tracked file.
    write(
        r.path(),
        ".dvc/ferry.toml",
        "[remote.a]\npassword = \"oops\"\n",
    );
    let out = r.ferry(&["remote", "list", "-v"]);
    assert_eq!(out.status.code(), Some(251));
    assert!(text(&out.stderr).contains("secret"), "{}", all_output(&out));
    assert!(!all_output(&out).contains("oops"));
    // ... and nothing is half done while it is there.
    let before = r.file(".dvc/config");
    let out = r.ferry(&["remote", "rename", "a", "b"]);
    assert_eq!(out.status.code(), Some(251), "{}", all_output(&out));
    assert_eq!(r.file(".dvc/config"), before);
}

#[test]
fn presets_write_plain_dvc_config() {
    let r = Repo::new();
    let out = run(r
        .levels
        .apply(&mut ferry(r.path()))
        .env("MY_DAGSHUB_TOKEN", "t0ken-value")
        .args([
            "remote",
            "add",
            "-d",
            "dagshub",
            "dagshub://alice/proj",
            "--token-env",
            "MY_DAGSHUB_TOKEN",
        ]));
    assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
    assert!(!all_output(&out).contains("t0ken-value"));
    let out = r.ferry(&[
        "remote",
        "add",
        "backblaze",
        "b2://my-bucket/dvcstore",
        "--region",
        "us-west-004",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
    let said = text(&out.stdout);
    assert!(said.contains("DVC itself does not know b2://"), "{said}");
    assert!(
        said.contains("ferry remote modify --local backblaze access_key_id"),
        "{said}"
    );
    assert!(
        said.contains("ferry remote modify --local backblaze secret_access_key"),
        "{said}"
    );
    assert_eq!(
        r.file(".dvc/config").unwrap(),
        "[core]\n    remote = dagshub\n['remote \"dagshub\"']\n    url = https://dagshub.com/alice/proj.dvc\n\
         ['remote \"backblaze\"']\n    url = s3://my-bucket/dvcstore\n    endpointurl = https://s3.us-west-004.backblazeb2.com\n    region = us-west-004\n"
    );
    assert_eq!(
        r.file(".dvc/config.local").unwrap(),
        "['remote \"dagshub\"']\n    auth = basic\n    user = alice\n    password = t0ken-value\n"
    );
    // The result works in dvc too.
    let listed = r.dvc(&["remote", "list"]);
    assert_eq!(listed.status.code(), Some(0), "{}", all_output(&listed));
    assert!(
        r.dvc(&["remote", "modify", "backblaze", "use_ssl", "true"])
            .status
            .success()
    );

    // No token and no terminal: say which command sets it.
    let out = r.ferry(&["remote", "add", "dh2", "dagshub://bob/data"]);
    assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
    assert!(
        all_output(&out).contains("ferry remote modify --local dh2 password"),
        "{}",
        all_output(&out)
    );
    // b2:// without --region is refused with a hint; nothing is written.
    let before = r.file(".dvc/config");
    let out = r.ferry(&["remote", "add", "b3", "b2://bucket/x"]);
    assert_eq!(out.status.code(), Some(251));
    assert!(
        text(&out.stderr).contains("hint: add `--region"),
        "{}",
        all_output(&out)
    );
    assert_eq!(r.file(".dvc/config"), before);
    // An unset --token-env variable is an error before anything is written.
    let out = r.ferry(&[
        "remote",
        "add",
        "dh3",
        "dagshub://c/d",
        "--token-env",
        "FERRY_TEST_UNSET_VAR",
    ]);
    assert_eq!(out.status.code(), Some(251));
    assert_eq!(r.file(".dvc/config"), before);
}

#[test]
fn every_remote_command_has_examples_in_its_help() {
    let dir = tempfile::tempdir().unwrap();
    for sub in ["add", "list", "rename", "remove", "modify", "default"] {
        let help = ok(ferry(dir.path()).args(["remote", sub, "--help"]));
        assert!(help.contains("Examples:\n  ferry remote"), "{sub}: {help}");
    }
    assert!(ok(ferry(dir.path()).args(["remote", "--help"])).contains("Examples:"));
}

#[test]
fn value_quoting_matches_dvc_and_reads_back() {
    let values = [
        "a#b",
        "a,b",
        " a",
        "a ",
        "'x'",
        "\"x\"",
        "a'b",
        "a b",
        "x#y'z\"",
        "",
        "a=b;c",
        "x\"y'z",
        "tab\tin",
        "[x]",
        "a\\b",
        "p#a,s s\"w",
        "a'''b\"",
        "multi\nline",
    ];
    let mut steps: Vec<(&str, Vec<&str>)> =
        vec![("", vec!["remote", "add", "h", "https://x.org/a"])];
    for v in values {
        steps.push(("", vec!["remote", "modify", "h", "user", v]));
    }
    let steps: Vec<(&str, &[&str])> = steps.iter().map(|(s, a)| (*s, a.as_slice())).collect();
    compare(&steps);
    // Each value survives a round trip through the other tool.
    let d = Repo::new();
    let f = Repo::new();
    assert!(
        d.dvc(&["remote", "add", "h", "https://x.org/a"])
            .status
            .success()
    );
    ok(f.levels
        .apply(&mut ferry(f.path()))
        .args(["remote", "add", "h", "https://x.org/a"]));
    for v in values {
        assert!(
            d.dvc(&["remote", "modify", "h", "user", v])
                .status
                .success()
        );
        let config = ferry::config::Config::load(&d.path().join(".dvc")).unwrap();
        let spec = config.remote_with_env("h", std::iter::empty()).unwrap();
        assert_eq!(spec.options["user"], v, "ferry reading dvc's {v:?}");
        ok(f.levels
            .apply(&mut ferry(f.path()))
            .args(["remote", "modify", "h", "user", v]));
        let got = f.dvc(&["config", "remote.h.user"]);
        assert_eq!(
            text(&got.stdout),
            format!("{v}\n"),
            "dvc reading ferry's {v:?}"
        );
    }
}
