#!/usr/bin/env python3
"""Many small files against the filesystem's floor (issue 16), driven by `bench/run --dataset huge`.

Three rows, each on its own deterministic dataset of files of 200 B-2 KiB, 1,000 per directory:
  big row    : --files (default 1,000,000) x --scale, ferry only
  growth row : --growth-files (default 50,000) x --scale, ferry only (the big row's time per file
               is compared with this one's); its whole session (fresh repo, every step, the floor
               too) runs --growth-reps times (default 3), as its times spread +-50% run to run on a
               busy VM, wider than the growth target's margin
  dvc row    : --dvc-files (default 100,000) x --scale, dvc and ferry side by side
Per tool and row, in a fresh `git init` + `<tool> init` repo with a local-directory remote:
  floor      cp -a DATASET repo/DATASET     the copy every tool has to make at least once (timed)
  add        <tool> add DATASET             cold cache and state, page cache warm
  status     <tool> status (x2, both kept)  nothing changed
  push       <tool> push                    into the empty local remote
  push_noop  <tool> push                    nothing to do
  status_c   <tool> status -c               cache and remote compared object by object (in sync)
  sync       ferry sync --to second         ferry only: a second, empty local-directory remote is
                                            added (untimed) and filled from the cache; afterwards it
                                            is walked and must hold the first remote's relative
                                            paths with their sizes, then it is removed (untimed)
  (untimed)  rm -rf cache, workspace data, .dvc/tmp, site cache      == a fresh clone
  pull       <tool> pull                    two copies: cache and workspace
The pulled tree is checked against the generator's md5 list; a pulled tree or synced remote that
differs makes the run exit 2. Each timed command runs after an
untimed `sync` under bench.Runner (wall, user+sys, peak RSS of the process tree from wait4), and
its time runs until a `sync` after it returns (its writes are on disk), unless --time-to-exit: a big
row's dirty pages pass the kernel's writeback threshold mid-step and a small row's never do, so
time to exit would grow per file for the kernel's sake, not the tool's (bench/README.md).
Every record (results.json "runs") carries its repetition index `rep` (1 outside the growth row).
The report's figures are per (row, tool, step) medians over the successful records, so the growth
row's are the medians of its repetitions, in the main table, the growth table (to disk and to exit)
and the targets; a table below the growth table gives that row's min-max per step.
Targets (issue 16): add and push <= 1.5x floor, pull <= 2.5x floor, status and no-op push <= 1.5 s,
peak RSS <= 150 MB on every ferry step and on sync (any command), ferry's time per file in the big
row within 1.25x of the growth row's (the dvc row's when there is no growth row), for add, push and
pull. sync has no time target: the report gives its ratio to the floor.
"""
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench  # noqa: E402

STEPS = ["floor", "add", "status", "push", "push_noop", "status_c", "sync", "pull"]
SECOND = "second"   # the name of the remote `ferry sync --to` fills
PER_DIR = 1000
MB = 1e6


def generate(root, files, seed=20261201):
    """`files` files of 200-2048 random bytes, PER_DIR per directory (`dNNNN/fNNNNNNN.bin`), one PRNG
    stream: the same seed and count give byte-identical trees. Returns the path of the md5 list
    (a header line, then `path md5` a line), written beside the tree as `<root>.md5` so a rerun
    costs nothing. The list is never held in memory: a forked timed command would inherit the
    harness's resident size in its peak RSS (Linux counts the pre-exec high-water mark)."""
    listing = root + ".md5"
    header = json.dumps({"files": files, "seed": seed, "per_dir": PER_DIR})
    if os.path.isdir(root) and os.path.exists(listing):
        with open(listing) as f:
            if f.readline().strip() == header:
                bench.log(f"dataset {root}: already generated ({files} files)")
                return listing
    shutil.rmtree(root, ignore_errors=True)
    t = time.monotonic()
    rng = random.Random(seed)
    with open(listing + ".tmp", "w") as out:
        out.write(header + "\n")
        for i in range(files):
            d = f"d{i // PER_DIR:04d}"
            if i % PER_DIR == 0:
                os.makedirs(os.path.join(root, d))
            rel = f"{d}/f{i:07d}.bin"
            data = rng.randbytes(rng.randint(200, 2048))
            with open(os.path.join(root, rel), "wb") as f:
                f.write(data)
            out.write(f"{rel} {hashlib.md5(data).hexdigest()}\n")
    os.replace(listing + ".tmp", listing)
    bench.log(f"dataset {root}: {files} files generated in {time.monotonic() - t:.0f} s")
    return listing


