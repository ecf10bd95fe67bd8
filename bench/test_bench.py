#!/usr/bin/env python3
"""Tests of the benchmark's bookkeeping (medians, ratios, target verdicts, failures, report files).

No timing is asserted: the records are made up. Run: python3 bench/test_bench.py
"""
import json
import os
import sys
import tempfile
import types
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402

CEILING = {"per_core_Bps": 800e6, "cores": 2, "ceiling_Bps": 1600e6, "all_cores_measured_Bps": 1500e6,
           "method": "made up"}
SIZES = {"many": (46_000_000, 10_000), "big": (1 << 30, 4), "mixed": (2_166_000_000, 2000)}


def rec(ds, tool, step, wall, rc=0, remote="s3", rep=1, rss_kib=50_000, error=None):
    r = {"dataset": ds, "remote": remote, "tool": tool, "rep": rep, "step": step, "rc": rc, "wall_s": wall,
         "user_s": wall / 2, "sys_s": 0.1, "cpu_s": wall / 2 + 0.1, "maxrss_kib": rss_kib,
         "server_cpu_s": 0.5, "other_cpu_s": 0.0}
    if rc:
        r["error"] = error or "ERROR: boom"
    return r


class Verdicts(unittest.TestCase):
    def test_ratios_pick_medians_of_successful_runs(self):
        rs = [rec("many", "dvc", "add", w, rep=i) for i, w in enumerate((2.4, 2.5, 9.0), 1)]
        rs += [rec("many", "ferry", "add", w, rep=i) for i, w in enumerate((0.3, 0.2, 0.25), 1)]
        rs.append(rec("many", "ferry", "add", 0.01, rc=1, rep=4))
        s = bench.summarize(rs)
        self.assertEqual(s[("many", "s3", "add", "dvc")]["wall_s"], 2.5)
        self.assertEqual(s[("many", "s3", "add", "ferry")]["wall_s"], 0.25)
        self.assertEqual(s[("many", "s3", "add", "ferry")]["ok"], 3)
        self.assertEqual(s[("many", "s3", "add", "ferry")]["runs"], 4)
        t = {x["target"].split(":")[0]: x for x in bench.targets(s, CEILING, SIZES)}
        self.assertEqual(t["many add"]["verdict"], "met")          # 2.5 / 0.25 = 10 >= 8
        self.assertAlmostEqual(t["many add"]["value"], 10.0)

    def test_missed_and_floor_ratios(self):
        rs = [rec("many", "ferry", "push", 6.0), rec("many", "s5cmd", "push", 4.0),
              rec("big", "ferry", "push", 7.0), rec("big", "s5cmd", "push", 7.0), rec("big", "rclone", "push", 6.0),
              rec("big", "ferry", "status_cold", (1 << 30) / 1500e6)]
        t = {x["target"].split(":")[0]: x for x in bench.targets(bench.summarize(rs), CEILING, SIZES)}
        self.assertEqual(t["many push"]["verdict"], "missed")      # 6 / 4 = 1.5 > 1.1
        self.assertEqual(t["big push"]["verdict"], "missed")       # vs the fastest raw client: 7 / 6
        self.assertAlmostEqual(t["big push"]["value"], 7 / 6, places=3)
        self.assertEqual(t["big add"]["verdict"], "met")           # 1500 / 1600 MB/s = 94 %

    def test_issue16_rows_need_100k_files_and_carry_both_ratios(self):
        rs = [rec("big", "dvc", "pull", 4.0), rec("big", "ferry", "pull", 1.6), rec("big", "s5cmd", "pull", 1.5),
              rec("many", "ferry", "push", 11.0), rec("many", "s5cmd", "push", 10.0),
              rec("many", "ferry", "pull", 13.0), rec("many", "s5cmd", "pull", 10.0)]
        s = bench.summarize(rs)
        t = {x["target"].split(":")[0]: x for x in bench.issue16_targets(s, SIZES)}
        self.assertEqual(t["big pull"]["verdict"], "met")             # 4.0 / 1.6 = 2.5 >= 2
        self.assertAlmostEqual(t["big pull"]["ferry_over_s5cmd"], 1.6 / 1.5)
        self.assertEqual(t["many (10000 files) push"]["verdict"], "n/a")   # 10k files: not the 100k row
        self.assertIn("--scale 10", t["many (10000 files) push"]["why"])
        big = dict(SIZES, many=(460_000_000, 100_000))
        t = {x["target"].split(":")[0]: x for x in bench.issue16_targets(s, big)}
        self.assertEqual(t["many (100000 files) push"]["verdict"], "met")    # 11 / 10 = 1.1
        self.assertEqual(t["many (100000 files) pull"]["verdict"], "missed")  # 13 / 10 = 1.3
        self.assertAlmostEqual(t["many (100000 files) pull"]["ferry_rss_mib"], 50_000 / 1024, places=1)

    def test_failed_ferry_step_is_na_with_its_error(self):
        rs = [rec("big", "dvc", "pull", 3.0), rec("big", "ferry", "pull", 0.01, rc=254,
                                                 error="error: unrecognized subcommand 'pull'")]
        t = {x["target"].split(":")[0]: x for x in bench.targets(bench.summarize(rs), CEILING, SIZES)}
        self.assertEqual(t["big pull"]["verdict"], "n/a")
        self.assertIn("unrecognized subcommand 'pull'", t["big pull"]["why"])

    def test_rss_target_uses_the_worst_ferry_step(self):
        rs = [rec("many", "ferry", "add", 1.0, rss_kib=30_000), rec("big", "ferry", "push", 1.0, rss_kib=200_000)]
        t = [x for x in bench.targets(bench.summarize(rs), CEILING, SIZES) if x["target"].startswith("peak RSS")][0]
        self.assertEqual(t["verdict"], "missed")
        self.assertIn("big/s3 push", t["target"])


