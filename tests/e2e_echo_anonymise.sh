#!/usr/bin/env bash
# End-to-end tests of `ward echo anonymise` (and the synth/frames tools) on synthetic videos,
# plus the shared sample videos when ../shared/data/echo exists.
. "$(dirname "$0")/lib.sh"

IN="$T/in"
OUT="$T/out"
KEY="$T/pseudonym.key"
mkdir -p "$IN" "$IN/subdir"

# --- the input folder: every kind of entry the command meets ---
ok "synth: Doppler video" "$WARD" echo synth --frames 6 "$IN/doppler.mp4"
ok "synth: grey video" "$WARD" echo synth --frames 3 --no-doppler "$IN/grey.mp4"
ok "synth: odd size" "$WARD" echo synth --frames 2 --size 241x321 --codec ffv1 "$IN/odd.mkv"
ok "synth: one frame" "$WARD" echo synth --frames 1 "$IN/single.mp4"
ok "synth: no frames" "$WARD" echo synth --frames 0 --codec mpeg4 "$IN/empty.avi"
ok "synth: truncated source" "$WARD" echo synth --frames 20 --faststart "$T/long.mp4"
size=$(stat -c %s "$T/long.mp4")
head -c $((size * 8 / 10)) "$T/long.mp4" >"$IN/truncated.mp4"
cp "$IN/doppler.mp4" "$IN/.hidden.mp4"
cp "$IN/doppler.mp4" "$IN/zcopy.mp4"
echo "exam list" >"$IN/notes.txt"

fails_with "synth: bad size" 64 "$WARD" echo synth --size 0x5 "$T/x.mp4"
fails_with "frames: not a video" 5 "$WARD" echo frames "$IN/notes.txt"
"$WARD" echo frames "$IN/doppler.mp4" "$IN/grey.mp4" "$IN/odd.mkv" >"$T/frames.txt" 2>&1
if grep -q $'doppler.mp4\tframes 6\t240x320\t.*doppler yes' "$T/frames.txt" &&
	grep -q $'grey.mp4\tframes 3\t240x320\tblue 0\tred 0\tdoppler no' "$T/frames.txt" &&
	grep -q $'odd.mkv\tframes 2\t241x321\t.*doppler yes' "$T/frames.txt"; then
	pass "frames: counts, sizes, Doppler decisions"
else
	fail "frames: $(cat "$T/frames.txt")"
fi

# Decoding equals FFmpeg's own bgr24 output (the original's decoder) when the CLI is here.
if command -v ffmpeg >/dev/null; then
	for v in doppler.mp4 odd.mkv; do
		a=$("$WARD" echo frames --raw - "$IN/$v" 2>/dev/null | sha256sum | cut -d' ' -f1)
		b=$(ffmpeg -v error -i "$IN/$v" -vsync 0 -f rawvideo -pix_fmt bgr24 - | sha256sum | cut -d' ' -f1)
		if [ "$a" = "$b" ]; then pass "frames: $v bytes equal ffmpeg -pix_fmt bgr24"; else
			fail "frames: $v differs from ffmpeg -pix_fmt bgr24"
		fi
	done
else
	skip "frames vs the ffmpeg CLI: ffmpeg not installed"
fi

# --- usage and keys ---
fails_with "anonymise: key required" 64 "$WARD" echo anonymise -i "$IN" -o "$OUT"
fails_with "anonymise: --compat excludes keys" 64 "$WARD" echo anonymise -i "$IN" -o "$OUT" \
	--compat --pseudonym-key "$KEY"
fails_with "anonymise: missing key file" 8 "$WARD" echo anonymise -i "$IN" -o "$OUT" \
	--pseudonym-key "$T/nokey"
echo "short" >"$T/badkey"
fails_with "anonymise: malformed key file" 5 "$WARD" echo anonymise -i "$IN" -o "$OUT" \
	--pseudonym-key "$T/badkey"
[ ! -e "$OUT" ] && pass "no output folder after a key error" || fail "output folder created"

# --- default mode: the whole folder, with one failure ---
"$WARD" echo anonymise -i "$IN" -o "$OUT" --new-pseudonym-key "$KEY" >"$T/run1.out" 2>"$T/run1.err"
rc=$?
[ "$rc" -eq 7 ] && pass "folder with a truncated video: exit 7" || fail "exit $rc: $(cat "$T/run1.err")"
[ "$(stat -c %a "$KEY")" = 600 ] && pass "new key file is mode 0600" || fail "key mode"
grep -q "truncated.mp4: the file ends early" "$T/run1.err" && pass "truncated video named" ||
	fail "no message for the truncated video: $(cat "$T/run1.err")"
for pat in ".hidden.mp4: hidden; skipped" "notes.txt: not a video; skipped" \
	"grey.mp4: not colour Doppler" "subdir: not a regular file; skipped" \
	"zcopy.mp4: same content as" "empty.avi: no frames; skipped"; do
	grep -qF "$pat" "$T/run1.err" && pass "message: $pat" || fail "missing message: $pat"
done
[ "$(wc -l <"$T/run1.out")" -eq 3 ] && pass "3 videos written (doppler, odd, single)" ||
	fail "stdout: $(cat "$T/run1.out")"
name_of() { # the expected pseudonym: HMAC-SHA256 of the content under the key
	openssl dgst -sha256 -mac HMAC -macopt "hexkey:$(head -c 64 "$KEY")" -r "$1" | cut -d' ' -f1
}
if command -v openssl >/dev/null; then
	d="$OUT/$(name_of "$IN/doppler.mp4")"
	[ -f "$d/0.png" ] && [ -f "$d/5.png" ] && [ ! -e "$d/6.png" ] &&
		pass "doppler.mp4 -> OUT/HMAC(content): 6 frames" || fail "no $d/{0..5}.png"
	[ -f "$OUT/$(name_of "$IN/single.mp4")/0.png" ] && pass "single frame written" ||
		fail "single.mp4 output"
