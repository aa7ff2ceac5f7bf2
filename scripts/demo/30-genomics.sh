#!/usr/bin/env bash
# Demo part: the original example's genomics flow (ward vcf encrypt | process with its hex keys),
# a bcftools-compatible query, and a region query by Debian's bcftools on the encrypted file
# through Ward's htslib plugin, using the plaintext's tabix index.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$WARD_DEMO_DIR"
rm -rf genomics && mkdir genomics && cd genomics
say() { printf '  %s\n' "$*"; }
indent() { sed 's/^/    /'; }

export SENDER_KEY=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
export RECIPIENT_KEY=bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb
in="$repo/tests/data/vcf/scone-example-input.vcf"

ward vcf encrypt "$in" >input.vcf.c4gh
say "SENDER_KEY=aa..a RECIPIENT_KEY=bb..b ward vcf encrypt input.vcf: $(stat -c %s input.vcf.c4gh) bytes" \
	"(the original: 1613)"
say "ward vcf process input.vcf.c4gh (first ID per record, none for '.'):"
ward vcf process input.vcf.c4gh | indent
say "cat input.vcf | ward vcf encrypt | ward vcf process --all-ids (= bcftools query -f '%ID\\n'):"
cat "$in" | ward vcf encrypt | ward vcf process --all-ids | indent

fmt='%CHROM\t%POS\t%ID\t%REF\t%ALT\t%QUAL\t%FILTER\t%INFO/DP\t%INFO/AF\n'
say "ward vcf query -f '$fmt' input.vcf.c4gh:"
ward vcf query -f "$fmt" input.vcf.c4gh | indent
if cmp -s <(ward vcf query -f "$fmt" input.vcf.c4gh) <(bcftools query -f "$fmt" "$in" 2>/dev/null); then
	say "byte-identical to bcftools query on the plaintext"
else
	echo "unexpected: ward vcf query and bcftools query differ" >&2
	exit 1
fi

if ward vcf process "$in" 2>err.txt; then
	echo "unexpected: process accepted plaintext" >&2
	exit 1
fi
say "process refuses plaintext: $(cat err.txt)"

# The data provider bgzips and indexes the VCF, encrypts it, and ships the .c4gh with the
# plaintext's index; the analysis side never sees a plaintext .vcf.gz.
bgzip -c "$in" >input.vcf.gz
tabix -p vcf input.vcf.gz
ward vcf encrypt input.vcf.gz >input.vcf.gz.c4gh
rm input.vcf.gz
say "bgzipped + tabix-indexed, then encrypted: input.vcf.gz.c4gh and input.vcf.gz.tbi" \
	"(the plaintext .vcf.gz is deleted)"
export HTS_PATH="$WARD_DEMO_BUILD/plugins"
say "HTS_PATH=build/plugins bcftools view -H -r 20:1000000-1300000 input.vcf.gz.c4gh:"
bcftools view -H -r 20:1000000-1300000 input.vcf.gz.c4gh | cut -f1-8 | indent
say "HTS_PATH=build/plugins bcftools query -f '%ID\\n' crypt4gh:input.vcf.gz.c4gh:"
bcftools query -f '%ID\n' crypt4gh:input.vcf.gz.c4gh | indent
