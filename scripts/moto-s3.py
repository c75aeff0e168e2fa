#!/usr/bin/env python3
"""Starts moto's S3 server on loopback with SigV4 signature checks enforced, for tests and the demo.

  moto-s3.py PORT DIR [ADDRESS]   → prints shell `export` lines (endpoint, bucket, keys) and
                          leaves the server running (pid in DIR/moto.pid, log in DIR/moto.log);
                          ADDRESS (default 127.0.0.1) is where it listens

moto checks no signature by default. It checks them once /moto-api/reset-auth has been given 0,
against IAM users' access keys and policies, so a user, a key and an allow-all policy are made
first (policy-facts.md §4.4). After that a wrongly signed request gets 403 SignatureDoesNotMatch.
"""
import json, os, subprocess, sys, time, urllib.request

port, directory = sys.argv[1], sys.argv[2]
address = sys.argv[3] if len(sys.argv) > 3 else "127.0.0.1"
endpoint = f"http://{address}:{port}"
log = open(os.path.join(directory, "moto.log"), "w")
server = subprocess.Popen(["moto_server", "-H", address, "-p", port], stdout=log, stderr=subprocess.STDOUT,
                          start_new_session=True)
open(os.path.join(directory, "moto.pid"), "w").write(str(server.pid))
for _ in range(200):
    try:
        urllib.request.urlopen(endpoint + "/moto-api/", timeout=1)
        break
    except Exception:
        time.sleep(0.1)
else:
    sys.exit("moto_server did not start; see " + os.path.join(directory, "moto.log"))

import boto3  # noqa: E402  (moto[server] brings it)

session = boto3.session.Session(aws_access_key_id="bootstrap", aws_secret_access_key="bootstrap", region_name="us-east-1")
iam = session.client("iam", endpoint_url=endpoint)
iam.create_user(UserName="mastiff")
key = iam.create_access_key(UserName="mastiff")["AccessKey"]
iam.put_user_policy(UserName="mastiff", PolicyName="all", PolicyDocument=json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
session.client("s3", endpoint_url=endpoint).create_bucket(Bucket="mastiff-backups")
urllib.request.urlopen(urllib.request.Request(endpoint + "/moto-api/reset-auth", data=b"0", method="POST", headers={"Content-Type": "text/plain"}), timeout=5)
print(f"export MASTIFF_TEST_S3_ENDPOINT='{endpoint}'")
print("export MASTIFF_TEST_S3_BUCKET='mastiff-backups'")
print("export MASTIFF_TEST_S3_REGION='us-east-1'")
print(f"export MASTIFF_TEST_S3_ACCESS_KEY='{key['AccessKeyId']}'")
print(f"export MASTIFF_TEST_S3_SECRET_KEY='{key['SecretAccessKey']}'")
