#!/usr/bin/env bash
# Runs every test and prints one summary line "N passed, N failed[, N skipped]".
#   tests/run.sh BUILD [ASAN_BUILD] [FUZZ_BUILD]
# C unit tests (BUILD/tests/test_*) run in every build given; the end-to-end
# scripts (tests/e2e_*.sh) run against BUILD and ASAN_BUILD; the fuzz smoke
# run needs FUZZ_BUILD. Each test prints PASS:/FAIL:/SKIPPED: lines.
set -u
cd "$(dirname "$0")/.."
builds=()
fuzz=""
for b in "$@"; do
	case "$b" in
	*fuzz*) fuzz="$b" ;;
	*) builds+=("$b") ;;
	esac
done
[ ${#builds[@]} -gt 0 ] || builds=(build)
filter="${WARD_TEST_FILTER:-}"

logdir="build/test-logs"
mkdir -p "$logdir"
export WARD_TEST_DATA="$PWD/tests/data"
export WARD_SHARED="${WARD_SHARED:-$PWD/../shared}"
passed=0 failed=0 skipped=0
failures=()

# run LABEL CMD...: runs one test program, counts its lines.
run() {
	local label="$1"
	shift
	[ -n "$filter" ] && [[ "$label" != *$filter* ]] && return 0
	local log="$logdir/$(echo "$label" | tr '/ ' '__').log"
	local tmp
	tmp=$(mktemp -d /tmp/ward-test.XXXXXX)
	local start=$SECONDS
	WARD_TEST_TMP="$tmp" timeout 1200 "$@" >"$log" 2>&1
	local rc=$?
	rm -rf "$tmp"
	local p f s
	p=$(grep -c '^PASS:' "$log")
	f=$(grep -c '^FAIL:' "$log")
	s=$(grep -c '^SKIPPED:' "$log")
	grep '^SKIPPED:' "$log" | sed "s|^|  [$label] |"
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
		echo "FAIL: $label exited with status $rc" >>"$log"
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	skipped=$((skipped + s))
	if [ "$f" -gt 0 ]; then
		failures+=("$label")
		echo "  $label: $p passed, $f failed ($((SECONDS - start))s) -- log: $log"
		grep '^FAIL:' "$log" | head -20 | sed 's/^/    /'
		tail -5 "$log" | sed 's/^/    | /'
	else
		echo "  $label: $p passed ($((SECONDS - start))s)"
	fi
}

for b in "${builds[@]}"; do
	name=$(basename "$b")
	for t in "$b"/tests/test_*; do
		[ -x "$t" ] || continue
		run "$name/$(basename "$t")" "$t"
	done
	for s in tests/e2e_*.sh; do
		[ -f "$s" ] || continue
		WARD_BUILD="$b" run "$name/$(basename "$s" .sh)" bash "$s"
	done
done
if [ -n "$fuzz" ]; then
	run "fuzz/smoke" ./fuzz/smoke.sh "$fuzz"
fi

if [ ${#failures[@]} -gt 0 ]; then
	echo "failed: ${failures[*]}"
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
