#!/usr/bin/env python3
"""Ferry vs dvc, side by side on the same server and filesystem (stdlib only; driven by bench/run).

For every case (dataset x remote) and repetition, each tool gets a fresh git repo, `init`, a remote
pointing at an empty prefix, and then the timed steps:
  add        <tool> add DATASET     cold object cache and state (page cache warm: data just copied in)
  status     <tool> status (x2)     nothing changed
  status_cold <tool> status         after deleting .dvc/tmp and the site cache: every file is hashed
                                    again without being copied (the hashing part of `add`, isolated)
  push       <tool> push            into the empty prefix
  (untimed)  rm -rf cache, workspace data, .dvc/tmp and the site cache dir   == a fresh clone
  pull       <tool> pull            into the empty cache and workspace
  push_noop  <tool> push            nothing to do
The raw S3 clients (s5cmd, rclone) copy the same tree up ("push") and down ("pull") as the floor.
The players take turns step by step (dvc add, ferry add, dvc status, ferry status, ... s5cmd up
right after the tools' push), so each comparison is made within seconds on the same machine state;
the order rotates with each repetition, so no tool always goes first.
Every timed command runs after an untimed `sync`; the runner measures wall time, the tool's
user+sys CPU and peak RSS (wait4 rusage), the SeaweedFS server's CPU (/proc/PID/stat) and the CPU
everything else on the machine burned meanwhile (/proc/stat). A failing command never aborts the
run: the step is recorded as failed with its first error line.
"""
import argparse
import hashlib
import json
import os
import platform
import random
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
STEPS = ["add", "status", "status_cold", "push", "pull", "push_noop"]
TOOLS = ["dvc", "ferry"]
FLOORS = ["s5cmd", "rclone"]
# the phases every player goes through together (tools and raw clients take turns at each one)
PHASES = ["setup", "add", "status", "status_cold", "push", "pull", "push_noop", "done"]
TCK = os.sysconf("SC_CLK_TCK")
MB = 1e6
MIB = 1 << 20


def log(msg):
    print(time.strftime("[%H:%M:%S] ") + msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# measurement


def busy_ticks():
    """CPU ticks the whole machine spent busy (user, nice, system, irq, softirq) so far."""
    with open("/proc/stat") as f:
        v = f.readline().split()[1:]
    return sum(int(v[i]) for i in (0, 1, 2, 5, 6))


def proc_ticks(pid):
    """utime+stime of one process in ticks (0 when it is gone or unknown)."""
    if not pid:
        return 0
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, IndexError, ValueError):
        return 0