def verify(tree, listing):
    """Whether `tree` holds exactly the files of the md5 list `listing` with those md5s (and
    nothing else), reading the list line by line."""
    wanted = 0
    with open(listing) as f:
        f.readline()
        for line in f:
            rel, md5 = line.split()
            try:
                with open(os.path.join(tree, rel), "rb") as g:
                    if hashlib.md5(g.read()).hexdigest() != md5:
                        return f"{rel}: different bytes"
            except FileNotFoundError:
                return f"{rel}: missing"
            wanted += 1
    seen = sum(len(fs) for _, _, fs in os.walk(tree))
    return "identical" if seen == wanted else f"{seen - wanted} file(s) not in the dataset"


def tree_files(root):
    """(path components, size) of every non-directory under `root`, in an order both of two trees
    share (each directory's entries sorted by name, depth first): one directory's entries in memory
    at a time, for the same reason as `generate`'s list."""
    def walk(d, parts):
        with os.scandir(d) as it:
            entries = sorted(it, key=lambda e: e.name)
        for e in entries:
            if e.is_dir(follow_symlinks=False):
                yield from walk(e.path, parts + (e.name,))
            else:
                yield parts + (e.name,), e.stat(follow_symlinks=False).st_size
    if os.path.isdir(root):
        yield from walk(root, ())


def compare_trees(want, got, shown=3):
    """Whether tree `got` holds the files of tree `want` (same relative paths and sizes, nothing
    else): {"verdict": "identical" or what differs, "files": [want's, got's], "bytes": [...]}."""
    a, b = tree_files(want), tree_files(got)
    x, y = next(a, None), next(b, None)
    files, size, diffs, n = [0, 0], [0, 0], [], 0
    while x or y:
        if y is None or (x and x[0] < y[0]):
            what, x_, y_ = f"{'/'.join(x[0])}: missing from the copy", True, False
        elif x is None or y[0] < x[0]:
            what, x_, y_ = f"{'/'.join(y[0])}: not in the original", False, True
        else:
            what = None if x[1] == y[1] else f"{'/'.join(x[0])}: {y[1]} bytes, not {x[1]}"
            x_, y_ = True, True
        if what:
            n += 1
            if len(diffs) < shown:
                diffs.append(what)
        if x_:
            files[0], size[0] = files[0] + 1, size[0] + x[1]
            x = next(a, None)
        if y_:
            files[1], size[1] = files[1] + 1, size[1] + y[1]
            y = next(b, None)
    verdict = "identical" if not n else f"{n} difference(s): " + "; ".join(diffs) + ("; …" if n > shown else "")
    return {"verdict": verdict, "files": files, "bytes": size}