class Report(unittest.TestCase):
    def test_writes_markdown_and_json_even_with_failures(self):
        with tempfile.TemporaryDirectory() as out:
            args = types.SimpleNamespace(out=out, scale=0.1, reps=1, nice=0)
            b = types.SimpleNamespace(records=[rec("many", "dvc", "add", 2.0),
                                               rec("many", "ferry", "add", 0.01, rc=1)],
                                      s3={"bucket": "b"}, s3_prefix="bench/x", verified={"many/s3/dvc/r1": "identical"})
            info = {"date_utc": "2026-01-01T00:00:00Z", "cores": 2, "cpu": "cpu", "memory": "1 GiB", "os": "os",
                    "kernel": "k", "load_at_start": ["0", "0", "0"], "work_fs": "fs", "ferry_commit": "abc",
                    "versions": {"ferry": "f", "dvc": "3.67.1", "s5cmd": "s", "rclone": "r", "seaweedfs": "w"}}
            bench.report(b, info, CEILING, {"many": SIZES["many"]}, args, echo=False)
            with open(os.path.join(out, "results.md")) as f:
                md = f.read()
            self.assertIn("| many | s3 | add | 2.00 | failed |", md)
            self.assertIn("ERROR: boom", md)
            with open(os.path.join(out, "results.json")) as f:
                data = json.load(f)
            self.assertEqual(len(data["runs"]), 2)
            self.assertTrue(any(t["verdict"] == "n/a" for t in data["targets"]))


def hrec(files, tool, step, wall, rss_kib=50_000, rc=0, rep=1):
    r = {"files": files, "tool": tool, "step": step, "rc": rc, "wall_s": wall, "exit_s": wall * 0.8,
         "user_s": wall / 2, "sys_s": 0.1, "cpu_s": wall / 2 + 0.1, "maxrss_kib": rss_kib, "load1": 1.5,
         "rep": rep}
    if rc:
        r["error"] = "ERROR: boom"
    return r


