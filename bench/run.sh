#!/usr/bin/env bash
# fleetban benchmark harness: `make bench`, or
#
#   bench/run.sh [--smoke] [--build DIR] [--out DIR] [--bans N] [--only P1,P3,...]
#
# Runs the drivers P1..P8 and P3PG (bench/README.md says what each measures), each figure beside a
# baseline measured in the same run, and writes OUT/latest.json and OUT/latest.md (a Markdown
# table, also printed). Every driver starts its own aggregator, subscribers and fail2ban-servers in
# a temp dir on loopback and stops them on every exit path (FLEETBAN_BENCH_KEEP=1 keeps the dirs).
#
#   --smoke      tiny counts, seconds in total, no target judged (ctest: bench_smoke)
#   --build DIR  the CMake build dir holding bin/ (fleetban's programs) and bench/ (the drivers);
#                default: build/ in the repository
#   --out DIR    results dir; default bench/results (full) or DIR/bench/smoke-results (smoke)
#   --bans N     P4's and P8's active bans (default 1000000)
#   --only LIST  run only these parts (P3PG: P3 on PostgreSQL state); the others' last results in OUT stay in the report.
#                SOAK (bench_soak: minutes of address churn, RSS/records/state.db staying flat)
#                runs only when named here: `bench/run.sh --only SOAK`
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=$REPO/build
OUT=
SMOKE=0
BANS=1000000
ONLY=P1,P2,P3,P3PG,P4,P5,P6,P7,P8

usage() { sed -n '2,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [[ $# -gt 0 ]]; do
  case $1 in
    --smoke) SMOKE=1 ;;
    --build) BUILD=${2:?}; shift ;;
    --out) OUT=${2:?}; shift ;;
    --bans) BANS=${2:?}; shift ;;
    --only) ONLY=${2:?}; shift ;;
    -h|--help) usage ;;
    *) echo "run.sh: unknown argument $1" >&2; usage ;;
  esac
  shift
done
[[ $BANS =~ ^[0-9]+$ ]] || { echo "run.sh: --bans must be a number" >&2; exit 2; }

BUILD=$(cd "$BUILD" && pwd)
BIN=$BUILD/bin
DRIVERS=$BUILD/bench
for prog in fleetban fleetban-publish fleetban-aggregator fleetban-subscriber; do
  [[ -x $BIN/$prog ]] || { echo "run.sh: $BIN/$prog missing: build first (make)" >&2; exit 1; }
done
for prog in bench_publish_cost bench_propagation bench_ingest bench_ingest_pg bench_scale bench_backend bench_soak bench_pages bench_minimal_client bench_stamp; do
  [[ -x $DRIVERS/$prog ]] || { echo "run.sh: $DRIVERS/$prog missing: build first (make)" >&2; exit 1; }
done
if [[ -z $OUT ]]; then
  if (( SMOKE )); then OUT=$DRIVERS/smoke-results; else OUT=$REPO/bench/results; fi
fi
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
PY=/usr/bin/python3   # Debian's own: the python3 on PATH may be another
[[ -x $PY ]] || PY=$(command -v python3)

# 100 subscribers are 100 processes with several sockets each.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# ---------------------------------------------------------------------------------------------
# Each step: a driver, its output shown and kept in OUT/NAME.log, its figures in OUT/NAME.json,
# and when it ran and under what load in OUT/NAME.meta.json.

CURRENT=
on_signal() {
  trap - INT TERM
  if [[ -n $CURRENT ]]; then
    kill -TERM "$CURRENT" 2>/dev/null || true   # the driver stops everything it started
    wait "$CURRENT" 2>/dev/null || true
  fi
  echo "run.sh: interrupted" >&2
  exit 130
}
trap on_signal INT TERM

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

FAILED=()
step() {
  local name=$1; shift
  [[ ,$ONLY, == *,${name^^},* ]] || return 0
  local log=$OUT/$name.log json=$OUT/$name.json started load_before rc=0
  echo "==> $name: $*"
  started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  load_before=$(loadavg)
  rm -f "$json"
  "$@" --bin "$BIN" --out "$json" > >(tee "$log") 2>&1 &
  CURRENT=$!
  wait "$CURRENT" || rc=$?
  CURRENT=
  "$PY" - "$OUT/$name.meta.json" "$started" "$load_before" "$(loadavg)" "$rc" <<'EOF'
import json, sys, datetime
path, started, before, after, rc = sys.argv[1:]
json.dump({"started": started, "ended": datetime.datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"),
           "loadavg_before": before, "loadavg_after": after, "exit_status": int(rc)}, open(path, "w"), indent=2)
EOF
  if (( rc != 0 )); then
    echo "run.sh: $name FAILED (exit $rc); its log: $log" >&2
    FAILED+=("$name")
  fi
}

