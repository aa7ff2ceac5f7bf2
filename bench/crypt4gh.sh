#!/usr/bin/env bash
# Crypt4GH throughput: encrypt and decrypt 1 GiB to /dev/null with 1 and N threads, next to
# baselines measured in the same run: the raw cipher (openssl speed -evp chacha20-poly1305,
# 64 KiB blocks) and the machine's I/O floor (cat of the same file to /dev/null). Peak RSS too.
#   bench/crypt4gh.sh [BUILD]     SIZE_MB=1024, RUNS=3 (best of), BENCH_DIR=BUILD/bench
set -euo pipefail
build="${1:-build}"
ward="$build/bin/ward"
size_mb="${SIZE_MB:-1024}"
runs="${RUNS:-3}"
work="${BENCH_DIR:-$build/bench}"
mkdir -p "$work"
nproc=$(nproc)
bytes=$((size_mb << 20))

plain="$work/c4gh-plain-${size_mb}M.bin"
[ -s "$plain" ] || dd if=/dev/urandom of="$plain" bs=1M count="$size_mb" status=none
# An unencrypted key: the benchmark measures data speed, not the passphrase KDF.
C4GH_PASSPHRASE= "$ward" keygen -f --nocrypt --sk "$work/bench.sec" --pk "$work/bench.pub" >/dev/null 2>&1
enc="$work/c4gh-enc-${size_mb}M.c4gh"
"$ward" c4gh encrypt -q --recipient_pk "$work/bench.pub" -i "$plain" -o "$enc"

# Both inputs are cached as after a read from disk: dropped from the page cache (coreutils' dd
# idiom for that), then read once. A file just written sits in the cache in the writer's folio
# sizes, and mapping small folios costs up to a fifth of one thread's time; readahead builds
# 2 MiB folios, which map with one page-table entry each. Encrypting straight after writing is
# measured too (line "encrypt (just written)").
recache() {
	dd if="$1" iflag=nocache count=0 status=none
	cat "$1" >/dev/null
}

raw=$(openssl speed -evp chacha20-poly1305 -bytes 65536 -seconds 3 2>/dev/null |
	awk '/^ChaCha20-Poly1305/ {v=$NF; sub(/k$/, "", v); printf "%.0f", v * 1000 / 1e6}')

# measure CMD...: best wall-clock MB/s, MB/s of CPU time (user+sys) of that run, peak RSS in KB.
measure() {
	local best=0 cpu=0 rss=0
	for _ in $(seq "$runs"); do
		local out secs kb u s mbs
		out=$({ /usr/bin/time -f "%e %M %U %S" "$@" >/dev/null; } 2>&1 | tail -1)
		read -r secs kb u s <<<"$out"
		mbs=$(awk -v b="$bytes" -v t="$secs" 'BEGIN { printf "%.0f", (t > 0 ? b / t / 1e6 : 0) }')
		if [ "$mbs" -gt "$best" ]; then
			best=$mbs
			cpu=$(awk -v b="$bytes" -v t="$(awk -v u="$u" -v s="$s" 'BEGIN{print u+s}')" \
				'BEGIN { printf "%.0f", (t > 0 ? b / t / 1e6 : 0) }')
		fi
		[ "$kb" -gt "$rss" ] && rss=$kb
	done
	echo "$best $cpu $rss"
}

fresh="$work/c4gh-fresh-${size_mb}M.bin"
cp "$plain" "$fresh" # written just now: write-path folios in the page cache
read -r freshmbs _ _ <<<"$(measure "$ward" c4gh encrypt -q -j 1 --recipient_pk "$work/bench.pub" -i "$fresh")"
rm -f "$fresh"
recache "$plain"
recache "$enc"
read -r catspeed _ _ <<<"$(measure cat "$enc")"
printf "Crypt4GH benchmark: %d MiB, %d CPUs, best of %d runs\n" "$size_mb" "$nproc" "$runs"
printf "baselines: raw ChaCha20-Poly1305 (openssl speed, 64 KiB) %d MB/s; cat of the file %d MB/s\n" \
	"$raw" "$catspeed"
printf "%-8s %7s %9s %8s %9s %8s\n" op threads "MB/s" "vs raw" "CPU MB/s" "RSS MB"
for op in encrypt decrypt; do
	one=0
	for t in 1 "$nproc"; do
		if [ "$op" = encrypt ]; then
			read -r mbs cpu kb <<<"$(measure "$ward" c4gh encrypt -q -j "$t" --recipient_pk "$work/bench.pub" -i "$plain")"
		else
			read -r mbs cpu kb <<<"$(measure "$ward" c4gh decrypt -q -j "$t" --sk "$work/bench.sec" -i "$enc")"
		fi
		[ "$t" = 1 ] && one=$mbs
		printf "%-8s %7d %9d %7.0f%% %9d %8.1f\n" "$op" "$t" "$mbs" \
			"$(awk -v a="$mbs" -v b="$raw" 'BEGIN{print 100*a/b}')" "$cpu" \
			"$(awk -v k="$kb" 'BEGIN{print k/1024}')"
	done
	printf "%-8s %d threads / 1 thread: %.2fx\n" "$op" "$nproc" \
		"$(awk -v a="$mbs" -v b="$one" 'BEGIN{print (b > 0 ? a/b : 0)}')"
done
printf "%-8s %7d %9d %7.0f%%   (input just written, not read back: small page-cache folios)\n" \
	"encrypt" 1 "$freshmbs" "$(awk -v a="$freshmbs" -v b="$raw" 'BEGIN{print 100*a/b}')"
echo "targets: 1 thread >= 80% of raw; $nproc threads >= 1.5x 1 thread; peak RSS <= 16 MB"