def kill_group(pid):
    """Ends a timed-out command and everything it started (it runs in its own session)."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def first_error_line(text):
    lines = [l.strip() for l in text.splitlines() if l.strip()]
    for l in lines:
        low = l.lower()
        if low.startswith("error") or "error:" in low or "not found" in low or "unrecognized" in low:
            return l[:300]
    return (lines[-1] if lines else "no output")[:300]


class Runner:
    """Runs commands untimed (setup) or timed (a measured step), logging every output."""

    def __init__(self, logdir, weed_pid, timeout, nice=0, weed_pidfile=""):
        self.logdir = logdir
        self.nice = nice
        self.weed_pid = weed_pid
        self.weed_pidfile = weed_pidfile
        self.timeout = timeout
        os.makedirs(logdir, exist_ok=True)

    def refresh_weed_pid(self):
        """Follows the shared server across restarts by others: re-reads its PID file when the PID is gone."""
        if self.weed_pid and os.path.exists(f"/proc/{self.weed_pid}"):
            return
        try:
            with open(self.weed_pidfile) as f:
                self.weed_pid = int(f.read().strip() or 0)
        except (OSError, ValueError):
            pass

    def quiet(self, cmd, cwd, env, check=True):
        p = subprocess.run(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=self.timeout)
        if check and p.returncode != 0:
            raise RuntimeError(f"{' '.join(map(str, cmd))} failed ({p.returncode}): {first_error_line(p.stdout)}")
        return p

    def timed(self, tag, cmd, cwd, env, durable=False):
        """One measured step. Returns a dict of measurements (rc != 0 marks a failure). With
        `durable`, the step's time runs until its writes are on disk (a `sync` after the command
        exits, inside the timing): `wall_s` is then that, `exit_s` the command alone."""
        logpath = os.path.join(self.logdir, tag + ".log")
        if self.nice:
            cmd = ["nice", "-n", str(self.nice)] + list(cmd)
        self.refresh_weed_pid()
        os.sync()
        load = os.getloadavg()[0]
        with open(logpath, "wb") as out:
            b0, w0, t0 = busy_ticks(), proc_ticks(self.weed_pid), time.perf_counter()
            try:
                p = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                     stderr=subprocess.STDOUT, start_new_session=True)
            except OSError as e:
                return {"rc": 127, "error": f"cannot start {cmd[0]}: {e}", "wall_s": None}
            timer = threading.Timer(self.timeout, kill_group, (p.pid,))
            timer.start()
            _, status, ru = os.wait4(p.pid, 0)
            exited = time.perf_counter()
            if durable:
                os.sync()
            t1, w1, b1 = time.perf_counter(), proc_ticks(self.weed_pid), busy_ticks()
            timer.cancel()
            p.returncode = os.waitstatus_to_exitcode(status)
        cpu = ru.ru_utime + ru.ru_stime
        server = (w1 - w0) / TCK
        with open(logpath, errors="replace") as f:
            text = f.read()
        r = {
            "rc": p.returncode,
            "wall_s": round(t1 - t0, 4),
            "exit_s": round(exited - t0, 4),
            "user_s": round(ru.ru_utime, 3),
            "sys_s": round(ru.ru_stime, 3),
            "cpu_s": round(cpu, 3),
            "maxrss_kib": ru.ru_maxrss,
            "server_cpu_s": round(server, 2),
            "other_cpu_s": round((b1 - b0) / TCK - cpu - server, 2),
            "load1": round(load, 2),
            "log": os.path.relpath(logpath, os.path.dirname(self.logdir)),
        }
        if p.returncode != 0:
            r["error"] = "timed out" if p.returncode == -signal.SIGKILL else first_error_line(text)
        else:
            tail = [l.strip() for l in text.splitlines() if l.strip()]
            r["said"] = tail[-1][:200] if tail else ""
        return r


# ---------------------------------------------------------------------------------------------
# machine facts


def md5_ceiling(quick, python):
    """md5 throughput of one core and of all cores hashing at once.

    The per-core figure divides by the hashing thread's own CPU time (best of 3), so other load on a
    shared machine does not lower it; the all-cores figure is wall-clock and does show that load."""
    size = (32 if quick else 256) * MIB
    code = (
        "import hashlib,time\n"
        f"b=b'\\xa5'*{size}\n"
        "def once(clock):\n"
        "    t=clock(); hashlib.md5(b).digest(); return clock()-t\n"
        f"print({size}/min(once(time.thread_time) for _ in range(3)), {size}/once(time.perf_counter))\n"
    )
    one = float(subprocess.check_output([python, "-c", code], text=True).split()[0])
    n = os.cpu_count() or 1
    procs = [subprocess.Popen([python, "-c", code], stdout=subprocess.PIPE, text=True) for _ in range(n)]
    together = sum(float(p.communicate()[0].split()[1]) for p in procs)
    return {"per_core_Bps": one, "cores": n, "ceiling_Bps": one * n, "all_cores_measured_Bps": together,
            "method": f"python hashlib (OpenSSL) md5 over a {size // MIB} MiB buffer, bytes per CPU-second of "
                      "the hashing thread, best of 3, at start and end of the run"}


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=30).stdout.strip()
    except subprocess.SubprocessError:
        return ""


def machine_info(args):
    model = sh("awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo")
    mem = sh("awk '/MemTotal/{printf \"%.1f GiB\", $2/1048576}' /proc/meminfo")
    busy = sh("ps -eo pcpu=,comm= --sort=-pcpu | awk '$1>5' | head -6 | tr '\\n' ';'")
    return {
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "cpu": model, "cores": os.cpu_count(), "memory": mem, "kernel": platform.release(),
        "os": sh(". /etc/os-release 2>/dev/null && echo $PRETTY_NAME"),
        "load_at_start": open("/proc/loadavg").read().split()[:3],
        "busy_processes_at_start": busy,
        "work_fs": args.fs_note,
        "server": args.server_note,
        "work_dir": args.work,
        "ferry_commit": sh(f"git -C {args.root} rev-parse --short HEAD"),
        "versions": {
            "dvc": sh(f"{args.dvc} --version"),
            "ferry": sh(f"{args.ferry} --version") if args.ferry else "missing",
            "s5cmd": sh(f"{args.s5cmd} version"),
            "rclone": sh(f"{args.rclone} version | head -1"),
            "seaweedfs": sh(f"{args.weed} version 2>/dev/null | head -1") if args.weed else "",
        },
    }


# ---------------------------------------------------------------------------------------------
# the benchmark


class Bench:
    def __init__(self, args):
        self.a = args
        self.records = []
        self.s3 = {k: os.environ.get(f"FERRY_TEST_S3_{k.upper()}", "") for k in ("endpoint", "bucket", "key", "secret")}
        self.run_id = time.strftime("%Y%m%d-%H%M%S") + f"-{random.randrange(16**4):04x}"
        self.s3_prefix = f"bench/{self.run_id}"
        self.runner = Runner(os.path.join(args.out, "logs"), args.weed_pid, args.timeout, args.nice, args.weed_pidfile)
        self.base_env = {k: v for k, v in os.environ.items()
                         if not k.startswith(("FERRY_LOG", "AWS_ACCESS", "AWS_SECRET", "AWS_SESSION"))}
        self.client_env = dict(self.base_env, AWS_ACCESS_KEY_ID=self.s3["key"],
                               AWS_SECRET_ACCESS_KEY=self.s3["secret"], AWS_REGION="us-east-1",
                               RCLONE_CONFIG_SW_TYPE="s3", RCLONE_CONFIG_SW_PROVIDER="SeaweedFS",
                               RCLONE_CONFIG_SW_ENDPOINT=self.s3["endpoint"],
                               RCLONE_CONFIG_SW_ACCESS_KEY_ID=self.s3["key"],
                               RCLONE_CONFIG_SW_SECRET_ACCESS_KEY=self.s3["secret"],
                               RCLONE_CONFIG_SW_REGION="us-east-1")
        self.verified = {}

    # -- helpers ---------------------------------------------------------------------------

    def record(self, ds, remote, tool, rep, step, r, note=None):
        r = dict(dataset=ds, remote=remote, tool=tool, rep=rep, step=step, **r)
        if note:
            r["note"] = note
        self.records.append(r)
        ok = "ok " if r["rc"] == 0 else f"FAILED rc={r['rc']}: {r.get('error', '')}"
        wall = f"{r['wall_s']:.2f}s" if r.get("wall_s") is not None else "-"
        extra = f" cpu {r['cpu_s']:.2f}s rss {r['maxrss_kib'] / 1024:.0f}MiB srv {r['server_cpu_s']:.2f}s other {r['other_cpu_s']:.2f}s" if "cpu_s" in r else ""
        log(f"  {ds}/{remote} r{rep} {tool:6s} {step:10s} {wall:>8s}{extra} {ok}")
        return r["rc"] == 0

    def verify(self, ds, remote, tool, rep, restored):
        if self.a.verify == "none" or (self.a.verify == "first" and rep != 1):
            return
        p = subprocess.run(["diff", "-rq", os.path.join(self.a.data, ds), restored],
                           capture_output=True, text=True)
        ok = p.returncode == 0
        self.verified[f"{ds}/{remote}/{tool}/r{rep}"] = "identical" if ok else (p.stdout + p.stderr)[:500]
        log(f"  verify {ds}/{remote} {tool} r{rep}: {'identical to the source' if ok else 'DIFFERS: ' + (p.stdout + p.stderr)[:300]}")

    def tool_bin(self, tool):
        return {"dvc": self.a.dvc, "ferry": self.a.ferry}[tool]

    # -- one tool, one repetition ------------------------------------------------------------

    def configure(self, tool, repo, env, remote_url, is_s3):
        """git init + <tool> init + default remote; falls back to dvc where ferry lacks a command."""
        run, notes = self.runner.quiet, []
        run(["git", "init", "-q", "-b", "main"], repo, env)
        if run([self.tool_bin(tool), "init", "-q"], repo, env, check=False).returncode != 0:
            run([self.a.dvc, "init", "-q", "-f"], repo, env)
            notes.append("repo initialised by dvc")
        cmds = [["remote", "add", "-f", "-d", "bench", remote_url]]
        if is_s3:
            cmds += [["remote", "modify", "bench", "endpointurl", self.s3["endpoint"]],
                     ["remote", "modify", "--local", "bench", "access_key_id", self.s3["key"]],
                     ["remote", "modify", "--local", "bench", "secret_access_key", self.s3["secret"]]]
        if not all(run([self.tool_bin(tool)] + c, repo, env, check=False).returncode == 0 for c in cmds):
            for c in cmds:
                run([self.a.dvc] + c, repo, env)
            notes.append("remote configured by dvc")
        run(["git", "add", "-A"], repo, env)
        run(["git", "commit", "-qm", "init"], repo, env)
        return notes

    def tool_session(self, tool, ds, remote, rep):
        """One tool's turn at a case, as a generator that yields after each phase of PHASES, so the
        driver can interleave the tools step by step (dvc add, ferry add, dvc status, ferry status...)."""
        w = os.path.join(self.a.work, "runs", f"{ds}-{remote}", f"{tool}-r{rep}")
        repo = os.path.join(w, "repo")
        shutil.rmtree(w, ignore_errors=True)
        os.makedirs(repo)
        site = os.path.join(w, "site-cache")
        env = dict(self.base_env, DVC_SITE_CACHE_DIR=site)
        if remote == "s3":
            url = f"s3://{self.s3['bucket']}/{self.s3_prefix}/{ds}/{tool}-r{rep}"
        else:
            url = os.path.join(w, "localremote")
            os.makedirs(url)
        try:
            notes = self.configure(tool, repo, env, url, remote == "s3")
        except (RuntimeError, subprocess.SubprocessError) as e:
            self.record(ds, remote, tool, rep, "setup", {"rc": 1, "error": str(e)[:300], "wall_s": None})
            shutil.rmtree(w, ignore_errors=True)
            yield from PHASES
            return
        note = "; ".join(notes) or None
        subprocess.run(["cp", "-a", os.path.join(self.a.data, ds), os.path.join(repo, ds)], check=True)
        exe = self.tool_bin(tool)
        want = set(self.a.steps)
        tag = f"{ds}-{remote}-{tool}-r{rep}"

        def step(name, argv, fallback=None):
            """Timed when selected; when the tool fails, `fallback` (dvc) prepares the state untimed."""
            label = "status" if name in ("status1", "status2") else name
            if label in want:
                r = self.runner.timed(f"{tag}-{name}", [exe] + argv, repo, env)
                ok = self.record(ds, remote, tool, rep, label, dict(r, sub=name), note)
            else:
                ok = self.runner.quiet([exe] + argv, repo, env, check=False).returncode == 0
            if not ok and fallback and tool != "dvc":
                p = self.runner.quiet([self.a.dvc] + fallback, repo, env, check=False)
                log(f"  {tool} {name} failed: state prepared with dvc {' '.join(fallback)} "
                    f"({'ok' if p.returncode == 0 else 'failed too'})")
            return ok

        yield "setup"
        step("add", ["add", ds], ["add", ds])
        self.runner.quiet(["git", "add", "-A"], repo, env, check=False)
        self.runner.quiet(["git", "commit", "-qm", f"add {ds}"], repo, env, check=False)
        yield "add"
        if "status" in want:
            step("status1", ["status"])
            step("status2", ["status"])
        yield "status"
        if "status_cold" in want:
            shutil.rmtree(os.path.join(repo, ".dvc", "tmp"), ignore_errors=True)
            shutil.rmtree(site, ignore_errors=True)
            step("status_cold", ["status"])
        yield "status_cold"
        if want & {"push", "pull", "push_noop"}:
            step("push", ["push"], ["push"])
        yield "push"
        if "pull" in want:
            for p in (os.path.join(repo, ".dvc", "cache"), os.path.join(repo, ds),
                      os.path.join(repo, ".dvc", "tmp"), site):
                shutil.rmtree(p, ignore_errors=True)
            if step("pull", ["pull"]):
                self.verify(ds, remote, tool, rep, os.path.join(repo, ds))
        yield "pull"
        if "push_noop" in want:
            step("push_noop", ["push"])
        yield "push_noop"
        if not self.a.keep:
            shutil.rmtree(w, ignore_errors=True)
        yield "done"

    # -- raw S3 clients: the floor --------------------------------------------------------------

    def floor_session(self, client, ds, rep):
        """A raw client copying the same tree up (its `push`) and down (its `pull`), phase by phase."""
        w = os.path.join(self.a.work, "runs", f"{ds}-s3", f"{client}-r{rep}")
        shutil.rmtree(w, ignore_errors=True)
        dl = os.path.join(w, "dl")
        os.makedirs(dl)
        src = os.path.join(self.a.data, ds)
        key = f"{self.s3['bucket']}/{self.s3_prefix}/{ds}/{client}-r{rep}"
        if client == "s5cmd":
            base = [self.a.s5cmd, "--endpoint-url", self.s3["endpoint"], "--log", "error"]
            up = base + ["cp", src + "/", f"s3://{key}/"]
            down = base + ["cp", f"s3://{key}/*", dl + "/"]
        else:
            base = [self.a.rclone, "--config", "/dev/null"]
            up = base + ["copy", src, f"sw:{key}", "--transfers", "8", "--checkers", "16",
                         "--s3-upload-concurrency", "4", "--s3-chunk-size", "16M", "--no-check-dest"]
            down = base + ["copy", f"sw:{key}", dl, "--transfers", "8", "--checkers", "16",
                           "--multi-thread-streams", "4"]
        tag = f"{ds}-s3-{client}-r{rep}"
        for phase in PHASES:
            argv = {"push": up, "pull": down}.get(phase)
            if argv and phase in self.a.steps:
                r = self.runner.timed(f"{tag}-{phase}", argv, w, self.client_env)
                if self.record(ds, "s3", client, rep, phase, r) and phase == "pull":
                    self.verify(ds, "s3", client, rep, dl)
            elif argv and "pull" in self.a.steps:
                self.runner.quiet(argv, w, self.client_env, check=False)
            if phase == "done" and not self.a.keep:
                shutil.rmtree(w, ignore_errors=True)
            yield phase

    def drop_prefix(self, ds):
        """Deletes this run's objects of one dataset (untimed, after each repetition) so a full run does not fill the disk."""
        p = self.runner.quiet([self.a.s5cmd, "--endpoint-url", self.s3["endpoint"], "--log", "error", "rm",
                               f"s3://{self.s3['bucket']}/{self.s3_prefix}/{ds}/*"],
                              self.a.work, self.client_env, check=False)
        if p.returncode != 0:
            log(f"  note: could not delete s3://{self.s3['bucket']}/{self.s3_prefix}/{ds}/: {first_error_line(p.stdout)}")
        if self.a.sw_master:
            # SeaweedFS frees deleted objects' space only when it vacuums its volumes
            try:
                urllib.request.urlopen(f"{self.a.sw_master}/vol/vacuum?garbageThreshold=0.1", timeout=600).read()
            except OSError as e:
                log(f"  note: SeaweedFS vacuum failed: {e}")

    # -- all of it ------------------------------------------------------------------------------

    def run(self):
        cases = [(ds, "s3") for ds in self.a.datasets if "s3" in self.a.remotes]
        if "many" in self.a.datasets and "local" in self.a.remotes:
            cases.append(("many", "local"))
        for ds, remote in cases:
            players = [t for t in self.a.tools if t != "ferry" or self.a.ferry]
            if remote == "s3":
                # rclone is never the floor for small files (s5cmd is ~1.6x faster there) and is slow on
                # them, so by default it runs on big and mixed only
                players += [f for f in self.a.floors if f in FLOORS and (f != "rclone" or ds != "many" or self.a.rclone_many)]
            log(f"== {ds} on {remote}: {self.a.reps} repetition(s) of {', '.join(players)}")
            for rep in range(1, self.a.reps + 1):
                k = (rep - 1) % len(players)
                turns = [self.tool_session(who, ds, remote, rep) if who in TOOLS else self.floor_session(who, ds, rep)
                         for who in players[k:] + players[:k]]
                for phase in PHASES:   # step by step: each player takes its turn at this phase
                    for t in turns:
                        got = next(t, None)
                        assert got == phase, (got, phase)
                if remote == "s3" and not self.a.keep:
                    self.drop_prefix(ds)
                if os.path.ismount(self.a.work):   # hand freed blocks back to the sparse image (untimed)
                    subprocess.run(["fstrim", self.a.work], capture_output=True)


