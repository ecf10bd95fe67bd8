#!/usr/bin/env python3
"""Makes a freshly started `moto_server` (with INITIAL_NO_AUTH_ACTION_COUNT=4) check SigV4
like a real S3: the four unauthenticated calls create an IAM user, its access key, a policy
allowing everything and the test bucket; every later request must be signed with that key.

usage: moto_setup.py --endpoint URL --bucket B [--wait SECONDS]
Prints "ACCESS_KEY_ID SECRET_ACCESS_KEY". Runs with the servers venv's python (boto3 comes with
moto). Loopback endpoints only. Waits for the port with plain TCP connects, which moto does not
count as actions.
"""
import argparse
import json
import socket
import sys
import time
from urllib.parse import urlparse

import boto3
from botocore.exceptions import ClientError

ap = argparse.ArgumentParser()
ap.add_argument("--endpoint", required=True)
ap.add_argument("--bucket", required=True)
ap.add_argument("--wait", type=float, default=30)
a = ap.parse_args()

url = urlparse(a.endpoint)
if url.hostname not in ("127.0.0.1", "localhost", "::1"):
    sys.exit(f"refusing non-loopback endpoint {a.endpoint}")
deadline = time.monotonic() + a.wait
while True:
    try:
        socket.create_connection((url.hostname, url.port), timeout=1).close()
        break
    except OSError:
        if time.monotonic() > deadline:
            sys.exit(f"moto_server never listened on {a.endpoint}")
        time.sleep(0.1)

anonymous = dict(
    endpoint_url=a.endpoint,
    region_name="us-east-1",
    aws_access_key_id="setup",
    aws_secret_access_key="setup",
)
iam = boto3.client("iam", **anonymous)
iam.create_user(UserName="ferry-test")
key = iam.create_access_key(UserName="ferry-test")["AccessKey"]
policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
iam.put_user_policy(UserName="ferry-test", PolicyName="all", PolicyDocument=json.dumps(policy))
boto3.client("s3", **anonymous).create_bucket(Bucket=a.bucket)

signed = boto3.client(
    "s3",
    endpoint_url=a.endpoint,
    region_name="us-east-1",
    aws_access_key_id=key["AccessKeyId"],
    aws_secret_access_key=key["SecretAccessKey"],
)
signed.put_object(Bucket=a.bucket, Key="moto-ready", Body=b"")
signed.delete_object(Bucket=a.bucket, Key="moto-ready")
try:
    boto3.client("s3", **anonymous).list_objects_v2(Bucket=a.bucket)
    sys.exit("moto accepted an unknown access key: credential checks are off")
except ClientError:
    pass
print(key["AccessKeyId"], key["SecretAccessKey"])
