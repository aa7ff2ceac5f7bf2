#!/usr/bin/env bash
# Crypt4GH throughput: encrypt and decrypt 1 GiB to /dev/null with 1 and N threads, next to the raw
# cipher speed measured in the same run (openssl speed, 64 KiB blocks), and peak RSS.
#   bench/crypt4gh.sh [BUILD]    (SIZE_MB=1024 by default)
set -euo pipefail
build="${1:-build}"
ward="$build/bin/ward"
size_mb="${SIZE_MB:-1024}"
work="${BENCH_DIR:-$build/bench}"
mkdir -p "$work"
nproc=$(nproc)

plain="$work/c4gh-plain-${size_mb}M.bin"
[ -s "$plain" ] || head -c $((size_mb << 20)) /dev/urandom >"$plain"
# An unencrypted key: the benchmark measures data speed, not the passphrase KDF.
export C4GH_PASSPHRASE=
"$ward" keygen -f --nocrypt --sk "$work/bench.sec" --pk "$work/bench.pub" >/dev/null 2>&1
"$ward" c4gh encrypt -q --recipient_pk "$work/bench.pub" -i "$plain" -o "$work/c4gh-enc.c4gh"
cat "$plain" "$work/c4gh-enc.c4gh" >/dev/null # warm the page cache

raw=$(openssl speed -evp chacha20-poly1305 -bytes 65536 -seconds 3 2>/dev/null |
	awk '/^ChaCha20-Poly1305/ {v=$NF; sub(/k$/, "", v); print v * 1000 / 1e6}')

# best of 3: MB/s and peak RSS (KB)
measure() {
	local best=0 rss=0
	for _ in 1 2 3; do
		local out
		out=$({ /usr/bin/time -f "%e %M" "$@" >/dev/null; } 2>&1 | tail -1)
		local secs=${out% *} kb=${out#* }
		local mbs
		mbs=$(awk -v b=$((size_mb << 20)) -v s="$secs" 'BEGIN { printf "%.0f", (s > 0 ? b / s / 1e6 : 0) }')
		[ "$mbs" -gt "$best" ] && best=$mbs
		[ "$kb" -gt "$rss" ] && rss=$kb
	done
	echo "$best $rss"
}

printf "Crypt4GH benchmark: %d MiB, %d CPUs, raw ChaCha20-Poly1305 (openssl speed, 64 KiB): %.0f MB/s\n" \
	"$size_mb" "$nproc" "$raw"
printf "%-10s %8s %10s %12s %10s\n" op threads MB/s "vs raw" "RSS MB"
for op in encrypt decrypt; do
	declare -A speed=()
	for t in 1 "$nproc"; do
		if [ $op = encrypt ]; then
			r=$(measure "$ward" c4gh encrypt -q -j "$t" --recipient_pk "$work/bench.pub" -i "$plain")
		else
			r=$(measure "$ward" c4gh decrypt -q -j "$t" --sk "$work/bench.sec" -i "$work/c4gh-enc.c4gh")
		fi
		mbs=${r% *}
		kb=${r#* }
		speed[$t]=$mbs
		printf "%-10s %8d %10d %11.0f%% %10.1f\n" $op "$t" "$mbs" \
			"$(awk -v a="$mbs" -v b="$raw" 'BEGIN{print 100*a/b}')" "$(awk -v k="$kb" 'BEGIN{print k/1024}')"
	done
	printf "%-10s %d threads / 1 thread: %.2fx\n" $op "$nproc" \
		"$(awk -v a="${speed[$nproc]}" -v b="${speed[1]}" 'BEGIN{print a/b}')"
	unset speed
done
echo "targets: 1 thread >= 80% of raw; $nproc threads >= 1.5x 1 thread; peak RSS <= 16 MB"
