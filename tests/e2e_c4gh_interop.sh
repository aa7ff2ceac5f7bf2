#!/usr/bin/env bash
# Interop in both directions against an independent Crypt4GH implementation
# (tests/tools/c4gh_oracle.py: Python's cryptography + hashlib, written from the spec).
. "$(dirname "$0")/lib.sh"
V="$DATA/crypt4gh"
ORACLE="$PWD/tests/tools/c4gh_oracle.py"
cd "$T" || exit 1
if ! /usr/bin/python3 -c 'import cryptography' 2>/dev/null; then
	skip "interop oracle: /usr/bin/python3 with python3-cryptography is missing (scripts/deps.sh installs it)"
	exit 0
fi
oracle() { /usr/bin/python3 "$ORACLE" "$@"; }
export C4GH_PASSPHRASE=
"$KEYGEN" -f --nocrypt --sk erin.sec --pk erin.pub >/dev/null 2>&1
for n in 0 1 65535 65536 65537 131072 300000 2000000; do
	head -c "$n" /dev/urandom >p.$n
	"$C4GH" encrypt --sk erin.sec --recipient_pk "$V/dave.pub" --recipient_pk erin.pub -i p.$n -o w.$n.c4gh
	oracle decrypt "$V/dave.nocrypt.sec" <w.$n.c4gh >o.$n && cmp -s o.$n p.$n &&
		pass "ward -> oracle: $n bytes (first recipient)" || fail "ward -> oracle: $n bytes"
	oracle decrypt erin.sec <w.$n.c4gh >o2.$n && cmp -s o2.$n p.$n &&
		pass "ward -> oracle: $n bytes (second recipient, keygen key)" || fail "ward -> oracle (erin): $n bytes"
	oracle encrypt erin.sec "$V/dave.pub" <p.$n >x.$n.c4gh
	"$C4GH" decrypt --sk "$V/dave.nocrypt.sec" --sender_pk erin.pub -i x.$n.c4gh -o d.$n &&
		cmp -s d.$n p.$n && pass "oracle -> ward: $n bytes, sender checked" || fail "oracle -> ward: $n bytes"
done
# Edit lists written by the oracle, read by Ward (files and pipes, with ranges on top).
for e in 65535,3,65534,2 10,5,140000,5 196618 0,0 1,1,1,1,1; do
	oracle encrypt erin.sec "$V/dave.pub" --edit "$e" <"$V/testfile.abcd" >e.c4gh
	oracle decrypt "$V/dave.nocrypt.sec" <e.c4gh >e.want
	"$C4GH" decrypt --sk "$V/dave.nocrypt.sec" -i e.c4gh -o e.got
	cat e.c4gh | "$C4GH" decrypt --sk "$V/dave.nocrypt.sec" >e.pipe
	same "edit list [$e]: Ward = oracle (file)" e.got e.want
	same "edit list [$e]: Ward = oracle (pipe)" e.pipe e.want
done
# Ward's rearranged and re-encrypted files, read by the oracle.
"$C4GH" encrypt --recipient_pk erin.pub -i "$V/testfile.abcd" -o abcd.c4gh
for r in 65535-131073 5-100000 200000-262144; do
	"$C4GH" rearrange --sk erin.sec --range "$r" -i abcd.c4gh -o r.c4gh
	"$C4GH" reencrypt --sk erin.sec --recipient_pk "$V/dave.pub" -i r.c4gh -o rr.c4gh
	oracle decrypt "$V/dave.nocrypt.sec" <rr.c4gh >r.oracle
	s=${r%-*} e=${r#*-}
	tail -c +$((s + 1)) "$V/testfile.abcd" | head -c $((e - s)) >r.want
	same "rearrange $r + reencrypt: the oracle reads the range" r.oracle r.want
done
