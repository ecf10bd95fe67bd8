#!/usr/bin/env python3
"""Waits until a local S3 endpoint takes a signed write into a bucket (creating the bucket if needed).

Used by scripts/seaweedfs.sh: `weed mini -bucket=...` creates the bucket asynchronously, so the
server answering HTTP is not enough; only a signed PUT proves tests can use it.

usage: s3_ready.py --endpoint URL --bucket B --key K --secret S [--wait SECONDS]
Runs with the test venv's python (botocore comes with dvc-s3). Loopback endpoints only.
Exit 0 when a signed PUT + DELETE of a tiny object worked, 1 otherwise.
"""
import argparse
import sys
import time
from urllib.parse import urlparse

import botocore.session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

ap = argparse.ArgumentParser()
ap.add_argument("--endpoint", required=True)
ap.add_argument("--bucket", required=True)
ap.add_argument("--key", required=True)
ap.add_argument("--secret", required=True)
ap.add_argument("--wait", type=float, default=0)
a = ap.parse_args()

if urlparse(a.endpoint).hostname not in ("127.0.0.1", "localhost", "::1"):
    sys.exit(f"refusing non-loopback endpoint {a.endpoint}")

cfg = Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=10,
             s3={"addressing_style": "path"}, signature_version="s3v4")
s3 = botocore.session.get_session().create_client(
    "s3", endpoint_url=a.endpoint, region_name="us-east-1", config=cfg,
    aws_access_key_id=a.key, aws_secret_access_key=a.secret)

deadline = time.monotonic() + a.wait
last = None
while True:
    try:
        names = [b["Name"] for b in s3.list_buckets().get("Buckets", [])]
        if a.bucket not in names:
            s3.create_bucket(Bucket=a.bucket)
        s3.put_object(Bucket=a.bucket, Key="_ferry/ready", Body=b"ok")
        s3.delete_object(Bucket=a.bucket, Key="_ferry/ready")
        sys.exit(0)
    except (BotoCoreError, ClientError) as e:
        last = e
    if time.monotonic() > deadline:
        print(f"S3 at {a.endpoint} not writable: {last!r}", file=sys.stderr)
        sys.exit(1)
    time.sleep(0.2)