# ---------------------------------------------------------------------------------------------
# report


def med(rs, key):
    v = [r[key] for r in rs if r.get(key) is not None]
    return statistics.median(v) if v else None


def summarize(records):
    """Median figures per (dataset, remote, step, tool) over the successful runs."""
    groups = {}
    for r in records:
        groups.setdefault((r["dataset"], r["remote"], r["step"], r["tool"]), []).append(r)
    out = {}
    for key, rs in groups.items():
        ok = [r for r in rs if r["rc"] == 0]
        s = {"runs": len(rs), "ok": len(ok)}
        if ok:
            walls = [r["wall_s"] for r in ok]
            s.update(wall_s=med(ok, "wall_s"), wall_min_s=min(walls), wall_max_s=max(walls),
                     cpu_s=med(ok, "cpu_s"), user_s=med(ok, "user_s"), sys_s=med(ok, "sys_s"),
                     maxrss_mib=max(r["maxrss_kib"] for r in ok) / 1024,
                     server_cpu_s=med(ok, "server_cpu_s"), other_cpu_s=med(ok, "other_cpu_s"))
        fails = [r.get("error", "") for r in rs if r["rc"] != 0]
        if fails:
            s["error"] = fails[0]
        notes = sorted({r["note"] for r in rs if r.get("note")})
        if notes:
            s["note"] = "; ".join(notes)
        out[key] = s
    return out


