#!/usr/bin/env bash
# Demo part: Crypt4GH key pairs, multi-recipient encryption, header re-encryption, ranges.
set -euo pipefail
cd "$WARD_DEMO_DIR"
mkdir -p crypt4gh && cd crypt4gh
say() { printf '  %s\n' "$*"; }

# Keys: alice's is protected by a passphrase (scrypt), bob's is not.
C4GH_PASSPHRASE=alice-demo crypt4gh-keygen -f --sk alice.sec --pk alice.pub -C "alice@demo" >/dev/null
C4GH_PASSPHRASE= crypt4gh-keygen -f --nocrypt --sk bob.sec --pk bob.pub >/dev/null 2>&1
C4GH_PASSPHRASE= crypt4gh-keygen -f --nocrypt --sk carol.sec --pk carol.pub >/dev/null 2>&1
say "generated key pairs: alice (passphrase, scrypt), bob and carol (no passphrase)"

# A sample larger than one 64 KiB segment.
seq 1 200000 | awk '{ printf "sample line %07d\n", $1 }' >sample.txt
say "generated sample.txt: $(stat -c %s sample.txt) bytes"

crypt4gh encrypt --recipient_pk alice.pub --recipient_pk bob.pub -i sample.txt -o sample.c4gh
say "encrypted for alice and bob: sample.c4gh, $(stat -c %s sample.c4gh) bytes"

C4GH_PASSPHRASE=alice-demo crypt4gh decrypt --sk alice.sec -i sample.c4gh -o alice.out
cmp -s alice.out sample.txt && say "alice decrypted it: identical to the sample"
crypt4gh decrypt --sk bob.sec -i sample.c4gh -o bob.out
cmp -s bob.out sample.txt && say "bob decrypted it: identical to the sample"

crypt4gh reencrypt --sk bob.sec --recipient_pk carol.pub -i sample.c4gh -o sample.carol.c4gh
say "bob re-encrypted the header for carol (segments copied, not re-encrypted)"
crypt4gh decrypt --sk carol.sec -i sample.carol.c4gh -o carol.out
cmp -s carol.out sample.txt && say "carol decrypted it: identical to the sample"

crypt4gh decrypt --sk carol.sec --range 1000000-1000040 -i sample.carol.c4gh -o range.out
say "carol decrypted bytes [1000000, 1000040) only: $(tr '\n' '|' <range.out)"
cmp -s range.out <(tail -c +1000001 sample.txt | head -c 40) && say "range matches the plaintext slice"

if crypt4gh decrypt --sk carol.sec -i sample.c4gh -o nope.out 2>err.txt; then
	echo "unexpected: carol read a file not encrypted for her" >&2
	exit 1
fi
say "carol cannot read the original file: $(cat err.txt)"
