#!/usr/bin/env bash
# End-to-end: `ward echo analyse` on synthetic videos (and the shared samples when present).
. "$(dirname "$0")/lib.sh"

V="$T/videos"
mkdir -p "$V"
"$WARD" echo synth --frames 3 --seed 1 "$V/a.mp4" >/dev/null 2>&1 &&
	"$WARD" echo synth --frames 2 --seed 2 --size 176x144 "$V/b.mp4" >/dev/null 2>&1 &&
	"$WARD" echo synth --frames 2 --no-doppler --seed 3 "$V/c.mp4" >/dev/null 2>&1
if [ ! -s "$V/a.mp4" ] || [ ! -s "$V/b.mp4" ] || [ ! -s "$V/c.mp4" ]; then
	fail "synthetic videos (ward echo synth)"
	exit 0
fi
echo "hidden" >"$V/.hidden"

# valid_json FILE: parses with python3 when available, else checks the outer shape.
valid_json() {
	if command -v python3 >/dev/null; then
		python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$1" 2>/dev/null
	else
		head -c 12 "$1" | grep -q '{"videos"'
	fi
}

# Without weights the command says so and needs --no-view-filter.
fails_with "no weights: refused with a message" 64 "$WARD" echo analyse -i "$V"
if grep -q "no-view-filter" "$T/.err"; then pass "no weights: the message names --no-view-filter"; else
	fail "no weights: message ($(cat "$T/.err"))"
fi
fails_with "missing weights file" 8 "$WARD" echo analyse -i "$V" --weights "$T/nope.hdf5"
fails_with "--weights with --no-view-filter" 64 "$WARD" echo analyse -i "$V" --weights x --no-view-filter
fails_with "missing -i" 64 "$WARD" echo analyse --no-view-filter
fails_with "--rng-per-video without --compat" 64 "$WARD" echo analyse -i "$V" --no-view-filter --rng-per-video

ok "folder, default mode" "$WARD" echo analyse -i "$V" --no-view-filter -o "$T/r.json"
if valid_json "$T/r.json"; then pass "report is JSON"; else fail "report is JSON"; fi
n=$(grep -o '"video":' "$T/r.json" | wc -l)
[ "$n" -eq 3 ] && pass "three videos reported, the hidden file skipped" || fail "videos reported: $n"
grep -q '"is_doppler":false' "$T/r.json" && pass "the non-Doppler video is reported as such" ||
	fail "non-Doppler video"
grep -q '"mode":"default"' "$T/r.json" && grep -q '"label":null' "$T/r.json" &&
	pass "default mode withholds the label" || fail "default mode label"

ok "folder, --compat" "$WARD" echo analyse -i "$V" --no-view-filter --compat -o "$T/c.json"
grep -q '"mode":"compat"' "$T/c.json" && grep -Eq '"label":"(Normal|RHD)"' "$T/c.json" &&
	pass "--compat gives the original classifier's label" || fail "--compat label"

# Default mode does not depend on what else is in the folder.
mkdir -p "$T/only"
cp "$V/b.mp4" "$T/only/"
"$WARD" echo analyse -i "$T/only" --no-view-filter -o "$T/only.json" 2>/dev/null
b_alone=$(grep '^{"video":"b.mp4"' "$T/only.json" | sed 's/,$//')
b_folder=$(grep '^{"video":"b.mp4"' "$T/r.json" | sed 's/,$//')
[ -n "$b_alone" ] && [ "$b_alone" = "$b_folder" ] &&
	pass "default mode: a video's report is the same alone and in a folder" ||
	fail "default mode order independence"

# Overlays: one PNG per frame of the Doppler videos.
ok "--overlay" "$WARD" echo analyse -i "$V" --no-view-filter --overlay "$T/ov" -o "$T/o.json"
if [ -f "$T/ov/a.mp4/0.png" ] && [ -f "$T/ov/a.mp4/2.png" ] && [ -f "$T/ov/b.mp4/1.png" ]; then
	pass "overlay PNGs written per frame"
else
	fail "overlay PNGs ($(ls -R "$T/ov" 2>&1 | head -5))"
fi

# A corrupt file: a message, the rest still analysed, a failing exit status.
head -c 3000 "$V/a.mp4" >"$V/corrupt.mp4"
"$WARD" echo analyse -i "$V" --no-view-filter -o "$T/k.json" >/dev/null 2>"$T/k.err"
rc=$?
if [ "$rc" -ne 0 ] && grep -q "corrupt.mp4" "$T/k.err" && [ "$(grep -o '"video":' "$T/k.json" | wc -l)" -eq 3 ]; then
	pass "corrupt video: reported, others analysed, exit $rc"
else
	fail "corrupt video (exit $rc: $(head -c 300 "$T/k.err"))"
fi

# The shared sample videos: labels and decision values of the reference (new RNG per video).
S="$SHARED/data/echo"
if [ -d "$S/videos" ]; then
	ok "shared videos, --compat --rng-per-video" "$WARD" echo analyse -i "$S/videos" --compat \
		--rng-per-video --no-view-filter -o "$T/s.json"
	bad=0
	while IFS=$'\t' read -r video frames x56 dec label; do
		case "$video" in "#"* | video) continue ;; esac
		got=$(grep -c "^{\"video\":\"$video\"" "$T/s.json")
		d=$(grep -o "\"video\":\"$video\".*" "$T/s.json" | grep -o '"lr_decision":[^,}]*' | head -1 | cut -d: -f2)
		awk -v a="$d" -v b="$dec" 'BEGIN { r = (a - b) / b; exit !(r < 1e-11 && r > -1e-11) }' ||
			{ bad=1; echo "  $video: decision $d, want $dec"; }
		[ "$got" -eq 1 ] || bad=1
	done <"$DATA/echo/main_pipeline_no_cnn_results.tsv"
	[ "$bad" -eq 0 ] && pass "shared videos: decision values of main_pipeline_no_cnn_results.tsv" ||
		fail "shared videos: decision values"
else
	skip "shared sample videos not found in $S: reference decision values not compared"
fi
rm -rf "$T"