def session(a, runner, records, tool, exe, files, src, listing, rep=1, reps=1):
    """One tool on one row (repetition `rep` of `reps`): every step of STEPS, recorded into `records`."""
    name = os.path.basename(src)
    w = os.path.join(a.work, "runs", f"huge-{files}", tool)
    repo, remote, site = os.path.join(w, "repo"), os.path.join(w, "remote"), os.path.join(w, "site-cache")
    shutil.rmtree(w, ignore_errors=True)
    os.makedirs(repo)
    os.makedirs(remote)
    env = dict(os.environ, DVC_SITE_CACHE_DIR=site)
    env = {k: v for k, v in env.items() if not k.startswith("FERRY_LOG")}
    q = runner.quiet
    q(["git", "init", "-q", "-b", "main"], repo, env)
    q([exe, "init", "-q"], repo, env)
    q([exe, "remote", "add", "-d", "bench", remote], repo, env)
    q(["git", "add", "-A"], repo, env)
    q(["git", "commit", "-qm", "init"], repo, env)

    tag = f"huge-{files}-{tool}" + (f"-r{rep}" if reps > 1 else "")
    who = f"{tool} r{rep}/{reps}" if reps > 1 else tool

    def timed(step, argv, sub=None):
        r = runner.timed(f"{tag}-{sub or step}", argv, repo, env, durable=not a.time_to_exit)
        r.update(tool=tool, files=files, step=step, rep=rep)
        records.append(r)
        ok = r["rc"] == 0
        bench.log(f"  {files:>8} {who:5s} {step:9s} {r['wall_s'] or 0:8.2f}s cpu {r.get('cpu_s', 0):7.2f}s "
                  f"rss {r.get('maxrss_kib', 0) / 1024:6.0f}MiB load {r.get('load1', 0):.1f} "
                  + ("ok" if ok else f"FAILED: {r.get('error', '')}"))
        return ok

    timed("floor", ["cp", "-a", src, os.path.join(repo, name)])
    if timed("add", [exe, "add", name]):
        q(["git", "add", "-A"], repo, env, check=False)
        q(["git", "commit", "-qm", "add"], repo, env, check=False)
        timed("status", [exe, "status"], "status1")
        timed("status", [exe, "status"], "status2")
        if timed("push", [exe, "push"]):
            timed("push_noop", [exe, "push"])
            timed("status_c", [exe, "status", "-c"])
            if tool == "ferry":
                sync_step(runner, records, exe, repo, env, remote, os.path.join(w, "remote2"), files, rep,
                          timed)
            for p in (os.path.join(repo, ".dvc", "cache"), os.path.join(repo, name),
                      os.path.join(repo, ".dvc", "tmp"), site):
                shutil.rmtree(p, ignore_errors=True)
            if timed("pull", [exe, "pull"]):
                got = verify(os.path.join(repo, name), listing)
                records[-1]["verified"] = got
                bench.log(f"  verify {who} pull of {files} files: {got}")
    if not a.keep:
        shutil.rmtree(w, ignore_errors=True)
        if os.path.ismount(a.work):
            subprocess.run(["fstrim", a.work], capture_output=True)


def sync_step(runner, records, exe, repo, env, remote, second, files, rep, timed):
    """ferry only: add an empty local-directory remote SECOND, time `ferry sync --to SECOND`, check
    that it holds what `remote` holds, then remove it again (untimed), so `pull` runs against the
    one remote as before."""
    os.makedirs(second)
    p = runner.quiet([exe, "remote", "add", SECOND, second], repo, env, check=False)
    if p.returncode != 0:
        records.append({"rc": p.returncode, "wall_s": None, "tool": "ferry", "files": files, "step": "sync",
                        "rep": rep, "error": f"ferry remote add {SECOND} failed: {bench.first_error_line(p.stdout)}"})
        bench.log(f"  {files:>8} ferry sync: FAILED: {records[-1]['error']}")
    elif timed("sync", [exe, "sync", "--to", SECOND]):
        got = compare_trees(remote, second)
        records[-1].update(remote_copy=got["verdict"], remote_files=got["files"], remote_bytes=got["bytes"])
        bench.log(f"  verify ferry sync of {files} files: {got['verdict']} ({got['files'][1]} files, "
                  f"{got['bytes'][1]} bytes; the pushed remote {got['files'][0]}, {got['bytes'][0]})")
    runner.quiet([exe, "remote", "remove", SECOND], repo, env, check=False)
    shutil.rmtree(second, ignore_errors=True)


def summarize(records):
    """Median wall (to disk and to exit), CPU, load, the largest peak RSS and the wall's min and max per
    (files, tool, step) over the successful runs (a row's repetitions, both status runs)."""
    out = {}
    for r in records:
        out.setdefault((r["files"], r["tool"], r["step"]), []).append(r)
    s = {}
    for k, rs in out.items():
        ok = [r for r in rs if r["rc"] == 0]
        s[k] = {"runs": len(rs), "ok": len(ok), "error": next((r.get("error") for r in rs if r["rc"]), None)}
        if ok:
            walls = [r["wall_s"] for r in ok if r.get("wall_s") is not None]
            exits = [r["exit_s"] for r in ok if r.get("exit_s") is not None]
            s[k].update(reps=len({r.get("rep", 1) for r in ok}),
                        wall_min_s=min(walls, default=None), wall_max_s=max(walls, default=None),
                        exit_min_s=min(exits, default=None), exit_max_s=max(exits, default=None))
            s[k].update(wall_s=bench.med(ok, "wall_s"), exit_s=bench.med(ok, "exit_s"),
                        user_s=bench.med(ok, "user_s"), sys_s=bench.med(ok, "sys_s"),
                        maxrss_mib=max(r["maxrss_kib"] for r in ok) / 1024, load1=bench.med(ok, "load1"))
    return s


