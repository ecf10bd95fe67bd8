#!/usr/bin/env python3
"""Deterministic benchmark datasets (stdlib only), the same bytes on every machine.

usage: gen_data.py --out DIR [--seed N] [--scale F] [--force] [many] [big] [mixed]

  many : 10,000 files of 1-8 KiB in 100 leaf dirs   many/dNN/sMM/fNNNNN.bin   (~44 MiB)
  big  : 4 files of 256 MiB                          big/bigN.bin              (1 GiB)
  mixed: 2,000 files of 64 KiB-2 MiB in 20 dirs      mixed/gNN/mNNNN.bin       (~2 GiB)

--scale F multiplies the file counts of many/mixed and the file size of big.
Every file's bytes come from its own PRNG stream seeded from (seed, dataset, index), so the same
seed and scale give byte-identical trees (and the same fingerprints as the reference rig).
Writes DIR/<name>.manifest ("relpath md5 size" lines after a parameter header) and skips a
dataset whose manifest already matches the parameters, so re-runs cost nothing.
"""
import argparse
import hashlib
import json
import os
import random
import shutil
import sys
import time

CHUNK = 4 << 20
DATASETS = ("many", "big", "mixed")


def file_rng(seed, name, idx):
    """An independent, reproducible byte stream per file."""
    digest = hashlib.sha256(f"{seed}/{name}/{idx}".encode()).digest()
    return random.Random(int.from_bytes(digest[:16], "little"))


def plan(name, seed, scale):
    """Yields (relpath, size, index) for every file of dataset `name`."""
    if name == "many":
        sizes = random.Random(seed * 1000 + 1)
        for i in range(max(1, int(10_000 * scale))):
            d = i % 100
            yield f"d{d // 10:02d}/s{d % 10:02d}/f{i:05d}.bin", sizes.randint(1024, 8192), i
    elif name == "big":
        size = max(1, int((256 << 20) * scale))
        for i in range(4):
            yield f"big{i}.bin", size, i
    elif name == "mixed":
        sizes = random.Random(seed * 1000 + 3)
        for i in range(max(1, int(2_000 * scale))):
            yield f"g{i % 20:02d}/m{i:04d}.bin", sizes.randint(64 << 10, 2 << 20), i
    else:
        raise SystemExit(f"unknown dataset {name!r} (known: {', '.join(DATASETS)})")


def write_file(path, rng, size):
    md5 = hashlib.md5()
    with open(path, "wb") as f:
        left = size
        while left:
            block = rng.randbytes(min(CHUNK, left))
            md5.update(block)
            f.write(block)
            left -= len(block)
    return md5.hexdigest()


def generate(out, name, seed, scale, force):
    root = os.path.join(out, name)
    manifest = os.path.join(out, f"{name}.manifest")
    header = "# " + json.dumps({"name": name, "seed": seed, "scale": scale}, sort_keys=True)
    if not force and os.path.isdir(root) and os.path.exists(manifest):
        with open(manifest) as f:
            if f.readline().strip() == header:
                print(f"{name}: already generated ({manifest})")
                return
    shutil.rmtree(root, ignore_errors=True)
    started = time.monotonic()
    lines, total = [], 0
    for rel, size, idx in plan(name, seed, scale):
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        lines.append(f"{rel} {write_file(path, file_rng(seed, name, idx), size)} {size}")
        total += size
    lines.sort()
    fingerprint = hashlib.sha256("\n".join(l.rsplit(" ", 1)[0] for l in lines).encode()).hexdigest()
    tmp = manifest + ".tmp"
    with open(tmp, "w") as f:
        f.write(header + "\n")
        f.write(f"# files={len(lines)} bytes={total} fingerprint={fingerprint}\n")
        f.write("\n".join(lines) + "\n")
    os.replace(tmp, manifest)
    print(f"{name}: {len(lines)} files, {total / 2**20:.1f} MiB, fingerprint {fingerprint[:16]}, "
          f"{time.monotonic() - started:.1f} s -> {root}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("datasets", nargs="*", default=list(DATASETS))
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=20240601)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--force", action="store_true")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for name in args.datasets:
        generate(args.out, name, args.seed, args.scale, args.force)
    return 0


if __name__ == "__main__":
    sys.exit(main())