if (( SMOKE )); then
  P1=(--runs 3 --warmup 1 --rounds 1)
  P2=(--subscribers "1,3" --publishes 3 --spacing-ms 20 --log-spacing-ms 20)
  P3=(--threads 2 --window 32 --duration-ms 500 --warmup-ms 200 --rounds 1)
  P3PG=(--threads 2 --window 32 --duration-ms 500 --warmup-ms 200 --rounds 1)
  P4=(--bans 2000 --threads 2 --list-repeat 1 --restart-repeat 1)
  P5=(--decisions 20 --per-address 3 --live 3)
  P8=(--bans 2000 --threads 2 --pages 30)
  P6=(--subscribers 30 --decisions 3 --relays 1)
  P7=(--subscribers 30 --bans 500 --rate 100 --before-kill-ms 1000)
  SOAK=(--duration 12 --rate 50 --sample 1)
else
  P1=()
  P2=()
  P3=()
  P3PG=()
  P4=(--bans "$BANS")
  P5=()
  P8=(--bans "$BANS")
  P6=()
  P7=()
  SOAK=()
fi

META=$OUT/run.meta.json
"$PY" - "$META" "$SMOKE" "$BUILD" "$REPO" <<'EOF'
import json, os, platform, subprocess, sys, datetime
path, smoke, build, repo = sys.argv[1:]
def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=10).stdout.strip()
    except Exception:
        return ""
model = ""
for line in sh("lscpu").splitlines():
    if line.startswith("Model name:"):
        model = line.split(":", 1)[1].strip()
meta = {
    "date": datetime.datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"),
    "mode": "smoke" if smoke == "1" else "full",
    "nproc": sh("nproc"),
    "cpu_model": model,
    "kernel": platform.release(),
    "memory": sh("free -m | awk '/^Mem:/ {print $2 \" MB\"}'"),
    "uptime_before": sh("uptime"),
    "hyperfine": sh("hyperfine --version") or "not installed (fork/exec timer)",
    "fail2ban": sh("fail2ban-client --version 2>&1 | head -1"),
    "build": build,
    "build_type": sh(f"grep -m1 '^CMAKE_BUILD_TYPE:' {build}/CMakeCache.txt | cut -d= -f2"),
    "commit": sh(f"git -C '{repo}' rev-parse --short HEAD") + (" (with local changes)" if sh(f"git -C '{repo}' status --porcelain --untracked-files=no") else ""),
}
json.dump(meta, open(path, "w"), indent=2)
EOF

echo "fleetban bench ($( ((SMOKE)) && echo smoke || echo full )): results in $OUT; load $(loadavg)"
step p1 "$DRIVERS/bench_publish_cost" "${P1[@]}"
step p2 "$DRIVERS/bench_propagation" "${P2[@]}"
step p3 "$DRIVERS/bench_ingest" "${P3[@]}"
step p3pg "$DRIVERS/bench_ingest_pg" "${P3PG[@]}"
step p4 "$DRIVERS/bench_scale" "${P4[@]}"
step p5 "$DRIVERS/bench_backend" "${P5[@]}"
step p6 "$DRIVERS/bench_fanout" "${P6[@]}"
step p7 "$DRIVERS/bench_failover" "${P7[@]}"
step p8 "$DRIVERS/bench_pages" "${P8[@]}"
step soak "$DRIVERS/bench_soak" "${SOAK[@]}"

"$PY" - "$META" <<'EOF'
import json, subprocess, sys
meta = json.load(open(sys.argv[1]))
meta["uptime_after"] = subprocess.run("uptime", shell=True, capture_output=True, text=True).stdout.strip()
json.dump(meta, open(sys.argv[1], "w"), indent=2)
EOF

REPORT_ARGS=("$OUT")
(( SMOKE )) && REPORT_ARGS+=(--smoke)
"$PY" "$REPO/bench/report.py" "${REPORT_ARGS[@]}"

if (( ${#FAILED[@]} > 0 )); then
  echo "run.sh: failed: ${FAILED[*]}" >&2
  exit 1
fi