else
	skip "pseudonym check: openssl CLI not installed"
fi
[ "$(find "$OUT" -mindepth 1 -maxdepth 1 -type d | wc -l)" -eq 3 ] &&
	pass "3 output folders, nothing for the rest" || fail "output: $(ls -a "$OUT")"
[ -z "$(find "$OUT" -name '.*')" ] && pass "no temporary folders left" || fail "leftovers"
[ -z "$(find "$OUT" -type f ! -name '[0-9]*.png')" ] && pass "only numbered PNGs" ||
	fail "other files in the output"
if grep -rqa "doppler" "$OUT"; then fail "input names or text leaked into the output"; else
	pass "no input names in the output"
fi

# Re-run: content already done is skipped; with the bad video removed, success.
rm "$IN/truncated.mp4"
ok "re-run succeeds" "$WARD" echo anonymise -q -i "$IN" -o "$OUT" --pseudonym-key "$KEY"
grep -q "already anonymised" "$T/.err" && fail "-q still printed skips" || pass "-q is quiet"
"$WARD" echo anonymise -i "$IN" -o "$OUT" --pseudonym-key "$KEY" 2>"$T/run2.err" >/dev/null
grep -q "doppler.mp4: already anonymised" "$T/run2.err" && pass "re-run skips done videos" ||
	fail "re-run: $(cat "$T/run2.err")"
ok "re-run with --force" "$WARD" echo anonymise -q --force -i "$IN" -o "$OUT" --pseudonym-key "$KEY"
chmod 644 "$KEY"
"$WARD" echo anonymise -q -i "$IN" -o "$OUT" --pseudonym-key "$KEY" 2>"$T/run3.err"
grep -q "readable by others" "$T/run3.err" && pass "warns about a readable key" || fail "no warning"

# --- --compat: MD5 of the path string, as the original ---
mkdir -p "$T/c"
(cd "$T/c" && ln -s "$IN" videos && "$WARD" echo anonymise -q --compat -i videos -o out)
want=$(printf '%s' "videos/doppler.mp4" | md5sum | cut -d' ' -f1)
[ -f "$T/c/out/$want/5.png" ] && pass "--compat: folder = MD5 of 'videos/doppler.mp4'" ||
	fail "--compat: $(ls "$T/c/out")"
(cd "$T/c" && "$WARD" echo anonymise -q --compat -i videos/ -o out2)
[ -d "$T/c/out2/$want" ] && pass "--compat: 'videos/' joins like os.path.join" ||
	fail "--compat with a trailing slash"
(cd "$T/c" && "$WARD" echo anonymise -q --compat -i ./videos -o out3)
want3=$(printf '%s' "./videos/doppler.mp4" | md5sum | cut -d' ' -f1)
[ -d "$T/c/out3/$want3" ] && pass "--compat: './videos' gives another name, as the original" ||
	fail "--compat with ./"
"$WARD" echo anonymise -q --compat -i "$IN/doppler.mp4" -o "$T/c/one" && "$WARD" echo anonymise -q \
	--compat -i "$IN/doppler.mp4" -o "$T/c/one" 2>"$T/c.err"
[ $? -eq 9 ] && grep -q "already exists" "$T/c.err" && pass "--compat: existing folder refused (exit 9)" ||
	fail "--compat overwrite: $(cat "$T/c.err")"

# --- killed mid-way: no temporary folder survives ---
mkdir -p "$T/kill"
ok "synth: long video" "$WARD" echo synth --frames 300 "$T/kill/long.mp4"
"$WARD" echo anonymise -q --compat -i "$T/kill" -o "$T/kill-out" &
pid=$!
sleep 0.2
kill -TERM "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
if [ -z "$(find "$T/kill-out" -name '.*' 2>/dev/null)" ]; then
	pass "SIGTERM: no temporary folder left (output complete or absent)"
else
	fail "SIGTERM left $(find "$T/kill-out" -name '.*')"
fi
n=$(find "$T/kill-out" -name '*.png' 2>/dev/null | wc -l)
[ "$n" -eq 0 ] || [ "$n" -eq 300 ] && pass "SIGTERM: all or nothing ($n PNGs)" || fail "SIGTERM: $n PNGs"

# --- the shared sample videos (real recordings: read in place, never copied) ---
S="$SHARED/data/echo"
if [ -f "$S/reference/sample_videos_manifest.json" ] && command -v python3 >/dev/null; then
	mkdir -p "$T/s"
	ln -s "$S/videos" "$T/s/sample-videos"
	(cd "$T/s" && "$WARD" echo anonymise -q --compat -i sample-videos -o out)
	rc=$?
	[ $rc -eq 0 ] && pass "samples: --compat run succeeds" || fail "samples: exit $rc"
	python3 - "$S/reference/sample_videos_manifest.json" "$T/s/out" <<'EOF'
import json, os, sys
m = json.load(open(sys.argv[1]))
for v in m["videos"]:
    d = os.path.join(sys.argv[2], v["outdir_md5_if_input_is_sample_videos"])
    n = len([f for f in os.listdir(d) if f.endswith(".png")]) if os.path.isdir(d) else -1
    ok = n == v["frames"]
    print("%s: samples: %s -> %s/ with %d PNGs" % ("PASS" if ok else "FAIL", v["video"],
          v["outdir_md5_if_input_is_sample_videos"][:8], n))
EOF
else
	skip "sample videos: $S not found (set WARD_SHARED)"
fi
