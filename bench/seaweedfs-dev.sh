#!/usr/bin/env bash
# TEMPORARY stand-in for scripts/seaweedfs.sh while that lands on main; bench/run uses it only when
# scripts/seaweedfs.sh does not exist. Starts `weed mini` (signed S3, telemetry off, 127.0.0.1 only)
# on its own ports so it never collides with the shared test server.
#   eval "$(bench/seaweedfs-dev.sh env)"; bench/seaweedfs-dev.sh start|stop       (needs ROOT and scripts/env.sh sourced: $VENV, $FERRY_TEST_ENV)
set -euo pipefail
: "${FERRY_TEST_ENV:?source scripts/env.sh first}"
VENV=$FERRY_TEST_ENV/venv
SW=$FERRY_TEST_ENV/bench-sw-dev
PORT=${BENCH_DEV_S3_PORT:-8533}
export FERRY_TEST_S3_ENDPOINT=http://127.0.0.1:$PORT FERRY_TEST_S3_BUCKET=ferrybench
export FERRY_TEST_S3_KEY=benchaccesskey FERRY_TEST_S3_SECRET=benchsecretkey0123456789
FERRY_TEST_SW_PIDFILE=$SW/weed.pid

case ${1:-} in
env)
  printf 'export FERRY_TEST_S3_ENDPOINT=%q FERRY_TEST_S3_BUCKET=%q FERRY_TEST_S3_KEY=%q FERRY_TEST_S3_SECRET=%q FERRY_TEST_SW_PIDFILE=%q\n' \
    "$FERRY_TEST_S3_ENDPOINT" "$FERRY_TEST_S3_BUCKET" "$FERRY_TEST_S3_KEY" "$FERRY_TEST_S3_SECRET" "$FERRY_TEST_SW_PIDFILE"
  ;;
start)
  if [ -f "$FERRY_TEST_SW_PIDFILE" ] && kill -0 "$(cat "$FERRY_TEST_SW_PIDFILE")" 2>/dev/null; then exit 0; fi
  mkdir -p "$SW/data" "$SW/logs" "$SW/conf" "$SW/tmp"
  cat > "$SW/conf/s3.json" <<EOF
{"identities":[{"name":"bench","credentials":[{"accessKey":"$FERRY_TEST_S3_KEY","secretKey":"$FERRY_TEST_S3_SECRET"}],
 "actions":["Admin","Read","List","Tagging","Write"]}]}
EOF
  CMD=("$VENV/bin/weed" -logdir="$SW/logs" mini -dir="$SW/data" -ip=127.0.0.1 -ip.bind=127.0.0.1
       -master.port=9533 -volume.port=9540 -filer.port=8988 -s3.port="$PORT" -s3.config="$SW/conf/s3.json"
       -master.telemetry=false -master.telemetry.url=http://127.0.0.1:9/ -s3.port.iceberg=0 -webdav=false
       -admin.ui=false -s3.port.lance=0 -bucket="$FERRY_TEST_S3_BUCKET"
       -filer.localSocket="$SW/tmp/filer.sock" -s3.localSocket="$SW/tmp/s3.sock")
  printf -v Q '%q ' "${CMD[@]}"
  mkdir -p "$SW/tmp$SW"
  # weed hard-codes gRPC sockets in /tmp: give it a private /tmp (mount namespace)
  nohup unshare -m --propagation private sh -c \
    "mount --rbind '$SW' '$SW/tmp$SW' && mount --rbind '$SW/tmp' /tmp && cd '$SW' && exec env TMPDIR=/tmp $Q" \
    > "$SW/weed.log" 2>&1 < /dev/null &
  echo $! > "$FERRY_TEST_SW_PIDFILE"
  ;;
stop)
  [ -f "$FERRY_TEST_SW_PIDFILE" ] || exit 0
  pid=$(cat "$FERRY_TEST_SW_PIDFILE")
  if kill -0 "$pid" 2>/dev/null && tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q weed; then
    kill -TERM "$pid"
    for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  fi
  rm -f "$FERRY_TEST_SW_PIDFILE"
  ;;
*) echo "usage: $0 env|start|stop" >&2; exit 2 ;;
esac
