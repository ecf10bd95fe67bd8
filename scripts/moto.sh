#!/usr/bin/env bash
# A strict S3 server for Ferry's tests: moto in server mode (pinned in SERVER_PIP_PINS) on a free
# 127.0.0.1 port, with SigV4 credential checks on (scripts/moto_setup.py creates the only key).
#   scripts/moto.sh start    # idempotent; prints the FERRY_TEST_MOTO_* variables as `export` lines
#   scripts/moto.sh stop     # SIGTERM to the PID in its PID file only, SIGKILL after 10 s
#   scripts/moto.sh env      # the variables of the running server
# moto keeps everything in memory: a restart means a new key and an empty bucket. Its PID and
# variables live in $FERRY_TEST_RUN_DIR/moto (scripts/test makes one per run), else
# $FERRY_TEST_ENV/moto.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/scripts/env.sh"

DIR=${FERRY_TEST_RUN_DIR:-$FERRY_TEST_ENV}/moto
PID_FILE=$DIR/moto.pid
ENV_FILE=$DIR/env

start() {
  ensure_server_venv
  mkdir -p "$DIR"
  if pid_alive "$PID_FILE" moto_server && [ -f "$ENV_FILE" ]; then
    log "moto already running, PID $(cat "$PID_FILE")"
    cat "$ENV_FILE"
    return 0
  fi
  local port endpoint creds
  port=$(free_port)
  endpoint=http://127.0.0.1:$port
  INITIAL_NO_AUTH_ACTION_COUNT=4 nohup "$SERVER_VENV/bin/moto_server" -H 127.0.0.1 -p "$port" \
    > "$DIR/moto.log" 2>&1 < /dev/null &
  echo $! > "$PID_FILE"
  if ! creds=$("$SERVER_VENV/bin/python" "$ROOT/scripts/moto_setup.py" --endpoint "$endpoint" \
      --bucket "$FERRY_TEST_S3_BUCKET"); then
    tail -20 "$DIR/moto.log" >&2
    stop
    die "moto_server did not come up with credential checks on"
  fi
  (umask 077 && {
    printf 'export FERRY_TEST_MOTO_ENDPOINT=%q\n' "$endpoint"
    printf 'export FERRY_TEST_MOTO_KEY=%q\n' "${creds% *}"
    printf 'export FERRY_TEST_MOTO_SECRET=%q\n' "${creds#* }"
  } > "$ENV_FILE")
  log "moto ready: S3 $endpoint, bucket $FERRY_TEST_S3_BUCKET, PID $(cat "$PID_FILE")"
  cat "$ENV_FILE"
}

stop() {
  stop_pid_file "$PID_FILE" moto_server
  rm -f "$ENV_FILE"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  env) cat "$ENV_FILE" ;;
  *) echo "usage: $0 start|stop|env" >&2; exit 254 ;;
esac