def roles(a):
    """The rows of a run from its arguments: (big, growth, dvc) file counts, 0 for a row not run."""
    n = lambda files: max(1, int(files * a.scale)) if files else 0
    return n(a.files), n(getattr(a, "growth_files", 0)), n(a.dvc_files)


def growth_pair(rows, roles_):
    """(big, small) rows whose ferry time per file the growth target compares, or None: the big row
    against the growth row, else against the dvc row."""
    big, growth, dvc = roles_
    small = growth if growth in rows and growth != big else (dvc if dvc in rows and dvc != big else 0)
    return (big, small) if big in rows and small else None


def targets(s, rows, roles_=None):
    """Issue 16's targets: met / missed / n/a with the figure. `roles_` is (big, growth, dvc) as
    from `roles`; without it the largest and smallest of `rows` are the growth pair."""
    t = []

    def add(name, value, limit):
        verdict = "n/a" if value is None else ("met" if value <= limit else "missed")
        t.append({"target": name, "value": None if value is None else round(value, 3), "limit": limit,
                  "verdict": verdict})

    def wall(files, tool, step):
        return (s.get((files, tool, step)) or {}).get("wall_s")

    for files in rows:
        floor = wall(files, "ferry", "floor")
        for step, limit in (("add", 1.5), ("push", 1.5), ("pull", 2.5)):
            add(f"{files} files {step}: ferry / floor ≤ {limit}×", bench.ratio(wall(files, "ferry", step), floor), limit)
        for step in ("status", "push_noop"):
            add(f"{files} files {step}: ≤ 1.5 s", wall(files, "ferry", step), 1.5)
        rss = [v["maxrss_mib"] * (1 << 20) / MB for k, v in s.items()
               if k[0] == files and k[1] == "ferry" and k[2] != "floor" and v.get("maxrss_mib")]
        add(f"{files} files: peak RSS ≤ 150 MB on every ferry step", max(rss) if rss else None, 150)
        sync = (s.get((files, "ferry", "sync")) or {}).get("maxrss_mib")
        add(f"{files} files sync: peak RSS ≤ 150 MB", sync * (1 << 20) / MB if sync else None, 150)
    pair = growth_pair(rows, roles_) if roles_ else ((max(rows), min(rows)) if len(rows) > 1 else None)
    if pair:
        big, small = pair
        for step in ("add", "push", "pull"):
            b, m = wall(big, "ferry", step), wall(small, "ferry", step)
            add(f"{step}: time per file at {big} within 1.25× of {small}",
                bench.ratio(b / big if b else None, m / small if m else None), 1.25)
    return t


def growth_line(s, pair, step):
    """One row of the growth table: ferry's (or the floor's) time per file in both rows."""
    (big, small), k = pair, "ferry"
    per = lambda files, key: (lambda v: v / files if v else None)((s.get((files, k, step)) or {}).get(key))
    b, m = per(big, "wall_s"), per(small, "wall_s")
    return (f"| {step} | {bench.fmt(b * 1e6 if b else None, 1)} | {bench.fmt(m * 1e6 if m else None, 1)} | "
            f"{bench.fmt(bench.ratio(b, m), 2)} | {bench.fmt(bench.ratio(per(big, 'exit_s'), per(small, 'exit_s')), 2)} |")


def spread_line(s, files, step):
    """One row of the growth row's spread table: runs, median and min-max, to disk and to exit."""
    v = s.get((files, "ferry", step)) or {}
    med, lo, hi = v.get("wall_s"), v.get("wall_min_s"), v.get("wall_max_s")
    rel = bench.ratio(hi - lo, med) if med is not None and lo is not None and hi is not None else None
    rng = lambda x, y: f"{bench.fmt(x)}–{bench.fmt(y)}" if x is not None and y is not None else "–"
    return (f"| {step} | {v.get('ok', 0)}/{v.get('runs', 0)} | {bench.fmt(med)} | {rng(lo, hi)} | "
            f"{bench.fmt(rel * 100 if rel is not None else None, 0)} % | {bench.fmt(v.get('exit_s'))} | "
            f"{rng(v.get('exit_min_s'), v.get('exit_max_s'))} |")


