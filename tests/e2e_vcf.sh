#!/usr/bin/env bash
# End-to-end tests of `ward vcf`: the original example's keys and files, both ID rules,
# bcftools query byte-identity (live bcftools) on plain/bgzip/gzip/Crypt4GH input, errors.
. "$(dirname "$0")/lib.sh"

V="$DATA/vcf"
SEED="$DATA/crypt4gh/seed"
K="$DATA/crypt4gh"
export SENDER_KEY=$(cat "$SEED/sender-aa.hex") RECIPIENT_KEY=$(cat "$SEED/recipient-bb.hex")
unset C4GH_SECRET_KEY C4GH_PASSPHRASE
FIRST_AWK='!/^#/ && $3!="." {split($3,a,";"); print a[1]}'
NAMES="scone-example-input scone-example-input.crlf hts-specs-4.3-passed_body_id
hts-specs-4.3-passed_body_alt hts-specs-4.3-complexfile_passed_000 bcftools-query.filter.id
bcftools-mpileup.hwe"

# --- the original example's files (seed/) -------------------------------------
for f in scone-input complexfile-2segments mpileup-hwe-2segments scone-input.2recipients-b-c; do
	plain="$SEED/scone-input.plain"
	case $f in complexfile*) plain="$V/hts-specs-4.3-complexfile_passed_000.vcf" ;;
	mpileup*) plain="$V/bcftools-mpileup.hwe.vcf" ;; esac
	awk -F'\t' "$FIRST_AWK" "$plain" >"$T/want"
	"$WARD" vcf process "$SEED/$f.c4gh" >"$T/got" 2>"$T/err"
	rc=$?
	if [ $rc -eq 0 ] && cmp -s "$T/want" "$T/got"; then pass "process seed/$f.c4gh (SENDER_KEY=aa, RECIPIENT_KEY=bb)"; else
		fail "process seed/$f.c4gh: exit $rc $(head -c 200 "$T/err")"; fi
done
printf 'rs6054257\nrs6040355\n' >"$T/want"
"$WARD" vcf process <"$SEED/scone-input.c4gh" >"$T/got" 2>/dev/null
same "process reads standard input and prints the example's two IDs" "$T/want" "$T/got"
fails_with "seed/scone-input.edit-100-500.c4gh: written by bb, not the sender aa" 3 \
	"$WARD" vcf process "$SEED/scone-input.edit-100-500.c4gh"
RECIPIENT_KEY=$(cat "$SEED/recipient-cc.hex") "$WARD" vcf process "$SEED/scone-input.2recipients-b-c.c4gh" >"$T/got" 2>/dev/null
same "2recipients-b-c opens with cc too" "$T/want" "$T/got"
RECIPIENT_KEY=$(cat "$SEED/recipient-cc.hex") fails_with "scone-input.c4gh refuses cc (no packet)" 3 \
	"$WARD" vcf process "$SEED/scone-input.c4gh"
grep -q 'not encrypted for you\|no header packet' "$T/.err" && pass "wrong key: the message says why" ||
	fail "wrong key message: $(cat "$T/.err")"
# Without SENDER_KEY the edited file decrypts, but bytes [100, 600) are not a VCF.
(unset SENDER_KEY; fails_with "edit-100-500 without SENDER_KEY: decrypts to a non-VCF" 5 \
	"$WARD" vcf process "$SEED/scone-input.edit-100-500.c4gh")
"$WARD" vcf encrypt "$V/scone-example-input.vcf" >"$T/s.c4gh" 2>/dev/null
size=$(stat -c %s "$T/s.c4gh")
[ "$size" -eq 1613 ] && pass "encrypt: 1613 bytes as the original (16 + 108 + 12 + 1461 + 16)" ||
	fail "encrypt size $size, wanted 1613"
[ "$(head -c 8 "$T/s.c4gh")" = crypt4gh ] && [ "$(od -An -tx1 -j24 -N32 "$T/s.c4gh" | tr -d ' \n')" = \
	14ca9e4d387bccf35746e0407daaacc6b28a4f8445ef5a5158894db983e24070 ] &&
	pass "encrypt: the writer key in packet 0 is the public key of SENDER_KEY" ||
	fail "encrypt: wrong magic or writer key"
