#!/usr/bin/env bash
# Echo pipeline benchmark: `ward echo anonymise` (and `analyse`) on the sample videos, against
# decode-only time (`ward echo frames`: demux + decode + BGR24 conversion) measured in the same run.
#   bench/echo.sh [BUILD]        BENCH_REPS=N (default 5): each figure is the best of N runs.
# Without ../shared/data/echo (WARD_SHARED) it uses synthetic videos of the same size and length.
set -u
export LC_ALL=C # decimal points in the time figures
BUILD="${1:-build}"
WARD="$BUILD/bin/ward"
REPS="${BENCH_REPS:-5}"
SHARED="${WARD_SHARED:-$(dirname "$0")/../../shared}"
W="$(mktemp -d /tmp/ward-bench-echo.XXXXXX)"
trap 'rm -rf "$W"' EXIT

[ -x "$WARD" ] || { echo "bench/echo.sh: $WARD not built" >&2; exit 1; }

# --- inputs ---
VIDEOS="$SHARED/data/echo/videos"
if [ -d "$VIDEOS" ]; then
	SOURCE="the 6 shared sample videos (240x320 H.264)"
else
	VIDEOS="$W/videos"
	mkdir -p "$VIDEOS"
	i=0
	for n in 10 11 17 43 11 10; do
		i=$((i + 1))
		"$WARD" echo synth --frames "$n" --seed "$i" "$VIDEOS/synthetic$i.mp4" || exit 1
	done
	SOURCE="6 synthetic videos (240x320, 102 frames; no shared samples)"
