#!/usr/bin/env bash
# End-to-end tests of the htslib plugin (hfile_crypt4gh.so) with Debian's real bcftools,
# tabix and samtools: crypt4gh:PATH and magic-detected PATH, plaintext indexes, seeking.
. "$(dirname "$0")/lib.sh"

PLUG="$BUILD/plugins/hfile_crypt4gh.so"
if [ ! -f "$PLUG" ]; then
	skip "plugin not built ($PLUG)"
	exit 0
fi
export HTS_PATH="$BUILD/plugins"
# An ASan-built plugin needs the ASan runtime in the (uninstrumented) host program.
if nm -D "$PLUG" 2>/dev/null | grep -q ' U __asan_init'; then
	rt=$(clang -print-file-name=libclang_rt.asan-x86_64.so 2>/dev/null)
	if [ ! -f "$rt" ]; then
		skip "ASan plugin, but no shared ASan runtime to preload"
		exit 0
	fi
	export LD_PRELOAD="$rt" ASAN_OPTIONS="detect_leaks=0:verify_asan_link_order=0"
fi
V="$DATA/vcf"
SEED="$DATA/crypt4gh/seed"
H="$V/htsget-rs"
unset C4GH_SECRET_KEY C4GH_PASSPHRASE SENDER_KEY RECIPIENT_KEY
cd "$T" || exit 1
run() { env -u LD_PRELOAD "$@"; } # the plaintext baseline, without the plugin's runtime

# --- htsget-rs files: alice -> bob, C4GH_SECRET_KEY, plaintext .tbi beside them ------
cp "$H"/spec-v4.3.vcf.gz.c4gh "$H"/spec-v4.3.vcf.gz.tbi "$H"/sample1-bcbio-cancer.vcf.gz.c4gh \
	"$H"/sample1-bcbio-cancer.vcf.gz.tbi .
export C4GH_SECRET_KEY="$H/bob.sec"
for n in spec-v4.3 sample1-bcbio-cancer; do
	run bcftools view -H "$H/$n.vcf.gz" >want 2>/dev/null
	bcftools view -H "crypt4gh:$n.vcf.gz.c4gh" >got 2>err
	same "bcftools view crypt4gh:$n.vcf.gz.c4gh" want got
	bcftools view -H "$n.vcf.gz.c4gh" >got 2>err
	same "bcftools view $n.vcf.gz.c4gh (htslib sniffs the magic)" want got
	bcftools query -f '%ID\n' "crypt4gh:$n.vcf.gz.c4gh" >got 2>err
	same "bcftools query -f '%ID\\n' crypt4gh:$n" "$H/expected/$n.bcftools-id.txt" got
done
tabix spec-v4.3.vcf.gz.c4gh 20:1110000-1240000 >got 2>err
same "tabix region on the encrypted file = expected" "$H/expected/spec-v4.3.region-20_1110000-1240000.vcf" got
bcftools query -r 20:1110000-1240000 -f '%ID\n' spec-v4.3.vcf.gz.c4gh >got 2>err
same "bcftools query -r, index found beside the file" \
	"$H/expected/spec-v4.3.region-20_1110000-1240000.bcftools-id.txt" got
tabix "crypt4gh:sample1-bcbio-cancer.vcf.gz.c4gh##idx##sample1-bcbio-cancer.vcf.gz.tbi" \
	chrM:150-2500 >got 2>err
same "tabix crypt4gh:...##idx##plaintext.tbi" "$H/expected/sample1-bcbio-cancer.region-chrM_150-2500.vcf" got
bcftools view -H -r chrM:150-2500 "crypt4gh:sample1-bcbio-cancer.vcf.gz.c4gh" >got 2>err
same "bcftools view -r chrM:150-2500 crypt4gh:... (index via the plugin)" \
	"$H/expected/sample1-bcbio-cancer.region-chrM_150-2500.vcf" got
C4GH_SECRET_KEY="$H/alice.sec" bcftools view -H "crypt4gh:spec-v4.3.vcf.gz.c4gh" >got 2>err
[ $? -ne 0 ] && grep -q 'no header packet\|not encrypted for you' err &&
	pass "a key the file is not for: htslib fails with the plugin's message" ||
	fail "wrong key: $(head -c 300 err)"
unset C4GH_SECRET_KEY
# A passphrase-protected c4gh-v1 key (bcrypt KDF) for the plugin.
K="$DATA/crypt4gh"
run "$WARD" vcf encrypt --recipient_pk "$K/alice.pub" "$V/scone-example-input.vcf" >alice.vcf.c4gh 2>/dev/null
run bcftools view -H "$V/scone-example-input.vcf" >want 2>/dev/null
C4GH_SECRET_KEY="$K/alice.sec" C4GH_PASSPHRASE=alice bcftools view -H crypt4gh:alice.vcf.c4gh >got 2>err
same "C4GH_SECRET_KEY + C4GH_PASSPHRASE (bcrypt-protected key)" want got
C4GH_SECRET_KEY="$K/alice.sec" C4GH_PASSPHRASE=wrong bcftools view -H crypt4gh:alice.vcf.c4gh >got 2>err
[ $? -ne 0 ] && [ ! -s got ] && pass "a wrong C4GH_PASSPHRASE: no output, an error" ||
	fail "wrong passphrase in the plugin: $(head -c 300 err)"
RECIPIENT_KEY=$(cat "$SEED/recipient-bb.hex") bcftools view -H "crypt4gh:$SEED/scone-input.c4gh" >got 2>err
same "RECIPIENT_KEY (hex) in the plugin: the example's encrypted input.vcf" want got

