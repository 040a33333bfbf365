#!/usr/bin/env bash
# Benchmark: download 100 MB from a local `twistd -n netlab-http` with
# `netlab get -o FILE` and with `curl -o FILE`, in the same run against the
# same server; print MB/s (1 MB = 10^6 bytes) for each and the ratio.
# Each client runs ROUNDS times (default 5), alternating; the best and the
# median round are reported.  Wall time includes process start-up, as a
# user would see it.  Usage: bash benchmarks/get.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS="${1:-5}"
PY=.venv/bin/python
NETLAB=.venv/bin/netlab
TWISTD=.venv/bin/twistd
command -v curl >/dev/null || { echo "curl is required" >&2; exit 1; }
work="$(mktemp -d)"
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
mkdir "$work/www"
head -c 100000000 /dev/urandom > "$work/www/100m.bin"
printf 'tiny\n' > "$work/www/tiny.txt"
"$TWISTD" -n --pidfile= --logfile="$work/server.log" netlab-http \
  --listen tcp:0:interface=127.0.0.1 --path "$work/www" &
server_pid=$!
port=""
for _ in $(seq 1 200); do
  port="$(grep -oE 'netlab-http listening on tcp [^ ]+ [0-9]+' "$work/server.log" 2>/dev/null | awk '{print $NF}' | head -1 || true)"
  [ -n "$port" ] && break
  sleep 0.05   # polling for the server's start-up line, not synchronising a test
done
[ -n "$port" ] || { echo "server did not start" >&2; cat "$work/server.log" >&2; exit 1; }
url="http://127.0.0.1:$port/100m.bin"
tiny="http://127.0.0.1:$port/tiny.txt"

run() {  # run NAME EXPECTED_FILE COMMAND...: print seconds, check the sha256
  local name="$1" expected_file="$2"; shift 2
  local expected
  expected="$(sha256sum "$expected_file" | cut -d' ' -f1)"
  rm -f "$work/out"
  local start end
  start="$($PY -c 'import time; print(time.perf_counter())')"
  "$@" >/dev/null
  end="$($PY -c 'import time; print(time.perf_counter())')"
  got="$(sha256sum "$work/out" | cut -d' ' -f1)"
  [ "$got" = "$expected" ] || { echo "$name: sha256 mismatch" >&2; exit 1; }
  $PY -c "print(f'{$end - $start:.4f}')"
}

netlab_times=(); curl_times=(); netlab_tiny=(); curl_tiny=()
for _ in $(seq 1 "$ROUNDS"); do
  netlab_times+=("$(run netlab "$work/www/100m.bin" "$NETLAB" get -s -o "$work/out" "$url")")
  curl_times+=("$(run curl "$work/www/100m.bin" curl -s -o "$work/out" "$url")")
  netlab_tiny+=("$(run netlab "$work/www/tiny.txt" "$NETLAB" get -s -o "$work/out" "$tiny")")
  curl_tiny+=("$(run curl "$work/www/tiny.txt" curl -s -o "$work/out" "$tiny")")
done

$PY - "${netlab_times[*]}" "${curl_times[*]}" "$ROUNDS" "${netlab_tiny[*]}" "${curl_tiny[*]}" <<'PYEOF'
import statistics, sys
netlab = [float(x) for x in sys.argv[1].split()]
curl = [float(x) for x in sys.argv[2].split()]
netlab_tiny = statistics.median(float(x) for x in sys.argv[4].split())
curl_tiny = statistics.median(float(x) for x in sys.argv[5].split())
size_mb = 100.0
def line(name, times):
    best, median = min(times), statistics.median(times)
    print(f"{name:<12} best {size_mb / best:8.1f} MB/s ({best:.3f} s)   median {size_mb / median:8.1f} MB/s ({median:.3f} s)")
    return median
print(f"100 MB from netlab-http on 127.0.0.1, {sys.argv[3]} rounds each, wall time incl. start-up")
m_netlab = line("netlab get", netlab)
m_curl = line("curl", curl)
print(f"ratio netlab get / curl (median MB/s): {m_curl / m_netlab:.2f}")
# Start-up (a 5-byte download) subtracted: the transfer alone.
t_netlab, t_curl = m_netlab - netlab_tiny, m_curl - curl_tiny
print(f"start-up (median tiny download): netlab get {netlab_tiny:.3f} s, curl {curl_tiny:.3f} s")
print(f"transfer only: netlab get {size_mb / t_netlab:.1f} MB/s, curl {size_mb / t_curl:.1f} MB/s, ratio {t_curl / t_netlab:.2f}")
PYEOF