def fmt(v, nd=2):
    return "–" if v is None else f"{v:.{nd}f}"


def ratio(a, b):
    return a / b if a is not None and b else None


def cell(summary, key, field="wall_s"):
    s = summary.get(key)
    if not s:
        return None
    return s.get(field)


def status_cell(summary, key):
    """Median wall time, or 'failed' when every run of that tool failed."""
    s = summary.get(key)
    if not s:
        return "–"
    if s.get("wall_s") is None:
        return "failed"
    return fmt(s["wall_s"]) + ("" if s["ok"] == s["runs"] else f" ({s['ok']}/{s['runs']} ok)")


def dataset_bytes(data, ds):
    total = files = 0
    for dp, _, fs in os.walk(os.path.join(data, ds)):
        for f in fs:
            total += os.path.getsize(os.path.join(dp, f))
            files += 1
    return total, files


def targets(summary, ceiling, sizes):
    """Issue 5's targets, each as met / missed / n/a with the measured figure."""
    t = []

    def w(ds, step, tool, remote="s3"):
        return cell(summary, (ds, remote, step, tool))

    def why_missing(ds):
        errs = [f"{k[2]}: {s['error']}" for k, s in summary.items()
                if k[0] == ds and k[3] == "ferry" and s.get("wall_s") is None and s.get("error")]
        return f"ferry failed — {errs[0]}" if errs else "not measured"

    def add(name, value, op, limit):
        if value is None:
            t.append({"target": name, "value": None, "limit": limit, "verdict": "n/a",
                      "why": why_missing(name.split()[0])})
        else:
            met = value >= limit if op == ">=" else value <= limit
            t.append({"target": name, "value": round(value, 3), "limit": limit, "verdict": "met" if met else "missed"})

    for step, limit in (("add", 8), ("status", 12), ("push_noop", 10)):
        add(f"many {step}: dvc/ferry ≥ {limit}×", ratio(w("many", step, "dvc"), w("many", step, "ferry")), ">=", limit)
    add("many push: ferry/s5cmd-up ≤ 1.1×", ratio(w("many", "push", "ferry"), w("many", "push", "s5cmd")), "<=", 1.1)
    add("many pull: ferry/s5cmd-down ≤ 1.2×", ratio(w("many", "pull", "ferry"), w("many", "pull", "s5cmd")), "<=", 1.2)
    for ds in ("big", "mixed"):
        wall = w(ds, "status_cold", "ferry")
        frac = (sizes[ds][0] / wall) / ceiling["ceiling_Bps"] if wall and ds in sizes else None
        add(f"{ds} add: hashing ≥ 85% of the md5 ceiling (bytes / cold-state status wall)", frac, ">=", 0.85)
        floors = [v for v in (w(ds, "push", f) for f in FLOORS) if v]
        add(f"{ds} push: ferry / fastest raw client ≤ 1.1×",
            ratio(w(ds, "push", "ferry"), min(floors) if floors else None), "<=", 1.1)
        add(f"{ds} pull: dvc/ferry ≥ 2×", ratio(w(ds, "pull", "dvc"), w(ds, "pull", "ferry")), ">=", 2)
    rss = [(k, s["maxrss_mib"]) for k, s in summary.items() if k[3] == "ferry" and s.get("maxrss_mib")]
    if rss:
        k, worst = max(rss, key=lambda x: x[1])
        add(f"peak RSS < 100 MB on every ferry step (worst: {k[0]}/{k[1]} {k[2]})", worst * MIB / MB, "<=", 100)
    else:
        add("peak RSS < 100 MB on every ferry step", None, "<=", 100)
    return t