class Huge(unittest.TestCase):
    """bench/huge.py's rows (1M, 50k growth, 100k with dvc) and issue 16's verdicts."""

    def rows(self):
        import huge
        args = types.SimpleNamespace(files=1_000_000, growth_files=50_000, dvc_files=100_000, scale=1.0)
        return huge, huge.roles(args)

    def test_roles_scale_and_drop_absent_rows(self):
        import huge
        a = types.SimpleNamespace(files=1_000_000, growth_files=50_000, dvc_files=100_000, scale=0.1)
        self.assertEqual(huge.roles(a), (100_000, 5_000, 10_000))
        a = types.SimpleNamespace(files=200_000, growth_files=0, dvc_files=0, scale=1.0)
        self.assertEqual(huge.roles(a), (200_000, 0, 0))
        self.assertIsNone(huge.growth_pair([200_000], huge.roles(a)))

    def test_growth_compares_the_big_row_with_the_50k_row_not_the_dvc_row(self):
        huge, roles = self.rows()
        rs = []
        for files, per_file_us in ((1_000_000, 130.0), (50_000, 100.0), (100_000, 200.0)):
            rs += [hrec(files, "ferry", "floor", files * 50e-6), hrec(files, "ferry", "add", files * 70e-6),
                   hrec(files, "ferry", "push", files * per_file_us * 1e-6),
                   hrec(files, "ferry", "pull", files * 100e-6)]
        t = {x["target"]: x for x in huge.targets(huge.summarize(rs), [50_000, 100_000, 1_000_000], roles)}
        push = t["push: time per file at 1000000 within 1.25× of 50000"]
        self.assertEqual(push["verdict"], "missed")        # 130 / 100 µs = 1.3
        self.assertAlmostEqual(push["value"], 1.3)
        self.assertEqual(t["add: time per file at 1000000 within 1.25× of 50000"]["verdict"], "met")
        self.assertFalse(any("of 100000" in k for k in t), "the dvc row is not the growth baseline")
        self.assertEqual(t["1000000 files push: ferry / floor ≤ 1.5×"]["verdict"], "missed")   # 130 / 50
        self.assertEqual(t["1000000 files add: ferry / floor ≤ 1.5×"]["verdict"], "met")       # 70 / 50

    def test_status_noop_push_and_rss_verdicts_per_row(self):
        huge, roles = self.rows()
        rs = [hrec(1_000_000, "ferry", "floor", 50.0), hrec(1_000_000, "ferry", "status", 1.2),
              hrec(1_000_000, "ferry", "status", 1.4), hrec(1_000_000, "ferry", "push_noop", 2.0, rss_kib=160_000),
              hrec(1_000_000, "dvc", "status", 90.0, rss_kib=900_000)]
        t = {x["target"]: x for x in huge.targets(huge.summarize(rs), [1_000_000], roles)}
        self.assertEqual(t["1000000 files status: ≤ 1.5 s"]["verdict"], "met")     # median of 1.2, 1.4
        self.assertEqual(t["1000000 files push_noop: ≤ 1.5 s"]["verdict"], "missed")
        rss = t["1000000 files: peak RSS ≤ 150 MB on every ferry step"]
        self.assertEqual(rss["verdict"], "missed")     # 160,000 KiB = 163.8 MB; dvc's RSS not counted
        self.assertAlmostEqual(rss["value"], 163.84, places=2)
        self.assertEqual(t["1000000 files pull: ferry / floor ≤ 2.5×"]["verdict"], "n/a")

    def test_generated_tree_is_verified_from_its_listing(self):
        import huge
        with tempfile.TemporaryDirectory() as d:
            root = os.path.join(d, "huge-1200")
            with open(os.devnull, "w") as null:
                stderr, sys.stderr = sys.stderr, null
                try:
                    listing = huge.generate(root, 1200)
                    self.assertEqual(huge.generate(root, 1200), listing)   # reused, not regenerated
                finally:
                    sys.stderr = stderr
            self.assertEqual(sorted(os.listdir(root)), ["d0000", "d0001"])
            self.assertEqual(huge.verify(root, listing), "identical")
            with open(os.path.join(root, "d0001", "f0001100.bin"), "ab") as f:
                f.write(b"x")
            self.assertEqual(huge.verify(root, listing), "d0001/f0001100.bin: different bytes")
            os.remove(os.path.join(root, "d0001", "f0001100.bin"))
            self.assertEqual(huge.verify(root, listing), "d0001/f0001100.bin: missing")

    def test_report_prints_every_row_with_us_per_file(self):
        huge, roles = self.rows()
        rs = [hrec(f, tool, step, f * 1e-5) for f in (50_000, 100_000, 1_000_000)
              for tool in ("ferry", "dvc") if tool == "ferry" or f == 100_000
              for step in huge.STEPS]
        for r in rs:
            if (r["files"], r["step"]) == (1_000_000, "pull"):
                r["exit_s"] = r["wall_s"] * 0.4     # its writes took the other 60% of its time to reach the disk
        with tempfile.TemporaryDirectory() as out:
            info = {"date_utc": "2026-01-01T00:00:00Z", "cores": 2, "cpu": "cpu", "memory": "1 GiB",
                    "load_at_start": ["1", "1", "1"], "load_at_end": ["2", "2", "2"], "work_fs": "fs",
                    "ferry_commit": "abc", "versions": {"ferry": "f", "dvc": "3.67.1"}}
            with open(os.devnull, "w") as null:
                stdout, sys.stdout = sys.stdout, null
                try:
                    huge.report(types.SimpleNamespace(out=out, time_to_exit=False), info, rs, [50_000, 100_000, 1_000_000],
                                roles)
                finally:
                    sys.stdout = stdout
            with open(os.path.join(out, "results.md")) as f:
                md = f.read()
            self.assertIn("| 1000000 | push | 10.00 | – | 10.00 | 1.00 | – | 5.00 + 0.10 | 51 | 10.0 | 1.5 |", md)
            self.assertIn("| 100000 | push | 1.00 | 1.00 | 1.00 | 1.00 | 1.00 |", md)
            self.assertIn("| 50000 | pull |", md)
            self.assertIn("push: time per file at 1000000 within 1.25× of 50000 | 1.000 | 1.25 | **met** |", md)
            self.assertIn("until its writes are on disk", md)
            self.assertIn("| floor | 10.0 | 10.0 | 1.00 | 1.00 |", md)
            self.assertIn("| pull | 10.0 | 10.0 | 1.00 | 0.50 |", md)
            with open(os.path.join(out, "results.json")) as f:
                self.assertEqual(json.load(f)["rows"], [50_000, 100_000, 1_000_000])

    def test_growth_row_medians_and_spread_over_its_repetitions(self):
        huge, _ = self.rows()
        rs = [hrec(50_000, "ferry", "add", w, rep=i, rss_kib=k)
              for i, (w, k) in enumerate(((1.0, 40_000), (3.0, 90_000), (1.5, 60_000)), 1)]
        rs += [hrec(50_000, "ferry", "status", w, rep=i) for i, w in ((1, 0.2), (1, 0.3), (2, 0.5), (2, 0.9))]
        rs.append(hrec(50_000, "ferry", "add", 0.01, rc=1, rep=4))
        s = huge.summarize(rs)
        add = s[(50_000, "ferry", "add")]
        self.assertEqual((add["wall_s"], add["wall_min_s"], add["wall_max_s"]), (1.5, 1.0, 3.0))
        self.assertAlmostEqual(add["exit_s"], 1.2)                       # the exits' median, 0.8 x 1.5
        self.assertEqual((add["exit_min_s"], add["exit_max_s"]), (0.8, 3.0 * 0.8))
        self.assertEqual((add["runs"], add["ok"], add["reps"]), (4, 3, 3))   # the failed rep is left out
        self.assertAlmostEqual(add["maxrss_mib"], 90_000 / 1024)         # RSS: the worst repetition
        status = s[(50_000, "ferry", "status")]
        self.assertAlmostEqual(status["wall_s"], 0.4)                    # both runs of both reps: (0.3 + 0.5) / 2
        self.assertEqual((status["reps"], status["wall_min_s"], status["wall_max_s"]), (2, 0.2, 0.9))
        self.assertEqual(huge.spread_line(s, 50_000, "add"),
                         "| add | 3/4 | 1.50 | 1.00–3.00 | 133 % | 1.20 | 0.80–2.40 |")
        self.assertEqual(huge.spread_line(s, 50_000, "pull"), "| pull | 0/0 | – | – | – % | – | – |")
        self.assertEqual(huge.spread(s, 50_000)["add"]["wall_max_s"], 3.0)

    def test_growth_targets_use_the_growth_rows_medians(self):
        huge, roles = self.rows()
        rs = [hrec(1_000_000, "ferry", step, 1_000_000 * 130e-6) for step in ("floor", "add", "push", "pull")]
        for i, (push_us, pull_us) in enumerate(((40.0, 100.0), (100.0, 120.0), (250.0, 500.0)), 1):
            rs += [hrec(50_000, "ferry", "floor", 50_000 * 100e-6, rep=i),
                   hrec(50_000, "ferry", "add", 50_000 * 130e-6, rep=i),
                   hrec(50_000, "ferry", "push", 50_000 * push_us * 1e-6, rep=i),
                   hrec(50_000, "ferry", "pull", 50_000 * pull_us * 1e-6, rep=i)]
        s = huge.summarize(rs)
        t = {x["target"]: x for x in huge.targets(s, [50_000, 1_000_000], roles)}
        push = t["push: time per file at 1000000 within 1.25× of 50000"]
        self.assertAlmostEqual(push["value"], 1.3)     # 130 / median 100 µs; the mean (130) would say 1.0
        self.assertEqual(push["verdict"], "missed")
        pull = t["pull: time per file at 1000000 within 1.25× of 50000"]
        self.assertAlmostEqual(pull["value"], 130 / 120, places=3)   # the min (100) would say 1.3: missed
        self.assertEqual(pull["verdict"], "met")
        self.assertEqual(t["add: time per file at 1000000 within 1.25× of 50000"]["value"], 1.0)
        self.assertEqual(huge.growth_line(s, (1_000_000, 50_000), "push"), "| push | 130.0 | 100.0 | 1.30 | 1.30 |")
        self.assertEqual(t["50000 files push: ferry / floor ≤ 1.5×"]["value"], 1.0)     # median 100 / 100

    def test_sync_rss_target_and_no_time_target(self):
        huge, roles = self.rows()
        rs = [hrec(1_000_000, "ferry", "floor", 50.0), hrec(1_000_000, "ferry", "sync", 80.0, rss_kib=170_000),
              hrec(1_000_000, "ferry", "add", 60.0, rss_kib=100_000)]
        t = {x["target"]: x for x in huge.targets(huge.summarize(rs), [1_000_000], roles)}
        sync = t["1000000 files sync: peak RSS ≤ 150 MB"]
        self.assertEqual(sync["verdict"], "missed")
        self.assertAlmostEqual(sync["value"], 174.08, places=2)
        self.assertEqual(t["1000000 files: peak RSS ≤ 150 MB on every ferry step"]["verdict"], "missed")
        self.assertFalse(any("sync" in k and "floor" in k for k in t), "sync has no time target")
        self.assertEqual(huge.STEPS.index("sync"), huge.STEPS.index("status_c") + 1)
        self.assertEqual(huge.STEPS[-1], "pull")

    def test_compare_trees_paths_and_sizes(self):
        import huge
        with tempfile.TemporaryDirectory() as d:
            want, got = os.path.join(d, "remote"), os.path.join(d, "remote2")
            for root in (want, got):
                for rel, size in (("files/md5/ab/cdef", 10), ("files/md5/ab/cdee.dir", 3), ("files/md5-x", 1),
                                  ("files/md5/ac/0000", 7)):   # "md5-x" sorts before "md5/" as a string
                    os.makedirs(os.path.dirname(os.path.join(root, rel)), exist_ok=True)
                    with open(os.path.join(root, rel), "wb") as f:
                        f.write(b"x" * size)
            os.makedirs(os.path.join(got, "files", "md5", "ff"))   # an empty directory is no difference
            same = huge.compare_trees(want, got)
            self.assertEqual(same, {"verdict": "identical", "files": [4, 4], "bytes": [21, 21]})
            with open(os.path.join(got, "files/md5/ab/cdef"), "ab") as f:
                f.write(b"y")
            os.remove(os.path.join(got, "files/md5/ac/0000"))
            with open(os.path.join(got, "files/md5/ab/zz"), "wb") as f:
                f.write(b"z")
            diff = huge.compare_trees(want, got)
            self.assertEqual(diff["files"], [4, 4])
            self.assertEqual(diff["bytes"], [21, 16])
            self.assertEqual(diff["verdict"], "3 difference(s): files/md5/ab/cdef: 11 bytes, not 10; "
                             "files/md5/ab/zz: not in the original; files/md5/ac/0000: missing from the copy")
            self.assertEqual(huge.compare_trees(want, os.path.join(d, "absent"))["files"], [4, 0])

    def test_report_spread_table_sync_section_reps_in_json_and_a_bad_copy_fails(self):
        huge, roles = self.rows()
        rs = []
        for f, reps in ((50_000, 3), (1_000_000, 1)):
            for rep in range(1, reps + 1):
                rs += [hrec(f, "ferry", step, f * 1e-5 * (rep if f == 50_000 else 1), rep=rep) for step in huge.STEPS]
        for r in rs:
            if r["step"] == "sync":
                r["remote_copy"] = "identical"
        info = {"date_utc": "2026-01-01T00:00:00Z", "cores": 2, "cpu": "cpu", "memory": "1 GiB",
                "load_at_start": ["1", "1", "1"], "load_at_end": ["2", "2", "2"], "work_fs": "fs",
                "ferry_commit": "abc", "versions": {"ferry": "f", "dvc": "3.67.1"}}

        def run(records):
            with tempfile.TemporaryDirectory() as out:
                with open(os.devnull, "w") as null:
                    stdout, sys.stdout = sys.stdout, null
                    try:
                        bad = huge.report(types.SimpleNamespace(out=out, time_to_exit=False, growth_reps=3), info,
                                          records, [50_000, 1_000_000], roles)
                    finally:
                        sys.stdout = stdout
                with open(os.path.join(out, "results.md")) as f, open(os.path.join(out, "results.json")) as g:
                    return bad, f.read(), json.load(g)

        bad, md, data = run(rs)
        self.assertEqual(bad, [])
        self.assertIn("### Spread of the 50000-file row over its 3 repetitions", md)
        self.assertIn("| push | 3/3 | 1.00 | 0.50–1.50 | 100 % | 0.80 | 0.40–1.20 |", md)   # medians of 0.5, 1, 1.5
        self.assertIn("| status | 3/3 |", md)
        self.assertIn("| 50000 | push | 1.00 | – | 1.00 | 1.00 |", md)     # the main table: medians too
        self.assertIn("| push | 10.0 | 20.0 | 0.50 | 0.50 |", md)            # growth: 10 µs/file over median 20
        self.assertIn("| 1000000 | 10.00 | 10.00 | 1.00 | 51 | identical |", md)   # sync against the floor
        self.assertIn("Synced remotes: all identical to the pushed remote", md)
        self.assertEqual(data["growth_reps"], 3)
        self.assertEqual(sorted({r["rep"] for r in data["runs"] if r["files"] == 50_000}), [1, 2, 3])
        self.assertEqual(data["growth_spread"]["steps"]["push"]["wall_max_s"], 1.5)
        rs[-2]["remote_copy"] = "1 difference(s): files/md5/ab/cd: missing from the copy"
        self.assertEqual(rs[-2]["step"], "sync")
        bad, md, _ = run(rs)
        self.assertEqual(len(bad), 1)            # huge.main returns 2 on it
        self.assertIn("Synced remotes: 1000000 ferry: 1 difference(s)", md)


if __name__ == "__main__":
    unittest.main()
