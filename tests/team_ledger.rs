//! The team ledger (`[team] ledger = "NAME"` in `.dvc/ferry.toml`): machines with separate
//! state directories share one remote's daily limits through records on a shared remote. The
//! limited remote is SeaweedFS behind the counting proxy, so what was downloaded is counted at
//! the server.
mod budget_fixture;
mod common;

use std::path::{Path, PathBuf};

use budget_fixture::Project;
use common::fixture::{S3Prefix, classes, out_text, served};
use common::*;

/// Each output is a directory of 3 files of 1,000 bytes.
const FILE: u64 = 1_000;

/// `a/` and `b/` on `backblaze` (through `proxy`, limited to `limit` bytes a day) and on a
/// local `disk`, pulled in that order; `team` goes into `.dvc/ferry.toml` as written.
fn project(
    proxy: &HttpServer,
    s3: &S3Prefix,
    limit: u64,
    team: &str,
) -> (Project, tempfile::TempDir) {
    let p = Project::new(&[("a", 3, FILE as usize), ("b", 3, FILE as usize)]);
    let st = tempfile::tempdir().unwrap();
    let disk = tempfile::tempdir().unwrap();
    p.add_s3(
        st.path(),
        "backblaze",
        s3,
        proxy.url("").trim_end_matches('/'),
    );
    p.ok(
        p.src(),
        st.path(),
        &["remote", "add", "disk", &disk.path().display().to_string()],
    );
    let limit = limit.to_string();
    p.ok(
        p.src(),
        st.path(),
        &[
            "remote",
            "modify",
            "backblaze",
            "daily_download_limit",
            &limit,
        ],
    );
    let toml = p.src().join(".dvc/ferry.toml");
    let mut text = std::fs::read_to_string(&toml).unwrap();
    text += &format!("\n[pull]\norder = [\"backblaze\", \"disk\"]\n{team}");
    std::fs::write(&toml, text).unwrap();
    p.ok(p.src(), st.path(), &["push", "--all-remotes"]);
    p.commit();
    (p, disk)
}

/// A machine: a clone with its own state directory and the S3 credentials.
fn machine(p: &mut Project) -> (PathBuf, tempfile::TempDir) {
    let clone = p.clone_repo();
    let state = tempfile::tempdir().unwrap();
    p.credentials(&clone, state.path(), "backblaze");
    (clone, state)
}

fn pull(p: &Project, dir: &Path, state: &Path, out: &str) -> std::process::Output {
    let o = p.run(dir, state, &["pull", out]);
    assert_eq!(o.status.code(), Some(0), "{}", out_text(&o));
    for f in 0..3 {
        assert!(
            dir.join(format!("{out}/f{f:03}")).is_file(),
            "{}",
            out_text(&o)
        );
    }
    o
}