fi
FRAMES=$("$WARD" echo frames "$VIDEOS"/* | awk -F'\t' '{split($2, a, " "); n += a[2]} END {print n}')
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$W/key"
echo >>"$W/key"
chmod 600 "$W/key"

now_ns() { date +%s%N; }

# best_of VAR CMD...: runs CMD REPS times (clearing $W/out before each) and stores the best
# wall time in seconds in VAR.
best_of() {
	local var="$1" best="" t0 t1 dt
	shift
	for _ in $(seq "$REPS"); do
		rm -rf "$W/out"
		t0=$(now_ns)
		"$@" >/dev/null 2>&1 || { echo "bench/echo.sh: failed: $*" >&2; exit 1; }
		t1=$(now_ns)
		dt=$((t1 - t0))
		if [ -z "$best" ] || [ "$dt" -lt "$best" ]; then best=$dt; fi
	done
	printf -v "$var" '%s' "$best"
}

# wall_ns CMD: clears $W/out, runs the shell command CMD and prints its wall time in ns.
wall_ns() {
	local t0 t1
	rm -rf "$W/out"
	t0=$(now_ns)
	eval "$1" >/dev/null 2>&1 || return 1
	t1=$(now_ns)
	echo $((t1 - t0))
}

# cpu_ns CMD: runs the shell command CMD and prints its CPU time (user + system, all threads) in
# ns, with bash's millisecond resolution. CPU time, unlike wall time, hardly depends on what else
# runs on a shared machine.
cpu_ns() {
	local TIMEFORMAT='%3U %3S' t
	t=$({ time eval "$1" >/dev/null 2>&1; } 2>&1) || return 1
	awk -v t="$t" 'BEGIN { split(t, a, " "); printf "%.0f", (a[1] + a[2]) * 1e9 }'
}

# interleaved MEASURE VAR1 'CMD1' VAR2 'CMD2' ...: like best_of, but the commands take turns (run 1
# of each, then run 2 of each, ...), so that load from other processes on a shared machine falls
# on all of them alike; VARn gets the least of REPS measures (MEASURE: wall_ns or cpu_ns) of CMDn.
# Each CMD is one shell command string.
interleaved() {
	local measure="$1"
	shift
	local -a vars=() cmds=() best=()
	while [ $# -ge 2 ]; do
		vars+=("$1")
		cmds+=("$2")
		best+=("")
		shift 2
	done
	local i c
	for _ in $(seq "$REPS"); do
		for i in "${!cmds[@]}"; do
			c=$("$measure" "${cmds[$i]}") || { echo "bench/echo.sh: failed: ${cmds[$i]}" >&2; exit 1; }
			if [ -z "${best[$i]}" ] || [ "$c" -lt "${best[$i]}" ]; then best[$i]=$c; fi
		done
	done
	for i in "${!vars[@]}"; do printf -v "${vars[$i]}" '%s' "${best[$i]}"; done
}

# row LABEL NS [BASE_NS]: one line of the table; per-frame time and ratio to the baseline.
row() {
	awk -v l="$1" -v t="$2" -v b="${3:-}" -v n="$FRAMES" 'BEGIN {
		r = b == "" ? "" : sprintf("%6.2fx", t / b)
		printf "  %-44s %8.1f ms  %6.2f ms/frame  %s\n", l, t / 1e6, t / 1e6 / n, r }'
}

echo "bench/echo.sh: $SOURCE, $FRAMES frames, best of $REPS runs, $(nproc) CPUs"

# --- baseline: decode only, and the same in the FFmpeg CLI for reference ---
best_of DECODE "$WARD" echo frames "$VIDEOS"/*
row "decode only (ward echo frames)" "$DECODE"
if command -v ffmpeg >/dev/null; then
	ff_decode() { for v in "$VIDEOS"/*; do ffmpeg -v error -i "$v" -f rawvideo -pix_fmt bgr24 -y /dev/null || return 1; done; }
	best_of FFMPEG ff_decode
	row "decode only (ffmpeg CLI, per video)" "$FFMPEG" "$DECODE"
fi

# --- anonymise ---
bench_anonymise() {
	local v="\"$VIDEOS\"" out="\"$W/out\""
	interleaved wall_ns \
		DECODE2 "\"$WARD\" echo frames $v/*" \
		ANON "\"$WARD\" echo anonymise -q --pseudonym-key \"$W/key\" -i $v -o $out" \
		ANON_COMPAT "\"$WARD\" echo anonymise -q --compat -i $v -o $out" \
		ANON_T1 "\"$WARD\" echo anonymise -q --threads 1 --compat -i $v -o $out"
	# The baseline is the best decode time seen in either measurement.
	[ "$DECODE2" -lt "$DECODE" ] && DECODE=$DECODE2
	row "decode only, taking turns with the next rows" "$DECODE2" "$DECODE"
	row "anonymise (default: pseudonyms, true colours)" "$ANON" "$DECODE"
	row "anonymise --compat" "$ANON_COMPAT" "$DECODE"
	row "anonymise --compat --threads 1" "$ANON_T1" "$DECODE"
	awk -v a="$ANON" -v d="$DECODE" 'BEGIN {
		printf "  target: anonymise within 2x of decode-only: %.2fx %s\n", a / d,
			a <= 2 * d ? "(met)" : "(NOT met)" }'
}

# --- analyse: `ward echo analyse` (engineer B's section) ---
# One core: taskset when available, OpenBLAS on one thread. The analysis figure is CPU time of
# `analyse` minus CPU time of decode only (both include start-up), per frame. The CNN weights are
# random ones of the original architecture (the real ones were never published), written by the
# CNN unit test.
bench_analyse() {
	local one="" v="\"$VIDEOS\"" out="\"$W/an.json\"" pin=()
	command -v taskset >/dev/null && one="taskset -c 0" && pin=(taskset -c 0)
	export OPENBLAS_NUM_THREADS=1
	echo "  analyse, CPU time (user+sys), one core, taking turns with decode only:"
	interleaved cpu_ns \
		DEC_CPU "$one \"$WARD\" echo frames $v/*" \
		AN_CPU "$one \"$WARD\" echo analyse -i $v --no-view-filter -o $out" \
		AN_C_CPU "$one \"$WARD\" echo analyse -i $v --no-view-filter --compat -o $out"
	row "decode only (ward echo frames), CPU" "$DEC_CPU"
	row "analyse, no CNN (default mode), CPU" "$AN_CPU" "$DEC_CPU"
	row "analyse --compat, no CNN, CPU" "$AN_C_CPU" "$DEC_CPU"
	awk -v a="$AN_CPU" -v c="$AN_C_CPU" -v d="$DEC_CPU" -v n="$FRAMES" 'BEGIN {
		x = (a - d) / 1e6 / n; y = (c - d) / 1e6 / n
		printf "  analysis CPU per frame beyond decoding: %.2f ms (default), %.2f ms (--compat)\n", x, y
		printf "  target: analyse without CNN <= 10 ms/frame on one core: %s\n",
			x <= 10 && y <= 10 ? "(met)" : "(NOT met)" }'
	best_of AN "${pin[@]}" "$WARD" echo analyse -i "$VIDEOS" --no-view-filter -o "$W/an.json"
	row "analyse, no CNN (default mode), wall time" "$AN" "$DECODE"
	local gen="$BUILD/tests/test_echo_cnn"
	if [ -x "$gen" ] && "$gen" --write-weights "$W/cnn.hdf5" >/dev/null 2>&1; then
		best_of CNN "${pin[@]}" "$WARD" echo analyse -i "$VIDEOS" --weights "$W/cnn.hdf5" \
			-o "$W/an.json"
		row "analyse with the view CNN (one core), wall time" "$CNN" "$DECODE"
		awk -v c="$CNN" -v a="$AN" -v n="$FRAMES" 'BEGIN {
			printf "  CNN forward pass (one core, 1.68 M parameters, 2.9 GFLOP): %.1f ms/frame\n",
				(c - a) / 1e6 / n }'
		unset OPENBLAS_NUM_THREADS
		best_of CNN2 "$WARD" echo analyse -i "$VIDEOS" --weights "$W/cnn.hdf5" -o "$W/an.json"
		awk -v c="$CNN2" -v a="$AN" -v n="$FRAMES" -v p="$(nproc)" 'BEGIN {
			printf "  CNN forward pass (OpenBLAS, %d threads): %.1f ms/frame\n", p,
				(c - a) / 1e6 / n }'
	else
		echo "  CNN: $gen not built, forward pass not timed"
	fi
	unset OPENBLAS_NUM_THREADS
}

bench_anonymise
bench_analyse
