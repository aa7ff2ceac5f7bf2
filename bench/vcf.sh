#!/usr/bin/env bash
# Benchmark of the genomics flow: `ward vcf process` / `ward vcf query -f '%ID\n'` on an
# encrypted ~1 GB synthetic VCF (plain and bgzipped) against bcftools query and cut -f3
# on the plaintext, measured in the same run. Prints MB/s of VCF text, ratios, peak RSS.
#   bench/vcf.sh [BUILD]    VCF_BENCH_BYTES (default 1e9), VCF_BENCH_RUNS (best of, default 3)
set -euo pipefail
BUILD="${1:-build}"
WARD="$BUILD/bin/ward"
DIR="$BUILD/bench"
BYTES="${VCF_BENCH_BYTES:-1000000000}"
RUNS="${VCF_BENCH_RUNS:-3}"
mkdir -p "$DIR"
export SENDER_KEY=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
export RECIPIENT_KEY=bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb
VCF="$DIR/synth-$BYTES.vcf"

# A synthetic VCF with realistic columns: 22 contigs, IDs (20% ".", 2% "a;b"), QUAL,
# FILTER, INFO with AC/AF/AN/DP/MQ/DB, FORMAT GT:AD:DP:GQ:PL and 5 samples (~205 B/line).
generate() {
	awk -v bytes="$BYTES" 'BEGIN {
	srand(42);
	print "##fileformat=VCFv4.2";
	print "##FILTER=<ID=PASS,Description=\"All filters passed\">";
	print "##FILTER=<ID=LowQual,Description=\"Low quality\">";
	print "##INFO=<ID=AC,Number=A,Type=Integer,Description=\"Allele count\">";
	print "##INFO=<ID=AF,Number=A,Type=Float,Description=\"Allele frequency\">";
	print "##INFO=<ID=AN,Number=1,Type=Integer,Description=\"Total alleles\">";
	print "##INFO=<ID=DP,Number=1,Type=Integer,Description=\"Depth\">";
	print "##INFO=<ID=MQ,Number=1,Type=Float,Description=\"Mapping quality\">";
	print "##INFO=<ID=DB,Number=0,Type=Flag,Description=\"dbSNP\">";
	print "##FORMAT=<ID=GT,Number=1,Type=String,Description=\"Genotype\">";
	print "##FORMAT=<ID=AD,Number=R,Type=Integer,Description=\"Allelic depths\">";
	print "##FORMAT=<ID=DP,Number=1,Type=Integer,Description=\"Depth\">";
	print "##FORMAT=<ID=GQ,Number=1,Type=Integer,Description=\"Genotype quality\">";
	print "##FORMAT=<ID=PL,Number=G,Type=Integer,Description=\"Likelihoods\">";
	for (c = 1; c <= 22; c++) print "##contig=<ID=chr" c ",length=250000000>";
	print "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\tS2\tS3\tS4\tS5";
	split("A C G T", B, " "); split("0/0 0/1 1/1 0|1 ./.", G, " ");
	total = 0; chr = 1; pos = 10000; rs = 100000; nper = int(bytes / 205 / 22) + 1; n = 0;
	while (total < bytes) {
		pos += 1 + int(rand() * 200); rs += 1 + int(rand() * 50);
		r = B[1 + int(rand() * 4)]; a = B[1 + int(rand() * 4)]; if (a == r) a = (r == "T" ? "G" : "T");
		id = rand() < 0.2 ? "." : "rs" rs; if (rand() < 0.02) id = id ";ss" rs;
		dp = 20 + int(rand() * 400); ac = 1 + int(rand() * 9);
		line = "chr" chr "\t" pos "\t" id "\t" r "\t" a "\t" sprintf("%.2f", rand() * 1000) "\t" \
			(rand() < 0.9 ? "PASS" : "LowQual") "\tAC=" ac ";AF=" sprintf("%.3f", ac / 10) \
			";AN=10;DP=" dp ";MQ=" sprintf("%.1f", 40 + rand() * 20) (rand() < 0.3 ? ";DB" : "") "\tGT:AD:DP:GQ:PL";
		for (s = 0; s < 5; s++) { d = int(rand() * 60); x = int(rand() * d);
			line = line "\t" G[1 + int(rand() * 5)] ":" (d - x) "," x ":" d ":" int(rand() * 99) ":" \
				int(rand() * 255) "," int(rand() * 99) ",0" }
		print line; total += length(line) + 1;
		if (++n >= nper) { n = 0; if (chr < 22) { chr++; pos = 10000 } }
	} }'
}

if [ ! -s "$VCF" ]; then
	echo "generating $VCF (once; cached) ..." >&2
	generate >"$VCF.tmp" && mv "$VCF.tmp" "$VCF"
