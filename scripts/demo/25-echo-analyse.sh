#!/usr/bin/env bash
# Demo part: `ward echo analyse` on generated echo videos (segmentation, textures, report, overlays).
set -euo pipefail
d="$WARD_DEMO_DIR/echo-analyse"
mkdir -p "$d/videos"
for i in 1 2 3; do
	ward echo synth --frames 4 --seed "$i" "$d/videos/synthetic$i.mp4" >/dev/null
done
ward echo synth --frames 2 --no-doppler --seed 9 "$d/videos/grey.mp4" >/dev/null
echo "4 synthetic videos (3 colour Doppler, 1 grey) in $d/videos"

# The view classifier's weights were never published: without them the command says so.
if ward echo analyse -i "$d/videos" >/dev/null 2>"$d/err.txt"; then
	echo "unexpected: analyse ran without weights" >&2
	exit 1
fi
echo "without --weights: $(cat "$d/err.txt")"

ward echo analyse -i "$d/videos" --no-view-filter --overlay "$d/overlays" -o "$d/report.json"
ward echo analyse -i "$d/videos" --no-view-filter --compat -o "$d/report-compat.json"
echo "reports: $d/report.json (default), $d/report-compat.json (--compat)"
echo "overlays: $(find "$d/overlays" -name '*.png' | wc -l) PNGs in $d/overlays"
# One line per video (each report line is one video): name, frames, decision value, label.
field() { grep -o "\"$1\":[^,]*" | head -1 | cut -d: -f2- | tr -d '"'; }
for f in report report-compat; do
	echo "$f.json:"
	grep '^{"video"' "$d/$f.json" | while read -r line; do
		printf '  %-16s frames %-2s decision %-20s label %s\n' "$(echo "$line" | field video)" \
			"$(echo "$line" | field frames)" "$(echo "$line" | field lr_decision)" \
			"$(echo "$line" | field label)"
	done
done
echo "(the label is withheld by default: the original classifier's standardisation does not fit"
echo " its features; --compat prints it as the original would; see docs/echo.md)"