cat "$V/scone-example-input.vcf" | "$WARD" vcf encrypt | "$WARD" vcf process >"$T/got" 2>/dev/null
same "encrypt | process on pipes" "$T/want" "$T/got"

# --- every shared VCF: both rules, against the expected files and the live tools -----
for n in $NAMES; do
	"$WARD" vcf encrypt "$V/$n.vcf" >"$T/x.c4gh" 2>"$T/err" || fail "encrypt $n: $(cat "$T/err")"
	"$WARD" vcf process "$T/x.c4gh" >"$T/got" 2>"$T/err"
	same "process $n = expected first-ID output" "$V/expected/$n.first-id.txt" "$T/got"
	awk -F'\t' "$FIRST_AWK" "$V/$n.vcf" >"$T/want"
	same "process $n = awk on the plaintext" "$T/want" "$T/got"
	"$WARD" vcf process --all-ids "$T/x.c4gh" >"$T/got" 2>"$T/err"
	same "process --all-ids $n = expected bcftools output" "$V/expected/$n.bcftools-id.txt" "$T/got"
	bcftools query -f '%ID\n' "$V/$n.vcf" >"$T/want" 2>/dev/null
	same "process --all-ids $n = live bcftools query -f '%ID\\n'" "$T/want" "$T/got"
done

# --- query -f: byte-identical to bcftools on every variant of every file ---------------
# A >100 KB line, generated here to keep the repository small.
awk 'BEGIN { printf "##fileformat=VCFv4.2\n##INFO=<ID=S,Number=1,Type=String,Description=\"s\">\n";
	printf "##INFO=<ID=DP,Number=1,Type=Integer,Description=\"d\">\n##contig=<ID=1>\n";
	printf "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n";
	s = "x"; while (length(s) < 150000) s = s s;
	printf "1\t1\tbig1\tA\tG\t10\tPASS\tDP=5;S=%s\n1\t2\tsmall2\tC\tT\t.\t.\tDP=6\n", s }' >"$T/longline.vcf"
