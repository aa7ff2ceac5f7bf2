#!/usr/bin/env bash
# Short libFuzzer run of every harness (part of `make check`); see fuzz/README.md.
#   fuzz/smoke.sh BUILD_DIR   (default build/fuzz); FUZZ_SECONDS per harness (default 20)
set -u
build="${1:-build/fuzz}"
secs="${FUZZ_SECONDS:-20}"
status=0
for f in "$build"/fuzz_*; do
	[ -x "$f" ] || continue
	name=$(basename "$f")
	seeds="fuzz/corpus/${name#fuzz_}"
	work=$(mktemp -d /tmp/ward-fuzz.XXXXXX)
	[ -d "$seeds" ] && cp -r "$seeds"/. "$work"/ 2>/dev/null
	if "$f" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		"$work" >"$work.log" 2>&1; then
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work.log")
		echo "PASS: $name ran ${runs:-?} inputs in ${secs}s without a crash"
	else
		echo "FAIL: $name found a crash:"
		grep -E 'ERROR|SUMMARY|Test unit written' "$work.log" | head -5
		status=1
	fi
	rm -rf "$work" "$work.log"
done
exit $status
