#!/usr/bin/env bash
# Demo part: `ward echo anonymise` on generated Doppler videos (and the shared samples if present).
set -euo pipefail
d="$WARD_DEMO_DIR/echo-anonymise"
mkdir -p "$d/in"
for i in 1 2; do
	ward echo synth --frames 5 --seed "$i" "$d/in/exam$i.mp4" >/dev/null
done
ward echo synth --frames 3 --no-doppler --seed 7 "$d/in/grey.mp4" >/dev/null
echo "generated 3 videos (2 colour Doppler with burned-in text, 1 grey) in $d/in"

# The output folders are keyed pseudonyms: a fresh key, kept with mode 0600.
ward echo anonymise -q -i "$d/in" -o "$d/out" --new-pseudonym-key "$d/pseudonym.key"
echo "anonymised with a new pseudonym key ($d/pseudonym.key, mode $(stat -c %a "$d/pseudonym.key")):"
for dir in "$d/out"/*/; do
	echo "  $(basename "$dir" | cut -c1-16)...: $(ls "$dir" | wc -l) PNG frames, text corner masked"
done
echo "  (the grey video is not Doppler: nothing written for it)"

samples="${WARD_SHARED:-$(cd "$(dirname "$0")/../.." && pwd)/../shared}/data/echo/videos"
if [ -d "$samples" ]; then
	ward echo anonymise -q -i "$samples" -o "$d/samples-out" --pseudonym-key "$d/pseudonym.key"
	echo "shared sample videos: $(ls "$d/samples-out" | wc -l) anonymised folders," \
		"$(find "$d/samples-out" -name '*.png' | wc -l) frames (read in place, never copied)"
else
	echo "shared sample videos not found: SKIPPED that step"
fi