mkdir -p "$T/v"
for f in "$V"/*.vcf "$V"/edge/*.vcf "$T/longline.vcf"; do
	b=$(basename "$f" .vcf)
	cp "$f" "$T/v/$b.vcf"
	bgzip -c "$f" >"$T/v/$b.bgzf.vcf.gz"
	# Two plain gzip members: the zlib path, as `cat a.gz b.gz` makes.
	head -c 400 "$f" | gzip -c >"$T/v/$b.gz2.vcf.gz"
	tail -c +401 "$f" | gzip -c >>"$T/v/$b.gz2.vcf.gz"
done
formats=('%ID\n' '%CHROM\t%POS\t%ID\t%REF\t%ALT\t%QUAL\t%FILTER\n' '%INFO\n' '%LINE'
	'%ALT{0}|%ALT{1} %QUAL\n' 'x\\y\t%ID')
total=0 bad=0
for f in "$T"/v/*; do
	tags=$(zcat -f "$f" | grep -o '^##INFO=<ID=[^,>]*' | sed 's/##INFO=<ID=//' | sort -u)
	fi='%POS'
	for t in $tags; do fi="$fi\t%INFO/$t|%INFO/$t{1}"; done
	"$WARD" vcf encrypt "$f" >"$T/e.c4gh" 2>/dev/null
	for fmt in "${formats[@]}" "$fi\n"; do
		bcftools query -f "$fmt" "$f" >"$T/b.out" 2>/dev/null
		rb=$?
		for src in "$f" "$T/e.c4gh"; do
			"$WARD" vcf query -f "$fmt" "$src" >"$T/w.out" 2>"$T/w.err"
			rw=$?
			total=$((total + 1))
			if [ $rb -ne $rw ] || ! cmp -s "$T/b.out" "$T/w.out"; then
				bad=$((bad + 1))
				fail "query -f '$fmt' $(basename "$f") ($([ "$src" = "$f" ] && echo plain || echo c4gh)): exit $rw vs bcftools $rb $(head -c 200 "$T/w.err")"
			fi
		done
	done
done
[ $bad -eq 0 ] && pass "query -f: $total runs byte-identical to bcftools (plain, bgzip, 2-member gzip, each also inside Crypt4GH)"
# first-ID rule through gzip inside Crypt4GH
for f in "$T"/v/*.gz; do
	"$WARD" vcf encrypt "$f" | "$WARD" vcf process >"$T/got" 2>"$T/err"
	zcat "$f" | awk -F'\t' "$FIRST_AWK" >"$T/want"
	cmp -s "$T/want" "$T/got" || fail "process on encrypted $(basename "$f"): $(head -c 200 "$T/err")"
done
pass "process on every encrypted .vcf.gz = awk on the plaintext"
"$WARD" vcf encrypt "$T/v/sites.bgzf.vcf.gz" | "$WARD" vcf query -f '%ID %INFO/AF\n' >"$T/got" 2>/dev/null
bcftools query -f '%ID %INFO/AF\n' "$T/v/sites.vcf" >"$T/want" 2>/dev/null
same "query reads BGZF inside Crypt4GH from a pipe" "$T/want" "$T/got"
cat "$T/v/sites.bgzf.vcf.gz" | "$WARD" vcf query -f '%ID %INFO/AF\n' >"$T/got" 2>/dev/null
bcftools query -f '%ID %INFO/AF\n' "$T/v/sites.vcf" >"$T/want" 2>/dev/null
same "query reads BGZF from standard input" "$T/want" "$T/got"

# --- the htsget-rs files: encrypted .vcf.gz, c4gh key files --------------------------
H="$V/htsget-rs"
unset SENDER_KEY # else it would be checked as the writer (it is alice here)
for n in spec-v4.3 sample1-bcbio-cancer; do
	"$WARD" vcf query -f '%ID\n' --sk "$H/bob.sec" "$H/$n.vcf.gz.c4gh" >"$T/got" 2>"$T/err"
	same "htsget-rs $n.vcf.gz.c4gh with bob.sec: %ID" "$H/expected/$n.bcftools-id.txt" "$T/got"
	"$WARD" vcf process --sk "$H/bob.sec" --sender_pk "$H/alice.pub" "$H/$n.vcf.gz.c4gh" >"$T/got" 2>"$T/err"
	same "htsget-rs $n: process, sender alice checked" "$H/expected/$n.first-id.txt" "$T/got"
	bcftools query -f '%LINE' "$H/$n.vcf.gz" >"$T/want" 2>/dev/null
	RECIPIENT_KEY= C4GH_SECRET_KEY="$H/bob.sec" "$WARD" vcf query -f '%LINE' "$H/$n.vcf.gz.c4gh" >"$T/got" 2>/dev/null
	same "htsget-rs $n: %LINE with the key from C4GH_SECRET_KEY" "$T/want" "$T/got"
done
fails_with "htsget-rs: --sender_pk bob.pub refuses alice's file" 3 \
	"$WARD" vcf process --sk "$H/bob.sec" --sender_pk "$H/bob.pub" "$H/spec-v4.3.vcf.gz.c4gh"

export SENDER_KEY=$(cat "$SEED/sender-aa.hex")

# --- key files as crypt4gh: --sk / --recipient_pk / --sender_pk ----------------------
(unset SENDER_KEY RECIPIENT_KEY
C4GH_PASSPHRASE=bob "$WARD" vcf encrypt --sk "$K/bob.sec" --recipient_pk "$K/alice.pub" \
	"$V/scone-example-input.vcf" >"$T/k.c4gh" 2>"$T/err" && pass "encrypt with key files" ||
	fail "encrypt with key files: $(cat "$T/err")"
C4GH_PASSPHRASE=alice "$WARD" vcf process --sk "$K/alice.sec" --sender_pk "$K/bob.pub" "$T/k.c4gh" >"$T/got" 2>"$T/err"
printf 'rs6054257\nrs6040355\n' >"$T/want0"
same "process with --sk (c4gh-v1, bcrypt) and --sender_pk" "$T/want0" "$T/got"
C4GH_PASSPHRASE=alice fails_with "--sender_pk of another writer" 3 \
	"$WARD" vcf process --sk "$K/alice.sec" --sender_pk "$K/alice.pub" "$T/k.c4gh"
C4GH_PASSPHRASE=wrong fails_with "wrong passphrase" 2 \
	"$WARD" vcf process --sk "$K/alice.sec" "$T/k.c4gh"
fails_with "process without any key" 64 "$WARD" vcf process "$T/k.c4gh"
fails_with "encrypt without a recipient" 64 "$WARD" vcf encrypt "$V/scone-example-input.vcf"
fails_with "query of a Crypt4GH file without a key" 3 "$WARD" vcf query -f '%ID\n' "$T/k.c4gh")

# --- errors -------------------------------------------------------------------------
RECIPIENT_KEY=xyz fails_with "a bad hex RECIPIENT_KEY" 64 "$WARD" vcf process "$T/s.c4gh"
grep -q RECIPIENT_KEY "$T/.err" && pass "the bad key message names the variable" || fail "bad key message"
SENDER_KEY=abcd fails_with "a short hex SENDER_KEY" 64 "$WARD" vcf encrypt "$V/scone-example-input.vcf"
fails_with "process on plaintext: not Crypt4GH" 4 "$WARD" vcf process "$V/scone-example-input.vcf"
printf 'hello\tworld\n' >"$T/notvcf.txt"
fails_with "query: not a VCF" 5 "$WARD" vcf query -f '%ID\n' "$T/notvcf.txt"
grep -q 'line 1' "$T/.err" && pass "not a VCF: the message gives line 1" || fail "not-VCF message: $(cat "$T/.err")"
"$WARD" vcf encrypt "$T/notvcf.txt" >"$T/n.c4gh"
fails_with "process: the plaintext is not a VCF" 5 "$WARD" vcf process "$T/n.c4gh"
{ head -5 "$V/bcftools-query.filter.id.vcf"; printf '1\t5\tbad\tA\tG\t.\n'; } >"$T/short.vcf"
fails_with "query: a data line with 6 columns" 5 "$WARD" vcf query -f '%ID\n' "$T/short.vcf"
grep -q 'line 6: 6 columns' "$T/.err" && pass "short line: the message gives the line and count" ||
	fail "short line message: $(cat "$T/.err")"
"$WARD" vcf encrypt "$T/short.vcf" >"$T/short.c4gh"
fails_with "process: a data line with 6 columns" 5 "$WARD" vcf process "$T/short.c4gh"
fails_with "query -f with a bad format" 64 "$WARD" vcf query -f '%ID %' "$V/scone-example-input.vcf"
fails_with "query -f with per-sample fields" 64 "$WARD" vcf query -f '[%GT]' "$V/scone-example-input.vcf"
fails_with "query -f with an INFO tag not in the header" 5 "$WARD" vcf query -f '%INFO/NOPE' "$V/scone-example-input.vcf"
fails_with "query without -f" 64 "$WARD" vcf query "$V/scone-example-input.vcf"
fails_with "a missing input file" 8 "$WARD" vcf query -f '%ID\n' "$T/does-not-exist.vcf"
head -c 1000 "$T/s.c4gh" >"$T/cut.c4gh"
fails_with "a truncated Crypt4GH file" 7 "$WARD" vcf process "$T/cut.c4gh"

# --- -o: the output appears only on success ------------------------------------------
"$WARD" vcf process -o "$T/ids.txt" "$T/s.c4gh" 2>/dev/null
printf 'rs6054257\nrs6040355\n' >"$T/want"
same "process -o writes the file" "$T/want" "$T/ids.txt"
"$WARD" vcf process -o "$T/none.txt" "$T/short.c4gh" 2>/dev/null
[ ! -e "$T/none.txt" ] && ! ls "$T"/none.txt.* >/dev/null 2>&1 && pass "a failed process leaves no -o file" ||
	fail "a failed process left an output file"
"$WARD" vcf encrypt -o "$T/o.c4gh" "$V/scone-example-input.vcf" 2>/dev/null &&
	"$WARD" vcf process "$T/o.c4gh" >"$T/got" 2>/dev/null
same "encrypt -o" "$T/want" "$T/got"
# The original example's form: input and output files as arguments.
"$WARD" vcf encrypt "$V/scone-example-input.vcf" "$T/arg.c4gh" 2>/dev/null &&
	"$WARD" vcf process "$T/arg.c4gh" "$T/arg.txt" 2>/dev/null
same "encrypt IN OUT and process IN OUT" "$T/want" "$T/arg.txt"