/// Two machines pull one after the other from a remote limited to 4,000 bytes a day: the
/// second learns from the team ledger what the first used and takes only what is left (the
/// rest from the next remote), so the server sends no more than the limit in all. Without
/// the team ledger, a third machine passes the limit: the test can fail.
#[test]
fn two_machines_stay_within_one_shared_limit() {
    let proxy = HttpServer::s3_proxy(&s3_endpoint());
    let s3 = S3Prefix::new("team");
    let limit = 4_000;
    let (mut p, _disk) = project(&proxy, &s3, limit, "\n[team]\nledger = \"backblaze\"\n");
    let (a_len, b_len) = (p.manifest_len("a"), p.manifest_len("b"));
    let base = served(&proxy);

    let (one, one_state) = machine(&mut p);
    let seen_before = classes(&proxy.log());
    pull(&p, &one, one_state.path(), "a");
    let first = served(&proxy) - base;
    assert_eq!(
        first,
        a_len + 3 * FILE,
        "machine one takes all of a/ from backblaze"
    );
    // The team ledger's own calls (its LISTs; the uploads are Class A) are in machine one's
    // meters with the pull's, exactly as the server counted them (the usage command's own LIST
    // of the records included).
    let row = &p.usage(&one, one_state.path())["backblaze"];
    let seen = classes(&proxy.log());
    let own = |key: &str| row[key].as_u64().unwrap() - row["team"]["others"][key].as_u64().unwrap();
    assert_eq!(own("lists"), seen.class_c - seen_before.class_c, "{row}");
    assert_eq!(own("requests"), seen.class_b - seen_before.class_b, "{row}");

    let (two, two_state) = machine(&mut p);
    let out = pull(&p, &two, two_state.path(), "b");
    let second = served(&proxy) - base - first;
    assert_eq!(
        second, b_len,
        "only b's manifest fits in what the team left"
    );
    assert!(first + second <= limit, "{first} + {second} > {limit}");
    assert!(text(&out.stdout).contains("disk"), "{}", out_text(&out));

    // The records of the pushing machine and of both pulling ones are on the shared remote,
    // with their figures in their names.
    let records: Vec<String> = s3
        .keys()
        .into_iter()
        .filter(|k| k.starts_with("ferry-team/v1/"))
        .collect();
    assert_eq!(records.len(), 3, "{records:?}");
    let bytes: Vec<u64> = records
        .iter()
        .map(|k| k.rsplit('_').nth(2).unwrap().parse().unwrap())
        .collect();
    assert_eq!(bytes.iter().sum::<u64>(), first + second, "{records:?}");

    // `remote usage` on machine two: the team total and each member's share.
    let usage = p.usage(&two, two_state.path());
    let team = &usage["backblaze"]["team"];
    assert_eq!(team["others"]["bytes"], first, "{team}");
    assert_eq!(team["members"].as_array().unwrap().len(), 3, "{team}");
    assert_eq!(usage["backblaze"]["bytes"], first + second);
    let shown = p.ok(&two, two_state.path(), &["remote", "usage"]);
    assert!(
        shown.starts_with("team ledger on 'backblaze'; this machine is member "),
        "{shown}"
    );
    assert!(shown.contains("published by 3 members"), "{shown}");
    assert!(shown.contains(" (this machine)  "), "{shown}");

    // A third machine with the team ledger off sees only its own (empty) ledger.
    let (three, three_state) = machine(&mut p);
    let toml = three.join(".dvc/ferry.toml");
    let text_toml = std::fs::read_to_string(&toml).unwrap();
    std::fs::write(
        &toml,
        text_toml.replace("[team]\nledger = \"backblaze\"\n", ""),
    )
    .unwrap();
    pull(&p, &three, three_state.path(), "a");
    let all = served(&proxy) - base;
    assert!(
        all > limit,
        "without the team ledger the limit is passed ({all})"
    );
}

/// Records that cannot be read (the shared remote does not answer): the pull goes on with the
/// local ledger and says so.
#[test]
fn unreadable_records_fall_back_to_the_local_ledger_and_say_so() {
    let proxy = HttpServer::s3_proxy(&s3_endpoint());
    let s3 = S3Prefix::new("team-down");
    let (mut p, _disk) = project(&proxy, &s3, 1_000_000, "\n[team]\nledger = \"shared\"\n");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    drop(listener);
    let st = tempfile::tempdir().unwrap();
    p.ok(
        p.src(),
        st.path(),
        &["remote", "add", "shared", &S3Prefix::new("nobody").url()],
    );
    p.ok(
        p.src(),
        st.path(),
        &["remote", "modify", "shared", "endpointurl", &dead],
    );
    p.commit();
    let (one, one_state) = machine(&mut p);
    p.credentials(&one, one_state.path(), "shared");
    let out = pull(&p, &one, one_state.path(), "a");
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("cannot read the team ledger on remote 'shared'")
            && stderr.contains("the daily limits count this machine's use only"),
        "{stderr}"
    );
    assert_eq!(
        p.usage(&one, one_state.path())["backblaze"]["bytes"],
        served(&proxy)
    );
}