# Issue 16's S3 rows: the small-file case counts only at 100k files or more (`--scale 10`).
ISSUE16_MANY_FILES = 100_000


def issue16_targets(summary, sizes):
    """Issue 16's S3 targets, each met / missed / n/a: big-file pull ≥ 2× dvc, and S3 push and
    pull of 100k small files ≤ 1.1× s5cmd; every row also carries ferry/s5cmd, dvc/ferry and
    ferry's peak RSS, so the report shows how far each is from the raw client."""
    t = []

    def w(ds, step, tool, field="wall_s"):
        return cell(summary, (ds, "s3", step, tool), field)

    def add(name, value, op, limit, ds, step, why=None):
        row = {"target": name, "value": None if value is None else round(value, 3), "limit": limit,
               "ferry_s": w(ds, step, "ferry"), "dvc_s": w(ds, step, "dvc"), "s5cmd_s": w(ds, step, "s5cmd"),
               "ferry_rss_mib": w(ds, step, "ferry", "maxrss_mib")}
        row["dvc_over_ferry"] = ratio(row["dvc_s"], row["ferry_s"])
        row["ferry_over_s5cmd"] = ratio(row["ferry_s"], row["s5cmd_s"])
        if value is None or why:
            row.update(verdict="n/a", why=why or "not measured")
        else:
            met = value >= limit if op == ">=" else value <= limit
            row["verdict"] = "met" if met else "missed"
        t.append(row)

    add("big pull: dvc/ferry ≥ 2×", ratio(w("big", "pull", "dvc"), w("big", "pull", "ferry")), ">=", 2, "big", "pull")
    files = sizes.get("many", (0, 0))[1]
    short = None if files >= ISSUE16_MANY_FILES else (
        f"many has {files} files here; the target is for ≥ {ISSUE16_MANY_FILES} (`--datasets many --scale 10`)")
    for step in ("push", "pull"):
        add(f"many ({files} files) {step}: ferry/s5cmd ≤ 1.1×",
            ratio(w("many", step, "ferry"), w("many", step, "s5cmd")), "<=", 1.1, "many", step, short)
    return t