def spread(s, files):
    """The growth row's spread per step, for results.json."""
    keys = ("runs", "ok", "reps", "wall_s", "wall_min_s", "wall_max_s", "exit_s", "exit_min_s", "exit_max_s")
    return {step: {k: v.get(k) for k in keys} for step in STEPS
            for v in [s.get((files, "ferry", step))] if v}


def report(a, info, records, rows, roles_=None):
    s = summarize(records)
    tgt = targets(s, rows, roles_)
    L = [f"# Ferry many-files benchmark (`bench/run --dataset huge`) — {info['date_utc']}", "",
         f"Machine: {info['cores']} × {info['cpu']}, {info['memory']} RAM; load at start "
         f"{' '.join(info['load_at_start'])}, at end {' '.join(info.get('load_at_end', []))}.  ",
         f"Work fs: {info['work_fs']}. Files of 200 B–2 KiB, {PER_DIR} per directory, local-directory remote.  ",
         "Each step is timed " + ("until its command exited." if a.time_to_exit else
                                  "until its writes are on disk (a `sync` after the command, inside the timing)."), "",
         f"ferry {info['versions']['ferry']} ({info['ferry_commit']}), {info['versions']['dvc']}.", "",
         "| files | step | floor s | dvc s | ferry s | ferry/floor | dvc/ferry | ferry user+sys s | ferry RSS MB | ferry µs/file | load |",
         "|---|---|---|---|---|---|---|---|---|---|---|"]
    for files in rows:
        floor = (s.get((files, "ferry", "floor")) or {}).get("wall_s")
        for step in STEPS[1:]:
            f = s.get((files, "ferry", step)) or {}
            d = s.get((files, "dvc", step)) or {}
            fw = f.get("wall_s")
            cpu = f"{bench.fmt(f.get('user_s'))} + {bench.fmt(f.get('sys_s'))}" if fw else "–"
            ferry = bench.fmt(fw) if fw is not None else ("failed" if f else "–")
            L.append(f"| {files} | {step} | {bench.fmt(floor)} | {bench.fmt(d.get('wall_s'))} | {ferry} | "
                     f"{bench.fmt(bench.ratio(fw, floor))} | {bench.fmt(bench.ratio(d.get('wall_s'), fw))} | {cpu} | "
                     f"{bench.fmt(f['maxrss_mib'] * (1 << 20) / MB, 0) if fw else '–'} | "
                     f"{bench.fmt(fw * 1e6 / files, 1) if fw else '–'} | {bench.fmt(f.get('load1'), 1)} |")
    L += ["", "## Targets (issue 16)", "", "| target | value | limit | verdict |", "|---|---|---|---|"]
    L += [f"| {x['target']} | {bench.fmt(x['value'], 3)} | {x['limit']} | **{x['verdict']}** |" for x in tgt]
    pair = growth_pair(rows, roles_) if roles_ else None
    if pair:
        L += ["", f"## Growth per file, {pair[0]} against {pair[1]} files", "",
              "Each step's time per file in the big row over the small row's: until its writes are on disk "
              "(what the targets use, unless `--time-to-exit`) and until the command exited.", "",
              "| step | µs/file big | µs/file small | growth | growth to exit |", "|---|---|---|---|---|"]
        L += [growth_line(s, pair, step) for step in ("floor", "add", "push", "pull")]
        small = pair[1]
        n = max((r.get("rep", 1) for r in records if r["files"] == small and r["tool"] == "ferry"), default=0)
        if n > 1:
            L += ["", f"### Spread of the {small}-file row over its {n} repetitions", "",
                  f"Each ferry figure of the {small}-file row in the tables above and in the targets is the median "
                  "over its repetitions (for status, over both runs of each); min–max shows how noisy the row was, "
                  "spread is (max − min) / median.", "",
                  "| step | ok/runs | median s | min–max s | spread | median to exit s | min–max to exit s |",
                  "|---|---|---|---|---|---|---|"]
            L += [spread_line(s, small, step) for step in STEPS if (small, "ferry", step) in s]
    synced = [(files, s.get((files, "ferry", "sync"))) for files in rows if (files, "ferry", "sync") in s]
    if synced:
        L += ["", "## sync (ferry only)", "",
              "`ferry sync --to second` into a second, empty local-directory remote after `status_c` (cache "
              "complete): no time target, its time against the floor; peak RSS ≤ 150 MB as any command. The "
              "copy is walked and compared with the pushed remote (relative paths and sizes).", "",
              "| files | sync s | floor s | sync/floor | RSS MB | remote copy |", "|---|---|---|---|---|---|"]
        for files, v in synced:
            floor = (s.get((files, "ferry", "floor")) or {}).get("wall_s")
            copies = sorted({r["remote_copy"] for r in records if r["files"] == files and r["step"] == "sync"
                             and r.get("remote_copy")})
            L.append(f"| {files} | {bench.fmt(v.get('wall_s')) if v.get('ok') else 'failed'} | {bench.fmt(floor)} | "
                     f"{bench.fmt(bench.ratio(v.get('wall_s'), floor))} | "
                     f"{bench.fmt(v['maxrss_mib'] * (1 << 20) / MB, 0) if v.get('ok') else '–'} | "
                     f"{'; '.join(copies) or '–'} |")
    fails = [r for r in records if r["rc"] != 0]
    if fails:
        L += ["", "## Failed steps", ""] + [f"- {r['files']} {r['tool']} {r['step']}: {r.get('error', '')}" for r in fails]
    bad = [r for r in records if r.get("verified") not in (None, "identical")]
    badsync = [r for r in records if r.get("remote_copy") not in (None, "identical")]
    who = lambda r: f"{r['files']} {r['tool']}" + (f" r{r['rep']}" if r.get("rep", 1) > 1 else "")
    L += ["", "Pulled trees: " + ("all identical to the dataset" if not bad else
                                  "; ".join(f"{who(r)}: {r['verified']}" for r in bad)), ""]
    if any(r.get("remote_copy") for r in records):
        L += ["Synced remotes: " + ("all identical to the pushed remote" if not badsync else
                                    "; ".join(f"{who(r)}: {r['remote_copy']}" for r in badsync)), ""]
    text = "\n".join(L)
    with open(os.path.join(a.out, "results.md"), "w") as f:
        f.write(text)
    with open(os.path.join(a.out, "results.json"), "w") as f:
        doc = {"machine": info, "rows": rows, "growth_reps": getattr(a, "growth_reps", 1), "targets": tgt}
        if pair:
            doc["growth_spread"] = {"files": pair[1], "steps": spread(s, pair[1])}
        json.dump(dict(doc, runs=records), f, indent=1)
    print(text)
    return bad + badsync


