//! The budget-optimal plan: when a limited remote cannot serve everything, the objects it
//! serves are chosen to get the most bytes from it within its limits, the dry run shows that
//! plan, and the pull follows it (counted at the proxy in front of SeaweedFS).
mod budget_fixture;
mod common;

use budget_fixture::Project;
use common::fixture::{S3Prefix, out_text, served};
use common::*;

/// Six 100-byte files come before three 5,000-byte ones; the limited remote allows 5 GETs a
/// day, two of them for the directories' manifests. Routing in order would take three small
/// files from it (300 bytes); the plan takes the three large ones (15,000 bytes), the rest
/// comes from the second remote. The dry run says so, and the pull (on a fresh day, so the dry
/// run's manifest GETs do not count) does exactly that.
#[test]
fn under_a_call_limit_the_plan_takes_the_large_objects_and_the_pull_follows_it() {
    let mut p = Project::new(&[("a_small", 6, 100), ("b_large", 3, 5_000)]);
    let st = tempfile::tempdir().unwrap();
    let proxy = HttpServer::s3_proxy(&s3_endpoint());
    let s3 = S3Prefix::new("plan");
    let disk = tempfile::tempdir().unwrap();
    p.add_s3(
        st.path(),
        "backblaze",
        &s3,
        proxy.url("").trim_end_matches('/'),
    );
    p.ok(p.src(), st.path(), &["remote", "default", "backblaze"]);
    p.ok(
        p.src(),
        st.path(),
        &["remote", "add", "disk", &disk.path().display().to_string()],
    );
    p.ok(p.src(), st.path(), &["push", "--all-remotes"]);
    p.ok(
        p.src(),
        st.path(),
        &["remote", "modify", "backblaze", "daily_request_limit", "5"],
    );
    p.commit();
    let manifests: u64 = ["a_small", "b_large"]
        .iter()
        .map(|out| p.manifest_len(out))
        .sum();

    let clone = p.clone_repo();
    let state = tempfile::tempdir().unwrap();
    p.credentials(&clone, state.path(), "backblaze");
    let out = p.run(&clone, state.path(), &["pull", "--dry-run"]);
    assert_eq!(out.status.code(), Some(0), "{}", out_text(&out));
    let stdout = text(&out.stdout);
    let planned = row(&stdout, "backblaze");
    assert_eq!(planned[1], "5", "2 manifests + 3 large files: {stdout}");
    assert_eq!(
        planned[2],
        ferry::ui::human_bytes(manifests + 15_000),
        "{stdout}"
    );
    assert_eq!(planned[4], "0 requests left", "{stdout}");
    assert_eq!(row(&stdout, "disk")[1], "6", "{stdout}");
    assert!(
        manifests + 15_000 > manifests + 3 * 100,
        "more bytes than routing in order"
    );

    let before = served(&proxy);
    let out = p.run_at(&clone, state.path(), "2026-11-28T12:00:00Z", &["pull"]);
    assert_eq!(out.status.code(), Some(0), "{}", out_text(&out));
    assert_eq!(
        served(&proxy) - before,
        manifests + 15_000,
        "the pull took what the plan said: {}",
        out_text(&out)
    );
    let stdout = text(&out.stdout);
    assert_eq!(row(&stdout, "backblaze")[1], "5", "{stdout}");
    assert_eq!(row(&stdout, "disk")[1], "6", "{stdout}");
    for (out, n, size) in [("a_small", 6, 100), ("b_large", 3, 5_000)] {
        for f in 0..n {
            let got = std::fs::read(clone.join(format!("{out}/f{f:03}"))).unwrap();
            assert_eq!(got.len(), size);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Redundancy at push time
// ---------------------------------------------------------------------------------------------

fn files_in(dir: &std::path::Path) -> usize {
    let mut n = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                n += 1;
            }
        }
    }
    n
}

/// With `redundancy.min_copies = 2` and no `push.remotes`, a plain push says which remotes it
/// leaves without copies (and fans out once `push.remotes` is set); `push -r X` on a fresh
/// clone whose objects are only on another remote points to `ferry sync --to X` instead of
/// saying everything is up to date.
#[test]
fn push_names_the_missing_copies_and_points_to_sync() {
    let mut p = Project::new(&[("data", 3, 100)]);
    let st = tempfile::tempdir().unwrap();
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    for (name, dir) in [("a", &a), ("b", &b)] {
        p.ok(
            p.src(),
            st.path(),
            &["remote", "add", name, &dir.path().display().to_string()],
        );
    }
    p.ok(p.src(), st.path(), &["remote", "default", "a"]);
    let toml = p.src().join(".dvc/ferry.toml");
    std::fs::write(&toml, "[redundancy]\nmin_copies = 2\n").unwrap();
    let out = p.run(p.src(), st.path(), &["push"]);
    assert_eq!(out.status.code(), Some(0), "{}", out_text(&out));
    assert!(
        text(&out.stderr).contains(
            "WARNING: redundancy.min_copies is 2, but a plain push sends to 'a' only; not pushed to: 'b'. Run `ferry push --all-remotes` (or `ferry sync --to b`), or set push.remotes in .dvc/ferry.toml so every push fans out"
        ),
        "{}",
        out_text(&out)
    );
    assert_eq!((files_in(a.path()), files_in(b.path())), (4, 0));
    p.commit();

    let clone = p.clone_repo();
    let cs = tempfile::tempdir().unwrap();
    let out = p.run(&clone, cs.path(), &["push", "-r", "b"]);
    assert_eq!(out.status.code(), Some(0), "{}", out_text(&out));
    assert!(
        !text(&out.stdout).contains("Everything is up to date"),
        "{}",
        out_text(&out)
    );
    assert!(
        text(&out.stderr).contains("copy it remote to remote with `ferry sync --to b`"),
        "{}",
        out_text(&out)
    );
    p.ok(&clone, cs.path(), &["sync", "--to", "b"]);
    assert_eq!(files_in(b.path()), 4);

    std::fs::write(
        &toml,
        "[redundancy]\nmin_copies = 2\n[push]\nremotes = [\"a\", \"b\"]\n",
    )
    .unwrap();
    std::fs::write(p.src().join("data/f009"), b"one more").unwrap();
    p.ok(p.src(), st.path(), &["add", "-q", "data"]);
    let out = p.run(p.src(), st.path(), &["push"]);
    assert_eq!(out.status.code(), Some(0), "{}", out_text(&out));
    assert!(
        !text(&out.stderr).contains("min_copies"),
        "{}",
        out_text(&out)
    );
    assert_eq!((files_in(a.path()), files_in(b.path())), (6, 6));
}