fi
[ -s "$VCF.c4gh" ] || "$WARD" vcf encrypt -o "$VCF.c4gh" "$VCF"
[ -s "$VCF.gz" ] || bgzip -@ 2 -c "$VCF" >"$VCF.gz"
[ -s "$VCF.gz.c4gh" ] || "$WARD" vcf encrypt -o "$VCF.gz.c4gh" "$VCF.gz"
cat "$VCF" "$VCF.c4gh" "$VCF.gz" "$VCF.gz.c4gh" >/dev/null # warm the page cache
size=$(stat -c %s "$VCF")
mb=$(awk -v s="$size" 'BEGIN { printf "%.1f", s / 1e6 }')

# best NAME CMD...: best wall time of $RUNS runs (stdout to a file), sets T_<NAME>, R_<NAME>.
declare -A TIME RSS
best() {
	local name="$1" t r bt="" br=0
	shift
	for _ in $(seq "$RUNS"); do
		/usr/bin/time -f "%e %M" -o "$DIR/time.txt" "$@" >"$DIR/out-$name.txt" 2>/dev/null
		read -r t r <"$DIR/time.txt"
		if [ -z "$bt" ] || awk -v a="$t" -v b="$bt" 'BEGIN { exit !(a < b) }'; then bt=$t; fi
		[ "$r" -gt "$br" ] && br=$r
	done
	TIME[$name]=$bt
	RSS[$name]=$br
}
rate() { awk -v s="$size" -v t="${TIME[$1]}" 'BEGIN { printf "%8.0f", (t > 0 ? s / 1e6 / t : 0) }'; }
ratio() { awk -v a="${TIME[$1]}" -v b="${TIME[$2]}" 'BEGIN { printf "%5.2fx", (a > 0 ? b / a : 0) }'; }

best ward_process "$WARD" vcf process "$VCF.c4gh"
best ward_query "$WARD" vcf query -f '%ID\n' "$VCF.c4gh"
best bcftools bcftools query -f '%ID\n' "$VCF"
best cut cut -f3 "$VCF"
best ward_process_gz "$WARD" vcf process "$VCF.gz.c4gh"
best ward_query_gz "$WARD" vcf query -f '%ID\n' "$VCF.gz.c4gh"
best bcftools_gz bcftools query -f '%ID\n' "$VCF.gz"

ok="outputs agree"
cmp -s "$DIR/out-ward_query.txt" "$DIR/out-bcftools.txt" || ok="MISMATCH: ward query vs bcftools"
cmp -s "$DIR/out-ward_query_gz.txt" "$DIR/out-bcftools.txt" || ok="MISMATCH: ward query (gz) vs bcftools"
awk -F'\t' '!/^#/ && $3!="." {split($3,a,";"); print a[1]}' "$VCF" | cmp -s - "$DIR/out-ward_process.txt" ||
	ok="MISMATCH: ward process vs awk"
cmp -s "$DIR/out-ward_process.txt" "$DIR/out-ward_process_gz.txt" || ok="MISMATCH: process plain vs gz"

echo "vcf bench: $mb MB of VCF text ($(grep -vc '^#' "$VCF") records, 5 samples), best of $RUNS," \
	"$(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg); $ok"
printf '  %-44s %8s MB/s %9s KB  %s\n' \
	"ward vcf process (encrypted .vcf)" "$(rate ward_process)" "${RSS[ward_process]}" "$(ratio ward_process bcftools) bcftools" \
	"ward vcf query -f '%ID\\n' (encrypted .vcf)" "$(rate ward_query)" "${RSS[ward_query]}" "$(ratio ward_query bcftools) bcftools" \
	"bcftools query -f '%ID\\n' (plain .vcf)" "$(rate bcftools)" "${RSS[bcftools]}" "baseline" \
	"cut -f3 (plain .vcf)" "$(rate cut)" "${RSS[cut]}" "$(ratio cut bcftools) bcftools" \
	"ward vcf process (encrypted .vcf.gz)" "$(rate ward_process_gz)" "${RSS[ward_process_gz]}" "$(ratio ward_process_gz bcftools_gz) bcftools .vcf.gz" \
	"ward vcf query -f '%ID\\n' (encrypted .vcf.gz)" "$(rate ward_query_gz)" "${RSS[ward_query_gz]}" "$(ratio ward_query_gz bcftools_gz) bcftools .vcf.gz" \
	"bcftools query -f '%ID\\n' (plain .vcf.gz)" "$(rate bcftools_gz)" "${RSS[bcftools_gz]}" "baseline .vcf.gz"
echo "  targets: >= 2000 MB/s and >= 3x bcftools on the encrypted .vcf; >= 2x bcftools on the" \
	"encrypted .vcf.gz; peak RSS <= 16384 KB"