def main(a):
    """Entry from bench.py when `--dataset huge` is given."""
    roles_ = roles(a)
    big, growth, dvc_row = roles_
    rows = sorted({r for r in roles_ if r})
    info = bench.machine_info(a)
    greps = max(1, getattr(a, "growth_reps", 1))
    reps_note = f" (ferry on the {growth}-file row x{greps})" if growth and growth != big and greps > 1 else ""
    bench.log(f"huge: rows {rows}{reps_note}, load {' '.join(info['load_at_start'])}; work fs: {a.fs_note}")
    runner = bench.Runner(os.path.join(a.out, "logs"), 0, a.timeout, a.nice)
    records = []
    os.makedirs(a.data, exist_ok=True)
    try:
        for files in sorted(rows):   # the small row first: its dvc figures come early
            src = os.path.join(a.data, f"huge-{files}")
            listing = generate(src, files)
            tools = [t for t in a.tools if t == "ferry" or (t == "dvc" and files == dvc_row and files != big)]
            for tool in tools:
                exe = {"dvc": a.dvc, "ferry": a.ferry}[tool]
                reps = greps if tool == "ferry" and files == growth and files != big else 1
                for rep in range(1, reps + 1) if exe else ():
                    session(a, runner, records, tool, exe, files, src, listing, rep, reps)
            if not a.keep and files == big:
                shutil.rmtree(src, ignore_errors=True)
                os.remove(src + ".md5")
    except KeyboardInterrupt:
        bench.log("interrupted: reporting what was measured so far")
    info["load_at_end"] = open("/proc/loadavg").read().split()[:3]
    bad = report(a, info, records, [r for r in rows if any(x["files"] == r for x in records)] or rows, roles_)
    return 2 if bad else 0