def report(bench, info, ceiling, sizes, args, echo=True):
    summary = summarize(bench.records)
    tgt = targets(summary, ceiling, sizes)
    tgt16 = issue16_targets(summary, sizes)
    cases = sorted({(k[0], k[1]) for k in summary},
                   key=lambda c: (c[1] != "s3", ["many", "big", "mixed"].index(c[0]) if c[0] in ("many", "big", "mixed") else 9))
    L = []
    L.append(f"# Ferry vs dvc benchmark — {info['date_utc']}")
    L.append("")
    L.append(f"Machine: {info['cores']} × {info['cpu']}, {info['memory']} RAM, {info['os']}, kernel {info['kernel']}; "
             f"load at start {' '.join(info['load_at_start'])}.  ")
    L.append(f"Work fs: {info['work_fs']}.  ")
    L.append(f"Server: {info.get('server', '')}.  ")
    if args.nice:
        L.append(f"Timed commands ran at niceness {args.nice}; the SeaweedFS server at its own.  ")
    L.append(f"Scale {args.scale}, {args.reps} repetition(s), medians over successful runs; ferry {info['versions']['ferry']} "
             f"(commit {info['ferry_commit']}), {info['versions']['dvc'] and 'dvc ' + info['versions']['dvc']}, "
             f"s5cmd {info['versions']['s5cmd']}, {info['versions']['rclone']}, SeaweedFS {info['versions']['seaweedfs']}.")
    L.append("")
    L.append("Times in seconds (wall, median). `s5cmd` is the raw-client floor (push = upload, pull = download). "
             "CPU = user+sys of the tool; RSS = peak resident set of the tool; server = SeaweedFS CPU during the step; "
             "other = all other busy CPU on the machine during the step (other users, kernel writeback).")
    L.append("")
    L.append("| dataset | remote | step | dvc | ferry | dvc/ferry | s5cmd | ferry/s5cmd | rclone | CPU dvc / ferry | RSS MiB dvc / ferry | server CPU dvc / ferry | other CPU dvc / ferry |")
    L.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for ds, remote in cases:
        for step in STEPS:
            k = lambda tool: (ds, remote, step, tool)
            if not any(k(t) in summary for t in TOOLS + FLOORS):
                continue
            d, f = cell(summary, k("dvc")), cell(summary, k("ferry"))
            s5 = cell(summary, k("s5cmd"))
            pair = lambda field, nd=2: f"{fmt(cell(summary, k('dvc'), field), nd)} / {fmt(cell(summary, k('ferry'), field), nd)}"
            L.append(f"| {ds} | {remote} | {step} | {status_cell(summary, k('dvc'))} | {status_cell(summary, k('ferry'))} "
                     f"| {fmt(ratio(d, f), 1)} | {status_cell(summary, k('s5cmd')) if k('s5cmd') in summary else '–'} "
                     f"| {fmt(ratio(f, s5))} | {status_cell(summary, k('rclone')) if k('rclone') in summary else '–'} "
                     f"| {pair('cpu_s')} | {pair('maxrss_mib', 0)} | {pair('server_cpu_s')} | {pair('other_cpu_s')} |")
    L.append("")
    L.append("## Hashing")
    L.append("")
    L.append(f"md5 ceiling: {ceiling['per_core_Bps'] / MB:.0f} MB/s per core × {ceiling['cores']} cores = "
             f"**{ceiling['ceiling_Bps'] / MB:.0f} MB/s** ({ceiling['method']}; all cores hashing at once measured "
             f"{ceiling['all_cores_measured_Bps'] / MB:.0f} MB/s of wall-clock throughput on this machine at that moment).")
    L.append("")
    L.append("| dataset | bytes | step | dvc MB/s | ferry MB/s | ferry / ceiling | ferry CPU s | ferry MB per CPU-s | that / per-core ceiling |")
    L.append("|---|---|---|---|---|---|---|---|---|")
    for ds in ("big", "mixed", "many"):
        if ds not in sizes:
            continue
        b = sizes[ds][0]
        for step in ("add", "status_cold"):
            rate = lambda tool: (b / cell(summary, (ds, "s3", step, tool)) / MB) if cell(summary, (ds, "s3", step, tool)) else None
            fr = rate("ferry")
            if rate("dvc") is None and fr is None:
                continue
            fcpu = cell(summary, (ds, "s3", step, "ferry"), "cpu_s")
            per_cpu = b / fcpu / MB if fcpu else None
            L.append(f"| {ds} | {b / MB:.0f} MB | {step} | {fmt(rate('dvc'), 0)} | {fmt(fr, 0)} | "
                     f"{fmt(fr * MB / ceiling['ceiling_Bps'] * 100 if fr else None, 0)}% "
                     f"| {fmt(fcpu)} | {fmt(per_cpu, 0)} | {fmt(per_cpu * MB / ceiling['per_core_Bps'] * 100 if per_cpu else None, 0)}% |")
    L.append("")
    L.append("Rate = dataset bytes / wall time. `add` also copies every byte into the cache, so its rate is a lower "
             "bound on hashing. `status_cold` runs with the hash state deleted, so it hashes every file again "
             "without copying it: that is the hashing part, and the target uses it. MB per CPU-s (bytes / the tool's "
             "user+sys) does not depend on how busy the machine is: against the per-core ceiling it shows how fast "
             "the tool's md5 and reads are per core; against the wall-time rate it shows how well the cores are used.")
    L.append("")
    L.append("## Issue 5 targets")
    L.append("")
    if args.scale != 1.0:
        L.append(f"_Scale {args.scale}: the targets are defined for the full datasets; these verdicts are indicative only._")
        L.append("")
    for x in tgt:
        v = "–" if x["value"] is None else f"{x['value']:.2f}"
        L.append(f"- **{x['verdict']}** — {x['target']}: measured {v}" + (f" ({x['why']})" if x.get("why") else ""))
    L.append("")
    L.append("## Issue 16 targets (S3: big files, 100k small files)")
    L.append("")
    for x in tgt16:
        v = "–" if x["value"] is None else f"{x['value']:.2f}"
        L.append(f"- **{x['verdict']}** — {x['target']}: measured {v}; ferry {fmt(x['ferry_s'])} s, dvc {fmt(x['dvc_s'])} s "
                 f"(dvc/ferry {fmt(x['dvc_over_ferry'])}), s5cmd {fmt(x['s5cmd_s'])} s (ferry/s5cmd {fmt(x['ferry_over_s5cmd'])}), "
                 f"ferry peak RSS {fmt(x['ferry_rss_mib'], 0)} MiB" + (f" ({x['why']})" if x.get("why") else ""))
    L.append("")
    order = {c: i for i, c in enumerate(cases)}
    fails = sorted(((k, s) for k, s in summary.items() if s.get("error")),
                   key=lambda x: (order.get((x[0][0], x[0][1]), 99), STEPS.index(x[0][2]), x[0][3]))
    if fails:
        L.append("## Failed steps")
        L.append("")
        for k, s in fails:
            L.append(f"- {k[0]}/{k[1]} {k[2]} {k[3]}: {s['runs'] - s['ok']}/{s['runs']} failed — `{s['error']}`")
        L.append("")
    notes = [(k, s["note"]) for k, s in sorted(summary.items()) if s.get("note")]
    if notes:
        L.append("Notes: " + "; ".join(sorted({f'{k[3]}: {n}' for k, n in notes})) + ".")
        L.append("")
    L.append("## Details (every tool, all runs)")
    L.append("")
    L.append("idle CPU = cores × wall − tool − server − other: CPU time nobody used during the step, i.e. time spent "
             "waiting (round trips, disk, serialisation). A step with little idle CPU is bound by whoever burns the CPU.")
    L.append("")
    L.append("| dataset | remote | step | tool | ok/runs | wall median | wall min–max | user+sys | peak RSS MiB | server CPU | other CPU | idle CPU | rate |")
    L.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for ds, remote in cases:
        for step in STEPS:
            for tool in TOOLS + FLOORS:
                s = summary.get((ds, remote, step, tool))
                if not s:
                    continue
                b, n = sizes.get(ds, (0, 0))
                rate = ""
                if s.get("wall_s") and step in ("add", "push", "pull") and b:
                    rate = f"{b / MIB / s['wall_s']:.0f} MiB/s, {n / s['wall_s']:.0f} files/s"
                idle = None
                if s.get("wall_s"):
                    idle = max(0.0, info["cores"] * s["wall_s"] - s["cpu_s"] - s["server_cpu_s"] - s["other_cpu_s"])
                L.append(f"| {ds} | {remote} | {step} | {tool} | {s['ok']}/{s['runs']} | {fmt(s.get('wall_s'))} "
                         f"| {fmt(s.get('wall_min_s')) + '–' + fmt(s.get('wall_max_s')) if s.get('wall_s') else '–'} | {fmt(s.get('cpu_s'))} "
                         f"| {fmt(s.get('maxrss_mib'), 0)} | {fmt(s.get('server_cpu_s'))} | {fmt(s.get('other_cpu_s'))} "
                         f"| {fmt(idle)} | {rate} |")
    L.append("")
    if bench.verified:
        bad = {k: v for k, v in bench.verified.items() if v != "identical"}
        L.append(f"Restored trees checked with `diff -r` against the source: {len(bench.verified) - len(bad)} identical"
                 + (f", {len(bad)} DIFFERENT: {', '.join(bad)}" if bad else "") + ".")
    md = "\n".join(L) + "\n"
    with open(os.path.join(args.out, "results.md"), "w") as f:
        f.write(md)
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump({
            "machine": info, "md5": ceiling, "args": {k: v for k, v in vars(args).items()},
            "datasets": {k: {"bytes": v[0], "files": v[1]} for k, v in sizes.items()},
            "s3_prefix": f"s3://{bench.s3['bucket']}/{bench.s3_prefix}",
            "summary": [dict(dataset=k[0], remote=k[1], step=k[2], tool=k[3], **s) for k, s in sorted(summary.items())],
            "targets": tgt, "targets_issue16": tgt16, "verified": bench.verified, "runs": bench.records,
        }, f, indent=1)
    if echo:
        print(md)
    return tgt


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", choices=["huge"], help="huge: the many-small-files benchmark of bench/huge.py "
                    "(local remote, cp -a floor) instead of the dvc/S3 cases")
    ap.add_argument("--files", type=int, default=1_000_000, help="huge: files in the big row (ferry only)")
    ap.add_argument("--dvc-files", type=int, default=100_000, help="huge: files in the row that also runs dvc")
    ap.add_argument("--time-to-exit", action="store_true",
                    help="huge: time each step until its command exits, not until its writes are on disk")
    ap.add_argument("--growth-files", type=int, default=50_000,
                    help="huge: files in the row (ferry only) the big row's time per file is compared with (0: none)")
    ap.add_argument("--growth-reps", type=int, default=3,
                    help="huge: runs of the growth row's whole ferry session (fresh repo each, floor too); the report "
                         "uses each step's median and prints the min-max (default 3)")
    ap.add_argument("--scale", type=float, default=1.0, help="multiply file counts (many, mixed, huge) and sizes (big)")
    ap.add_argument("--quick", action="store_true", help="smoke run: scale 0.01, 1 rep, 300 s timeout")
    ap.add_argument("--reps", type=int, default=3, help="repetitions per case (default 3)")
    ap.add_argument("--datasets", default="many,big,mixed", help="comma list (default many,big,mixed)")
    ap.add_argument("--steps", default=",".join(STEPS), help=f"steps to time (default {','.join(STEPS)})")
    ap.add_argument("--remotes", default="s3,local", help="s3 and/or local (local: many only)")
    ap.add_argument("--tools", default=",".join(TOOLS), help="dvc and/or ferry")
    ap.add_argument("--floors", default=",".join(FLOORS), help="raw S3 clients: s5cmd and/or rclone (empty: none)")
    ap.add_argument("--rclone-many", action="store_true", help="also run rclone on `many` (skipped by default)")
    ap.add_argument("--verify", choices=["first", "all", "none"], default="first", help="diff -r pulled trees in rep 1 (default), all reps or never")
    ap.add_argument("--timeout", type=float, default=1800, help="per-command timeout in seconds")
    ap.add_argument("--keep", action="store_true", help="keep work dirs and remote objects")
    ap.add_argument("--nice", type=int, default=0,
                    help="niceness of every timed command (e.g. -10 on a busy shared machine; the server keeps its own)")
    # wiring, set by bench/run
    for k in ("root", "out", "work", "data", "dvc", "ferry", "s5cmd", "rclone", "weed", "python", "fs-note", "server-note"):
        ap.add_argument(f"--{k}", default="", help=argparse.SUPPRESS)
    ap.add_argument("--weed-pid", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--weed-pidfile", default="", help=argparse.SUPPRESS)
    ap.add_argument("--sw-master", default="", help=argparse.SUPPRESS)
    a = ap.parse_args()
    for k in ("datasets", "steps", "remotes", "tools", "floors"):
        setattr(a, k, [x for x in getattr(a, k).split(",") if x])
    bad = set(a.steps) - set(STEPS)
    if bad:
        ap.error(f"unknown step(s) {', '.join(bad)}; known: {', '.join(STEPS)}")
    if a.dataset == "huge":
        if a.growth_reps < 1:
            ap.error("--growth-reps must be at least 1")
        import huge
        os.makedirs(a.out, exist_ok=True)
        return huge.main(a)
    if "s3" in a.remotes and not os.environ.get("FERRY_TEST_S3_ENDPOINT"):
        ap.error("FERRY_TEST_S3_ENDPOINT is not set (bench/run starts SeaweedFS and sets it)")
    if a.quick:
        a.scale = a.scale if "--scale" in sys.argv else 0.01
        a.reps = a.reps if "--reps" in sys.argv else 1
        a.timeout = min(a.timeout, 300)
    a.data = os.path.join(a.data, f"scale-{a.scale:g}")
    os.makedirs(a.out, exist_ok=True)

    info = machine_info(a)
    log(f"machine: {info['cores']} cores, load {' '.join(info['load_at_start'])}; work fs: {a.fs_note}")
    ceiling = md5_ceiling(a.quick, a.python or sys.executable)
    ceiling["at_start_per_core_Bps"] = ceiling["per_core_Bps"]
    log(f"md5 ceiling: {ceiling['per_core_Bps'] / MB:.0f} MB/s per core x {ceiling['cores']} = {ceiling['ceiling_Bps'] / MB:.0f} MB/s")
    subprocess.run([sys.executable, os.path.join(HERE, "gen_data.py"), "--out", a.data, "--scale", str(a.scale)]
                   + a.datasets, check=True)
    sizes = {ds: dataset_bytes(a.data, ds) for ds in a.datasets}
    bench = Bench(a)
    try:
        bench.run()
    except KeyboardInterrupt:
        log("interrupted: reporting what was measured so far")
    info["load_at_end"] = open("/proc/loadavg").read().split()[:3]
    again = md5_ceiling(a.quick, a.python or sys.executable)
    ceiling["at_end_per_core_Bps"] = again["per_core_Bps"]
    if again["per_core_Bps"] > ceiling["per_core_Bps"]:  # the less disturbed measurement is the ceiling
        ceiling.update(again)
    tgt = report(bench, info, ceiling, sizes, a)
    log(f"results: {os.path.join(a.out, 'results.md')} and results.json")
    failed = [r for r in bench.records if r["rc"] != 0]
    if failed:
        log(f"{len(failed)} step(s) failed (recorded above); the run itself completed")
    differ = [k for k, v in bench.verified.items() if v != "identical"]
    return 2 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
