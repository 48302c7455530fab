#!/usr/bin/env bash
# fleetban quick-start demo: `make demo`, or `demo/run-demo.sh BIN_DIR`.
#
# Runs a whole fleet on this machine, as an ordinary user, inside one temp dir:
# one fleetban-aggregator and three hosts, each with a real fail2ban-server (own
# config, socket, database and log; nothing of the machine's Fail2Ban, its
# /etc/fail2ban or its firewall is touched) and a fleetban-subscriber whose exec
# backend runs a small hook that only prints and logs what it would enforce.
# Then it fakes an SSH brute force on host1 and times the ban's trip: host1's
# Fail2Ban bans, fleetban-publish reports it, the aggregator decides, hosts 2 and
# 3 enforce it. Exits non-zero if that trip does not complete, so it doubles as a
# smoke test.
#
# Environment: FLEETBAN_DEMO_KEEP=1 keeps the temp dir (configs, logs) for
# inspection and prints its path. FLEETBAN_DEMO_IP=2001:db8::77 plays the attack
# from another address (canonical form; 192.0.2.0/24 or 2001:db8::/32 only,
# as Fail2Ban ignores its own addresses). FLEETBAN_DEMO_CURVE=1 turns CURVE on
# (see security() below).
set -euo pipefail

readonly ATTACKER=${FLEETBAN_DEMO_IP:-192.0.2.77}   # documentation ranges: never a real host
readonly HOSTS=(host1 host2 host3)
readonly PY=/usr/bin/python3   # Debian's own python3: the one on PATH may be another
readonly STEP_TIMEOUT_S=20     # the longest any single wait may take

