#!/usr/bin/env bash
# Key-service benchmark on loopback: attestations (nonce + LAS evidence + sealed configuration)
# per second with 50 concurrent clients, p50/p99 latency, and session creates per second.
# Baseline measured in the same run: bare HTTPS requests (GET of a missing path: 404) with the
# same 50 clients, i.e. what TLS and HTTP alone cost. Targets (2 cores): >= 1000 att/s, p99 < 10 ms.
# Load generators: bench/cas_bench.c (one thread per client: closed loop, and open loop for
# comparison) and bench/cas_bench_loop.c (the 50 clients driven by one event-loop thread, open
# loop at 1000/s: the latency target is judged on it, as its own threads do not crowd the cores).
#   bench/cas.sh [BUILD]     CAS_BENCH_SECONDS (default 5), CAS_BENCH_CLIENTS (default 50)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="${1:-build}"
WARD="$PWD/$BUILD/bin/ward"
SECS="${CAS_BENCH_SECONDS:-5}"
CLIENTS="${CAS_BENCH_CLIENTS:-50}"
T=$(mktemp -d /tmp/ward-bench-cas.XXXXXX)
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$T"
}
trap cleanup EXIT

PKGS="libsodium libcurl json-c libcrypto libssl sqlite3 yaml-0.1 gnutls"
DRIVER="$BUILD/bench/cas_bench"
LOOP="$BUILD/bench/cas_bench_loop"
mkdir -p "$BUILD/bench"
for d in cas_bench cas_bench_loop; do
	cc -O2 -std=c17 -Wall -Wextra -Werror -D_GNU_SOURCE -pthread -Iinclude -Ilib -o "$BUILD/bench/$d" "bench/$d.c" \
		"$BUILD/lib/libward.a" $(pkg-config --cflags --libs $PKGS) -lm
done

"$WARD" cas serve --dev --data "$T/cas" --owner-listen 127.0.0.1:0 --workload-listen 127.0.0.1:0 \
	--port-file "$T/ports" >"$T/cas.out" 2>"$T/cas.err" &
PIDS+=($!)
for _ in $(seq 200); do [ -s "$T/ports" ] && break; sleep 0.05; done
OWNER="https://127.0.0.1:$(sed -n 's/^owner //p' "$T/ports")"
WL="https://127.0.0.1:$(sed -n 's/^workload //p' "$T/ports")"
CA="$T/cas/tls/server.crt"
export WARD_LAS_KEY="$T/las.key"
"$WARD" las init >"$T/las.init" 2>/dev/null
"$WARD" las --socket "$T/las.sock" 2>"$T/las.err" &
PIDS+=($!)
for _ in $(seq 100); do "$WARD" las query --socket "$T/las.sock" >/dev/null 2>&1 && break; sleep 0.05; done
# The driver is the "launcher" the LAS measures: enrol its measurement for this run only.
"$WARD" cas platform add --data "$T/cas" "$(sed -n 's/^platform //p' "$T/las.init")" \
	--launcher "$(sha256sum "$DRIVER" | cut -d' ' -f1)" --launcher "$(sha256sum "$LOOP" | cut -d' ' -f1)"
cat >"$T/s.yml" <<EOF
name: bench
secrets: [{name: K, kind: binary, size: 32}, {name: R, kind: x25519}]
services:
  - name: s
    command: [/bin/true, "--key=\$\$WARD::K:hex\$\$"]
    environment: {R: "\$\$WARD::R:hex\$\$"}
    attestation: {measurements: ["$("$WARD" measure /bin/true)"]}
EOF
"$WARD" session create --cas "$OWNER" --cacert "$CA" --cert "$T/cas/tls/client.crt" \
	--key "$T/cas/tls/client.key" "$T/s.yml" >/dev/null

drive() { # MODE BASE THREADS [CERT KEY]
	"$DRIVER" "$1" "$2" "$CA" bench/s "$T/las.sock" /bin/true "$3" "$SECS" "${@:4}"
}
field() { sed -n "s/.* $1 \([0-9.]*\).*/\1/p"; }

echo "ward cas bench: $CLIENTS clients, ${SECS}s per phase, $(nproc) cores"
base=$(drive http "$WL" "$CLIENTS")
echo "  baseline  HTTPS GET (404):        $base"
ev=$(drive evidence "$WL" "$CLIENTS")
echo "  evidence  LAS alone:              $ev"
one=$(drive attest "$WL" 1)
echo "  attest    1 client:               $one"
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; } # user+system ticks
c0=$(cpu "${PIDS[0]}")
l0=$(cpu "${PIDS[1]}")
t0=$(awk '{print $14 + $15}' /proc/self/stat)
att=$( (time -p drive attest "$WL" "$CLIENTS") 2>"$T/time")
echo "  attest    saturated (closed loop): $att"
c1=$(cpu "${PIDS[0]}")
l1=$(cpu "${PIDS[1]}")
drv=$(awk '/^(user|sys)/ {s += $2} END {print s}' "$T/time")
n=$(echo "$att" | sed -n 's/^ops \([0-9]*\).*/\1/p')
# CPU per attestation does not depend on what else runs on the machine; rates do.
awk -v c=$((c1 - c0)) -v l=$((l1 - l0)) -v d="$drv" -v n="$n" -v hz="$(getconf CLK_TCK)" 'BEGIN {
	printf "  CPU per attestation: service %.3f ms, LAS %.3f ms, load generator %.3f ms\n",
		1000 * c / hz / n, 1000 * l / hz / n, 1000 * d / n
}'
# With 50 clients in a closed loop, Little's law ties latency to throughput (50 in flight at
# 1000/s is 50 ms each); the latency target is measured at an offered 1000/s instead.
# Open loop twice: 50 clients as 50 threads, and 50 clients driven by one event-loop thread (as
# wrk or h2load do). The threaded generator's own 50 threads lengthen the tail it measures.
othr=$(CAS_BENCH_RATE=$((1000 / CLIENTS)) drive attest "$WL" "$CLIENTS")
echo "  attest    offered 1000/s, 50 threads:    $othr"
open=$("$LOOP" "$WL" "$CA" bench/s "$T/las.sock" /bin/true "$CLIENTS" "$SECS" 1000)
echo "  attest    offered 1000/s, event loop:    $open"
crt=$(drive create "$OWNER" 8 "$T/cas/tls/client.crt" "$T/cas/tls/client.key")
echo "  create    sessions (8 clients):   $crt"
br=$(echo "$base" | field rate)
ar=$(echo "$att" | field rate)
ap99=$(echo "$open" | field p99_ms)
orate=$(echo "$open" | field rate)
cr=$(echo "$crt" | field rate)
awk -v a="$ar" -v b="$br" -v p="$ap99" -v c="$cr" -v o="$orate" 'BEGIN {
	printf "  attestations/s %.0f (saturated) = %.2f x baseline requests/s\n", a, a / b
	printf "  at an offered 1000/s (event-loop generator): served %.0f/s, p99 %.2f ms\n", o, p
	printf "  session creates/s %.0f = %.3f x baseline requests/s\n", c, c / b
	printf "  targets (>= 1000/s, p99 < 10 ms): %s\n", (a >= 1000 && o >= 950 && p < 10) ? "met" : "NOT met"
}'
grep -c '"event":"attestation.granted"' "$T/cas/audit.log" | sed 's/^/  audit entries for grants: /'