# --- a multi-segment bgzipped VCF: seeking reads only what the region needs ---------
export SENDER_KEY=$(cat "$SEED/sender-aa.hex") RECIPIENT_KEY=$(cat "$SEED/recipient-bb.hex")
awk 'BEGIN { srand(7); print "##fileformat=VCFv4.2";
	print "##INFO=<ID=DP,Number=1,Type=Integer,Description=\"d\">";
	print "##FORMAT=<ID=GT,Number=1,Type=String,Description=\"g\">";
	print "##FORMAT=<ID=DP,Number=1,Type=Integer,Description=\"d\">";
	for (c = 1; c <= 3; c++) print "##contig=<ID=chr" c ">";
	print "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\tS2\tS3\tS4\tS5";
	for (c = 1; c <= 3; c++) { pos = 0; for (i = 0; i < 16000; i++) { pos += 1 + int(rand() * 50);
		printf "chr%d\t%d\trs%d\tA\tG\t%.1f\tPASS\tDP=%d\tGT:DP", c, pos, c * 100000 + i, rand() * 99, int(rand() * 99);
		for (s = 0; s < 5; s++) printf "\t%d/%d:%d", int(rand() * 2), int(rand() * 2), int(rand() * 60);
		printf "\n" } } }' >syn.vcf
run bgzip -c syn.vcf >syn.vcf.gz && run tabix -p vcf syn.vcf.gz
run "$WARD" vcf encrypt syn.vcf.gz >syn.vcf.gz.c4gh
segs=$(( ($(stat -c %s syn.vcf.gz) + 65535) / 65536 ))
[ "$segs" -ge 12 ] && pass "synthetic .vcf.gz spans $segs Crypt4GH segments" || fail "only $segs segments"
for r in chr1:1000-2000 chr2:100000-150000 chr3:250000-400000; do
	run tabix syn.vcf.gz "$r" >want 2>/dev/null
	tabix syn.vcf.gz.c4gh "$r" >got 2>err
	[ -s want ] && cmp -s want got && pass "tabix $r: same records as on the plaintext ($(wc -l <want))" ||
		fail "tabix $r differs: $(head -c 200 err)"
	bcftools view -H -r "$r" "crypt4gh:syn.vcf.gz.c4gh" >got 2>err
	run bcftools view -H -r "$r" syn.vcf.gz >want 2>/dev/null
	same "bcftools view -r $r crypt4gh:syn.vcf.gz.c4gh" want got
done
# Damage one segment far from chr1:1000-2000 (never the last: htslib reads the BGZF EOF block).
hdr=$(( $(stat -c %s syn.vcf.gz.c4gh) - $(stat -c %s syn.vcf.gz) - 28 * segs ))
cp syn.vcf.gz.c4gh dmg.vcf.gz.c4gh
cp syn.vcf.gz.tbi dmg.vcf.gz.tbi
off=$(( hdr + (segs - 3) * 65564 + 1000 ))
printf '\377' | run dd of=dmg.vcf.gz.c4gh bs=1 seek=$off conv=notrunc status=none
run tabix syn.vcf.gz chr1:1000-2000 >want 2>/dev/null
tabix dmg.vcf.gz.c4gh chr1:1000-2000 >got 2>err
same "a region query never decrypts a damaged segment elsewhere (reads only what it needs)" want got
bcftools view -H dmg.vcf.gz.c4gh >/dev/null 2>err
[ $? -ne 0 ] && grep -q 'authentication' err && pass "reading the whole damaged file fails on that segment" ||
	fail "whole read of a damaged file: $(head -c 300 err)"

# --- BAM: built here with samtools, sorted, indexed, encrypted ------------------------
awk 'BEGIN { srand(3); print "@HD\tVN:1.6\tSO:coordinate"; print "@SQ\tSN:chr1\tLN:200000";
	print "@SQ\tSN:chr2\tLN:200000"; seq = ""; for (i = 0; i < 50; i++) seq = seq substr("ACGT", 1 + int(rand() * 4), 1);
	for (c = 1; c <= 2; c++) { pos = 1; for (i = 0; i < 6000; i++) { pos += int(rand() * 30);
		printf "r%d_%d\t0\tchr%d\t%d\t60\t50M\t*\t0\t0\t%s\t*\n", c, i, c, pos, seq } } }' >reads.sam
run samtools view -b -o reads.bam reads.sam 2>/dev/null && run samtools index reads.bam
run "$WARD" vcf encrypt reads.bam >reads.bam.c4gh
for r in chr1:100-200 chr2:50000-52000; do
	run samtools view reads.bam "$r" >want 2>/dev/null
	samtools view "crypt4gh:reads.bam.c4gh" "$r" >got 2>err
	[ -s want ] && cmp -s want got && pass "samtools view crypt4gh:reads.bam.c4gh $r ($(wc -l <want) reads)" ||
		fail "samtools view crypt4gh: $r: $(head -c 300 err)"
	samtools view reads.bam.c4gh "$r" >got 2>err
	same "samtools view reads.bam.c4gh $r (sniffed, reads.bam.bai beside it)" want got
	samtools view -X "crypt4gh:reads.bam.c4gh" reads.bam.bai "$r" >got 2>err
	same "samtools view -X crypt4gh:... reads.bam.bai $r" want got
done
run samtools view -c reads.bam >want
samtools view -c "crypt4gh:reads.bam.c4gh" >got 2>err
same "samtools view -c of the whole encrypted BAM" want got
SENDER_KEY=$(cat "$SEED/recipient-cc.hex") samtools view -c "crypt4gh:reads.bam.c4gh" >got 2>err
[ $? -ne 0 ] && pass "SENDER_KEY of another writer: refused" || fail "sender check in the plugin"
# An unencrypted file passes through the scheme unchanged.
run samtools view -c reads.bam >want
samtools view -c "crypt4gh:reads.bam" >got 2>err
same "crypt4gh: on an unencrypted file reads it as is" want got