usage() {
  echo "usage: $0 BIN_DIR   (the directory holding fleetban, fleetban-publish, fleetban-aggregator, fleetban-subscriber)" >&2
  exit 2
}
[[ $# -eq 1 ]] || usage

# ---------------------------------------------------------------------------
# Prerequisites

die() { echo "demo: error: $*" >&2; exit 1; }

[[ -d $1 ]] || die "$1 is not a directory (build first: make)"
BIN_DIR=$(cd "$1" && pwd)
REPO_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ACTION_FILE=$REPO_DIR/action.d/fleetban.conf
for prog in fleetban fleetban-publish fleetban-aggregator fleetban-subscriber; do
  [[ -x $BIN_DIR/$prog ]] || die "$BIN_DIR/$prog is missing or not executable (build first: make)"
done
[[ -r $ACTION_FILE ]] || die "$ACTION_FILE is missing"
[[ -x $PY ]] || die "$PY is missing (apt-get install python3)"
F2B_SERVER=$(command -v fail2ban-server || true)
F2B_CLIENT=$(command -v fail2ban-client || true)
[[ -n $F2B_SERVER && -n $F2B_CLIENT ]] || die "fail2ban-server/fail2ban-client not found (apt-get install fail2ban)"

# ---------------------------------------------------------------------------
# Small helpers

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# Alive and not a zombie (kill -0 succeeds on a zombie).
alive() {
  kill -0 "$1" 2>/dev/null || return 1
  local stat
  stat=$(ps -o stat= -p "$1" 2>/dev/null || true)
  [[ -n $stat && $stat != Z* ]]
}

# wait_exit GRACE_MS PID...: waits until every PID has exited or GRACE_MS has passed.
wait_exit() {
  local deadline=$(( $(now_ms) + $1 )) pid; shift
  for pid in "$@"; do
    while alive "$pid" && (( $(now_ms) < deadline )); do sleep 0.05; done
  done
}

# stop_pids GRACE_MS PID...: SIGTERM, up to GRACE_MS to exit, then SIGKILL.
stop_pids() {
  local grace=$1 pid; shift
  for pid in "$@"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait_exit "$grace" "$@"
  for pid in "$@"; do
    if alive "$pid"; then
      echo "demo: pid $pid still running $(( grace / 1000 ))s after SIGTERM, sending SIGKILL" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true   # reap quietly (no "Killed" job notice)
  done
}

# Processes whose early death makes a wait fail at once, with their log: "pid:name:logfile".
WATCHED=()
check_watched() {
  local entry pid name log
  for entry in "${WATCHED[@]}"; do
    IFS=: read -r pid name log <<<"$entry"
    if ! alive "$pid"; then
      local status=0
      wait "$pid" 2>/dev/null || status=$?
      fail "$name (pid $pid) exited unexpectedly (exit status $status)" "$log"
    fi
  done
}

# fail MESSAGE [LOG...]: says what did not happen, shows the end of each log, exits 1.
fail() {
  local msg=$1 log; shift
  echo >&2
  echo "demo: FAILED: $msg" >&2
  for log in "$@"; do
    [[ -e $log ]] || { echo "  ($log does not exist)" >&2; continue; }
    echo "---- last lines of $log ----" >&2
    tail -n 25 "$log" | sed 's/^/  /' >&2
  done
  [[ ${FLEETBAN_DEMO_KEEP:-0} == 1 ]] || echo "demo: rerun with FLEETBAN_DEMO_KEEP=1 to keep every config and log" >&2
  exit 1
}

# wait_until WHAT TIMEOUT_S LOGS CMD...: polls CMD until it succeeds; fails naming WHAT
# and showing the end of LOGS (comma-separated paths).
wait_until() {
  local what=$1 timeout_s=$2 logs; IFS=, read -ra logs <<<"$3"; shift 3
  local deadline=$(( $(now_ms) + timeout_s * 1000 ))
  until "$@"; do
    check_watched
    (( $(now_ms) < deadline )) || fail "$what did not happen within ${timeout_s}s" "${logs[@]}"
    sleep 0.05
  done
}

free_ports() {  # prints N free TCP ports on 127.0.0.1, distinct
  "$PY" - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

# ---------------------------------------------------------------------------
# The sandbox and its cleanup: on every exit path, stop what we started, remove the dir.

# The terminal, kept on fds 3 and 4 for cleanup's messages (see f2b_answers).
exec 3>&1 4>&2

# A short path: a Unix socket path must stay under 108 bytes.
DIR=$(mktemp -d /tmp/fleetban-demo.XXXXXX)
F2B_STARTED=()    # hosts whose fail2ban-server we started
F2B_PIDS=()
DAEMON_PIDS=()    # subscribers and aggregator, stopped in reverse order

f2b() {  # f2b HOST ARGS...: fail2ban-client talking to that host's sandboxed server only
  local host=$1; shift
  "$F2B_CLIENT" -c "$DIR/$host/etc" -s "$DIR/$host/run/f2b.sock" "$@"
}

cleanup() {
  local rc=$?
  # Cleanup runs to its end, whatever is pressed meanwhile: every step in it has a deadline.
  trap - EXIT
  trap '' INT TERM
  set +e
  exec 1>&3 2>&4
  if (( ${#F2B_STARTED[@]} + ${#DAEMON_PIDS[@]} > 0 )); then
    echo "==> stopping the demo fleet"
  fi
  # Fail2Ban first: its stop runs the action's no-op actionflush, so no unbans are published.
  local host pid i stoppers=()
  for host in "${F2B_STARTED[@]}"; do
    timeout 10 "$F2B_CLIENT" -c "$DIR/$host/etc" -s "$DIR/$host/run/f2b.sock" stop >/dev/null 2>&1 &
    stoppers+=($!)
  done
  for pid in "${stoppers[@]}"; do wait "$pid" 2>/dev/null; done
  # A server that did not take `stop` gets SIGTERM after 5 s, then SIGKILL.
  if (( ${#F2B_PIDS[@]} > 0 )); then
    wait_exit 5000 "${F2B_PIDS[@]}"
    stop_pids 2000 "${F2B_PIDS[@]}"
  fi
  # Subscribers, then the aggregator (started the other way round).
  local reversed=()
  for (( i = ${#DAEMON_PIDS[@]} - 1; i >= 0; i-- )); do reversed+=("${DAEMON_PIDS[i]}"); done
  (( ${#reversed[@]} == 0 )) || stop_pids 5000 "${reversed[@]}"
  if [[ ${FLEETBAN_DEMO_KEEP:-0} == 1 ]]; then
    echo "demo: kept $DIR for inspection (rm -rf it when done)"
  else
    rm -rf "$DIR"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'echo; echo "demo: interrupted" >&2; exit 130' INT
trap 'echo "demo: terminated" >&2; exit 143' TERM

sock=$DIR/host1/run/f2b.sock
(( ${#sock} < 100 )) || die "temp dir path too long for a Unix socket: $sock"

read -r INGEST_PORT BROADCAST_PORT < <(free_ports 2)
INGEST=tcp://127.0.0.1:$INGEST_PORT
BROADCAST=tcp://127.0.0.1:$BROADCAST_PORT

# ---------------------------------------------------------------------------
# Security: every key and CURVE setting of the demo is in this one function.
# Without CURVE by default (insecure = true on both ends); FLEETBAN_DEMO_CURVE=1
# runs it with `fleetban keygen` keys: one key per host, admitted by the aggregator.
readonly USE_CURVE=${FLEETBAN_DEMO_CURVE:-0}
#   security setup            creates the keys (run once, before any config is written)
#   security aggregator       prints the TOML lines for aggregator.toml's top level
#   security host NAME        prints the TOML lines for NAME's host.toml top level
security() {
  if [[ $USE_CURVE != 1 ]]; then
    case $1 in
      setup) ;;
      aggregator|host) printf 'insecure = true\n' ;;
      *) die "security: unknown role $1" ;;
    esac
    return
  fi
  local keys=$DIR/keys authorized=$DIR/authorized host
  case $1 in
    setup)
      mkdir -p "$keys" "$authorized"
      "$BIN_DIR/fleetban" keygen aggregator --dir "$keys" >/dev/null
      for host in "${HOSTS[@]}"; do
        "$BIN_DIR/fleetban" keygen "$host" --dir "$keys" >/dev/null
        cp "$keys/$host.pub" "$authorized/$host.pub"
      done ;;
    aggregator)
      printf 'server_key     = "%s"\nauthorized_dir = "%s"\ninsecure       = false\n' \
        "$keys/aggregator.key" "$authorized" ;;
    host)
      printf 'server_key = "%s"\nclient_key = "%s"\ninsecure   = false\n' \
        "$keys/aggregator.pub" "$keys/$2.key" ;;
    *) die "security: unknown role $1" ;;
  esac
}

# ---------------------------------------------------------------------------
# Configs

write_aggregator_config() {
  local sec
  sec=$(security aggregator)
  cat >"$DIR/aggregator.toml" <<EOF
ingest    = "$INGEST"
broadcast = "$BROADCAST"
http      = ""
state     = "$DIR/state.db"
$sec

[policy]
min_reporters = 1
EOF
}

# The exec backend's hook: prints a readable line and appends it to HOST/enforced.log.
write_enforce_hook() {
  cat >"$DIR/enforce-hook" <<EOF
#!/bin/sh
# enforce-hook HOST ban IP EXPIRES REPORTERS JAILS  |  enforce-hook HOST unban IP
# Run by fleetban-subscriber's exec backend (no shell in between); blocks nothing.
host=\$1 op=\$2 ip=\$3
case \$op in
  ban)
    if [ "\$4" = never ]; then until=permanently
    else until="until \$(date -d "@\$4" '+%Y-%m-%d %H:%M:%S %Z')"; fi
    line="[\$host] enforcing ban of \$ip \$until, reported by \$5 (\$6)" ;;
  unban) line="[\$host] lifting ban of \$ip" ;;
  *)     line="[\$host] enforce-hook called with: \$*" ;;
esac
printf '%s\n' "\$line"
printf '%s\n' "\$line" >>"$DIR/\$host/enforced.log"
EOF
  chmod +x "$DIR/enforce-hook"
}

write_host() {
  local host=$1 h=$DIR/$1 sec
  sec=$(security host "$1")
  mkdir -p "$h/etc/action.d" "$h/etc/filter.d" "$h/run" "$h/spool"
  : >"$h/run/auth.log"
  : >"$h/enforced.log"

  cat >"$h/host.toml" <<EOF
host_id    = "$host"
aggregator = "$INGEST"
broadcast  = "$BROADCAST"
spool_dir  = "$h/spool"
timeout_ms = 500
$sec

[enforce]
backend       = "exec"
ban_command   = "$DIR/enforce-hook $host ban <ip> <expires> <reporters> <jails>"
unban_command = "$DIR/enforce-hook $host unban <ip>"
EOF

  # A sandboxed Fail2Ban: nothing is read from /etc/fail2ban, no firewall action.
  cp "$ACTION_FILE" "$h/etc/action.d/fleetban.conf"
  cat >"$h/etc/fail2ban.conf" <<EOF
[Definition]
loglevel = INFO
logtarget = $h/run/fail2ban.log
syslogsocket = auto
socket = $h/run/f2b.sock
pidfile = $h/run/f2b.pid
allowipv6 = auto
dbfile = $h/run/f2b.sqlite3
dbpurgeage = 1d
EOF
  cat >"$h/etc/filter.d/test-auth.conf" <<'EOF'
[Definition]
failregex = ^auth failure from <HOST>\s*$
datepattern = {NONE}
EOF
  cat >"$h/etc/jail.local" <<EOF
[DEFAULT]
backend   = polling
usedns    = no
bantime   = 600
findtime  = 600
maxretry  = 2

[sshd]
enabled = true
filter  = test-auth
logpath = $h/run/auth.log
action  = fleetban[config="$h/host.toml", publish="$BIN_DIR/fleetban-publish"]
EOF
}

# ---------------------------------------------------------------------------
# Starting things

# start_daemon NAME LOG CMD...: in its own session (a Ctrl-C reaches only this
# script, which then stops everything in order), output to LOG.
start_daemon() {
  local name=$1 log=$2; shift 2
  setsid "$@" >"$log" 2>&1 </dev/null &
  DAEMON_PIDS+=($!)
  WATCHED+=("$!:$name:$log")
}

fleet_list() { "$BIN_DIR/fleetban" list --json --config "$DIR/host1/host.toml" 2>>"$DIR/fleetban-cli.err"; }

aggregator_ready() {
  local rc=0
  fleet_list >/dev/null || rc=$?
  # 2 is bad usage or config: polling will not fix that.
  (( rc != 2 )) || fail "fleetban list --json --config $DIR/host1/host.toml exited 2 (bad config?)" \
    "$DIR/fleetban-cli.err" "$DIR/aggregator.toml"
  (( rc == 0 ))
}

# (Redirections go on the command, not on a function call: a trap that fires during a
# redirected function call would run with the redirection in place.)
f2b_answers() { "$F2B_CLIENT" -c "$DIR/$1/etc" -s "$DIR/$1/run/f2b.sock" ping >/dev/null 2>&1; }

# ---------------------------------------------------------------------------
# The checks of the ban's trip

f2b_banned() { [[ $(f2b host1 get sshd banned "$ATTACKER" 2>/dev/null) == 1 ]]; }

# Prints the fleet decision for $ATTACKER as one readable line; fails if there is none.
fleet_decision() {
  local json
  json=$(fleet_list) || return 1
  "$PY" -c '
import json, sys, time
ip = sys.argv[1]
for ban in json.loads(sys.stdin.read()).get("bans", []):
    if ban.get("ip") == ip:
        exp = ban.get("expires_at")
        until = "permanently" if exp is None else "until " + time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(exp))
        print("fleet bans %s %s, reported by %s (%s), fleet ban count %s" % (
            ip, until, ",".join(ban.get("reporters", [])), ",".join(ban.get("jails", [])), ban.get("ban_count")))
        sys.exit(0)
sys.exit(1)' "$ATTACKER" <<<"$json"
}

enforced_on() { grep -F -m1 "ban of $ATTACKER " "$DIR/$1/enforced.log"; }

# ---------------------------------------------------------------------------
# The demo

echo "fleetban demo: 1 aggregator + 3 hosts, each with its own sandboxed fail2ban-server"
echo "    sandbox: $DIR    programs: $BIN_DIR"

security setup
write_aggregator_config
write_enforce_hook
for host in "${HOSTS[@]}"; do write_host "$host"; done

echo "==> starting fleetban-aggregator (ingest $INGEST, broadcast $BROADCAST)"
t=$(now_ms)
start_daemon fleetban-aggregator "$DIR/aggregator.log" "$BIN_DIR/fleetban-aggregator" --config "$DIR/aggregator.toml"
wait_until "the aggregator answering \`fleetban list --json\`" "$STEP_TIMEOUT_S" \
  "$DIR/aggregator.log,$DIR/fleetban-cli.err" aggregator_ready
echo "    ready: \`fleetban list --json\` answers ($(( $(now_ms) - t )) ms)"

echo "==> starting a fleetban-subscriber and a fail2ban-server on each of ${HOSTS[*]}"
for host in "${HOSTS[@]}"; do
  start_daemon "$host's fleetban-subscriber" "$DIR/$host/subscriber.log" \
    "$BIN_DIR/fleetban-subscriber" --config "$DIR/$host/host.toml"
done
for host in "${HOSTS[@]}"; do
  setsid "$F2B_SERVER" -f -x -c "$DIR/$host/etc" -s "$DIR/$host/run/f2b.sock" -p "$DIR/$host/run/f2b.pid" \
    >"$DIR/$host/run/server.out" 2>&1 </dev/null &
  F2B_PIDS+=($!)
  F2B_STARTED+=("$host")
  WATCHED+=("$!:$host's fail2ban-server:$DIR/$host/run/server.out")
done
t=$(now_ms)
for host in "${HOSTS[@]}"; do
  wait_until "$host's fail2ban-server answering ping" "$STEP_TIMEOUT_S" "$DIR/$host/run/fail2ban.log" f2b_answers "$host"
  echo "    $host: fail2ban-server answers ($(( $(now_ms) - t )) ms), jail sshd with action fleetban"
done

echo "==> an SSH brute force on host1: 2 failures from $ATTACKER appended to host1's auth.log (maxretry 2)"
t0=$(date +%s%N)
printf 'auth failure from %s\nauth failure from %s\n' "$ATTACKER" "$ATTACKER" >>"$DIR/host1/run/auth.log"
elapsed() { printf '%5d ms' $(( ($(date +%s%N) - t0) / 1000000 )); }

wait_until "host1's Fail2Ban banning $ATTACKER (fail2ban-client get sshd banned)" "$STEP_TIMEOUT_S" \
  "$DIR/host1/run/fail2ban.log" f2b_banned
T_F2B=$(elapsed)
echo "  $T_F2B  (a) host1's Fail2Ban banned $ATTACKER in jail sshd; its fleetban action runs fleetban-publish"

wait_until "a fleet decision for $ATTACKER (fleetban list --json)" "$STEP_TIMEOUT_S" \
  "$DIR/host1/run/fail2ban.log,$DIR/aggregator.log,$DIR/fleetban-cli.err" fleet_decision >/dev/null
T_FLEET=$(elapsed)
echo "  $T_FLEET  (b) the aggregator decided: $(fleet_decision)"

declare -A T_ENFORCED=()
pending=(host2 host3)
deadline=$(( $(now_ms) + STEP_TIMEOUT_S * 1000 ))
while (( ${#pending[@]} > 0 )); do
  still=()
  for host in "${pending[@]}"; do
    if line=$(enforced_on "$host"); then
      T_ENFORCED[$host]=$(elapsed)
      echo "  ${T_ENFORCED[$host]}  (c) $host enforces it: $line"
    else
      still+=("$host")
    fi
  done
  pending=("${still[@]}")
  (( ${#pending[@]} > 0 )) || break
  check_watched
  if (( $(now_ms) >= deadline )); then
    logs=()
    for host in "${pending[@]}"; do logs+=("$DIR/$host/subscriber.log"); done
    fail "the ban of $ATTACKER did not reach ${pending[*]} within ${STEP_TIMEOUT_S}s" "${logs[@]}" "$DIR/aggregator.log"
  fi
  sleep 0.02
done

# The reporter's own subscriber gets the fleet decision too (its Fail2Ban already blocks it).
host1_line=$(enforced_on host1 || true)

echo "==> summary"
echo "    $ATTACKER failed twice on host1, at t = 0:"
echo "      $T_F2B  host1's Fail2Ban bans it and publishes the ban"
echo "      $T_FLEET  the fleet decision exists on the aggregator"
echo "      ${T_ENFORCED[host2]}  host2 enforces it"
echo "      ${T_ENFORCED[host3]}  host3 enforces it"
if [[ -n $host1_line ]]; then
  echo "    host1's subscriber received it as well: $host1_line"
fi
echo "    logs: aggregator.log, hostN/subscriber.log, hostN/run/fail2ban.log, hostN/enforced.log"
echo "demo: OK, one ban on host1 reached the whole fleet"
