#!/usr/bin/env python3
"""Multipart uploads on the test S3 server, seen with botocore (independent of Ferry's code).

usage: s3_uploads.py --endpoint URL --bucket B --key K --secret S --prefix P list
       s3_uploads.py ... create OBJECT_KEY      # starts one and leaves it incomplete
       s3_uploads.py ... abort-all              # aborts every upload under the prefix
Prints JSON: `list` a list of {"key", "upload_id"}; the others {"upload_id"} / {"aborted": n}.
Runs with the test venv's python (botocore comes with dvc-s3). Loopback endpoints only.
"""
import argparse
import json
import sys
from urllib.parse import urlparse

import botocore.session
from botocore.config import Config

ap = argparse.ArgumentParser()
for flag in ("--endpoint", "--bucket", "--key", "--secret", "--prefix"):
    ap.add_argument(flag, required=True)
ap.add_argument("action", choices=["list", "create", "abort-all"])
ap.add_argument("object_key", nargs="?")
a = ap.parse_args()
if urlparse(a.endpoint).hostname not in ("127.0.0.1", "localhost", "::1"):
    sys.exit(f"refusing non-loopback endpoint {a.endpoint}")

cfg = Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"}, signature_version="s3v4")
s3 = botocore.session.get_session().create_client(
    "s3", endpoint_url=a.endpoint, region_name="us-east-1", config=cfg,
    aws_access_key_id=a.key, aws_secret_access_key=a.secret)


def uploads():
    got = s3.list_multipart_uploads(Bucket=a.bucket, Prefix=a.prefix).get("Uploads", [])
    return [{"key": u["Key"], "upload_id": u["UploadId"]} for u in got]


if a.action == "list":
    print(json.dumps(uploads()))
elif a.action == "create":
    u = s3.create_multipart_upload(Bucket=a.bucket, Key=a.object_key)
    print(json.dumps({"upload_id": u["UploadId"]}))
else:
    found = uploads()
    for u in found:
        s3.abort_multipart_upload(Bucket=a.bucket, Key=u["key"], UploadId=u["upload_id"])
    print(json.dumps({"aborted": len(found)}))
