#!/usr/bin/env bash
# End-to-end tests of the crypt4gh command: vectors, exit codes, ranges, -o atomicity, chains.
. "$(dirname "$0")/lib.sh"
V="$DATA/crypt4gh"
cd "$T" || exit 1
unset C4GH_SECRET_KEY C4GH_PASSPHRASE

ok "crypt4gh --help" "$C4GH" --help
ok "ward c4gh --version" "$WARD" c4gh --version
fails_with "unknown subcommand is a usage error" 64 "$C4GH" frobnicate
fails_with "bad --range is a usage error" 64 "$C4GH" decrypt --range 10-5
fails_with "encrypt without recipients is a usage error" 64 "$C4GH" encrypt

# Every MANIFEST row through the CLI, with the documented exit codes.
declare -A status=(
	["rand300000.multi.c4gh dave.nocrypt.sec"]=3
	["two_editlists.c4gh alice.sec"]=5
	["unknown_type2.c4gh alice.sec"]=5
	["only_unknown_method.c4gh alice.sec"]=3
	["dek_method1.c4gh alice.sec"]=5
	["abcd.bob2alice.c4gh alice.sec wrong-passphrase"]=2
	["abcd.bob2alice.c4gh bob.sec"]=3
)
while IFS=$'\t' read -r file key pass expect sum; do
	case "$file" in "#"* | "") continue ;; esac
	[ "$pass" = "-" ] && pass=""
	if [ "$expect" = ok ]; then
		got=$(C4GH_PASSPHRASE="$pass" "$C4GH" decrypt --sk "$V/$key" <"$V/$file" | sha256sum | cut -d' ' -f1)
		[ "$got" = "$sum" ] && pass "cli: $file with $key" || fail "cli: $file with $key: $got"
	else
		want=${status["$file $key $pass"]:-${status["$file $key"]}}
		C4GH_PASSPHRASE="$pass" fails_with "cli: $file with $key refused (exit $want)" "$want" \
			"$C4GH" decrypt --sk "$V/$key" -i "$V/$file" -o "$T/refused.out"
		[ ! -e "$T/refused.out" ] && pass "cli: no output file left for $file" ||
			fail "cli: $T/refused.out left behind"
	fi
done <"$V/MANIFEST.tsv"
ls "$T" | grep -q 'refused.out.' && fail "temporary output files left behind" || pass "no temporary files left"

# Error classes: not Crypt4GH, corrupt segment, truncated segment.
head -c 1000 "$V/rand1" >notc4gh
fails_with "not a Crypt4GH file: exit 4" 4 env C4GH_PASSPHRASE=alice "$C4GH" decrypt --sk "$V/alice.sec" -i notc4gh
grep -q "not a Crypt4GH file" "$T/.err" && pass "message says 'not a Crypt4GH file'" || fail "message: $(cat "$T/.err")"
cp "$V/abcd.bob2alice.c4gh" flipped.c4gh
printf '\x01' | dd of=flipped.c4gh bs=1 seek=$((124 + 2 * 65564 + 500)) conv=notrunc status=none
fails_with "flipped segment byte: exit 6" 6 env C4GH_PASSPHRASE=alice "$C4GH" decrypt --sk "$V/alice.sec" -i flipped.c4gh -o flipped.out
grep -q "segment 2 failed authentication" "$T/.err" && pass "message names segment 2" || fail "message: $(cat "$T/.err")"
[ ! -e flipped.out ] && pass "no plaintext file after a failed decrypt" || fail "flipped.out exists"
head -c $((124 + 65564 + 30000)) "$V/abcd.bob2alice.c4gh" >cut.c4gh
fails_with "truncated segment: exit 7" 7 env C4GH_PASSPHRASE=alice "$C4GH" decrypt --sk "$V/alice.sec" -i cut.c4gh
head -c 100 "$V/abcd.bob2alice.c4gh" >cuthdr.c4gh
fails_with "truncated header: exit 7" 7 env C4GH_PASSPHRASE=alice "$C4GH" decrypt --sk "$V/alice.sec" -i cuthdr.c4gh
[ "$(wc -l <"$T/.err")" -eq 1 ] && pass "errors are one line" || fail "error has $(wc -l <"$T/.err") lines"

# Ranges on files and pipes, half-open [S, E).
export C4GH_PASSPHRASE=alice
while IFS=$'\t' read -r file key pass s e sum note; do
	case "$file" in "#"* | "") continue ;; esac
	a=$("$C4GH" decrypt --sk "$V/$key" --range "$s-$e" -i "$V/$file" | sha256sum | cut -d' ' -f1)
	b=$(cat "$V/$file" | "$C4GH" decrypt --sk "$V/$key" --range "$s-$e" | sha256sum | cut -d' ' -f1)
	[ "$a" = "$sum" ] && [ "$b" = "$sum" ] && pass "cli range $file [$s,$e) file+pipe" ||
		fail "cli range $file [$s,$e): file $a pipe $b"
done <"$V/RANGES.tsv"
for s in 0 1 65535 65536 65537 131072 200000 299999; do
	want=$(tail -c +$((s + 1)) "$V/rand300000" | sha256sum | cut -d' ' -f1)
	got=$(cat "$V/rand300000.multi.c4gh" | "$C4GH" decrypt --sk "$V/alice.sec" --range "$s" | sha256sum | cut -d' ' -f1)
	[ "$got" = "$want" ] && pass "--range $s (to the end) on a pipe" || fail "--range $s on a pipe"
done
# The reference's own rule, on request.
"$C4GH" encrypt --recipient_pk "$V/alice.pub" --compat-range --range 65535-131074 -i "$V/testfile.abcd" -o compat.c4gh
"$C4GH" decrypt --sk "$V/alice.sec" -i compat.c4gh -o compat.out
same "--compat-range 65535-131074 gives the reference's 65538 bytes" compat.out "$V/testfile.abbbc"
"$C4GH" encrypt --recipient_pk "$V/alice.pub" --range 65535-131073 -i "$V/testfile.abcd" -o half.c4gh
"$C4GH" decrypt --sk "$V/alice.sec" -i half.c4gh -o half.out
same "encrypt --range 65535-131073 (half-open) gives the same bytes" half.out "$V/testfile.abbbc"

# Every key kind as reader, and ssh/c4gh keys as writer; sender checks.
declare -A pass_of=([alice.sec]=alice [carol.scrypt.sec]=secret1 [dave.nocrypt.sec]= [erin.pbkdf2.sec]=erin [frank.ssh]=frank [gina.ssh]=)
declare -A pub_of=([alice.sec]=alice.pub [carol.scrypt.sec]=carol.pub [dave.nocrypt.sec]=dave.pub [erin.pbkdf2.sec]=erin.pub [frank.ssh]=frank.ssh.pub [gina.ssh]=gina.ssh.pub)
head -c 200000 "$V/rand300000" >sample
for sk in "${!pub_of[@]}"; do
	C4GH_PASSPHRASE=frank "$C4GH" encrypt --sk "$V/frank.ssh" --recipient_pk "$V/${pub_of[$sk]}" -i sample -o "kind.c4gh"
	C4GH_PASSPHRASE="${pass_of[$sk]}" "$C4GH" decrypt --sk "$V/$sk" --sender_pk "$V/frank.ssh.pub" -i kind.c4gh -o kind.out
	same "round trip to $sk, written with an ssh key, sender checked" kind.out sample
	rm -f kind.out
done
C4GH_PASSPHRASE=gina fails_with "--sender_pk mismatch: exit 3" 3 env C4GH_PASSPHRASE= "$C4GH" decrypt --sk "$V/gina.ssh" --sender_pk "$V/alice.pub" -i kind.c4gh

# Environment: C4GH_SECRET_KEY names the key; empty input is a header-only file.
C4GH_SECRET_KEY="$V/alice.sec" "$C4GH" decrypt <"$V/abcd.bob2alice.c4gh" >env.out
same "C4GH_SECRET_KEY selects the key" env.out "$V/testfile.abcd"
: | "$C4GH" encrypt --recipient_pk "$V/alice.pub" >empty.c4gh
[ "$(stat -c %s empty.c4gh)" -eq 124 ] && pass "empty input: a 124-byte header-only file" || fail "empty.c4gh is $(stat -c %s empty.c4gh) bytes"
[ "$("$C4GH" decrypt --sk "$V/alice.sec" <empty.c4gh | wc -c)" -eq 0 ] && pass "and it decrypts to nothing" || fail "empty decrypt"

# -o: mode 0600 for plaintext, atomic.
"$C4GH" decrypt --sk "$V/alice.sec" -i "$V/rand1.bob2alice.c4gh" -o mode.out
[ "$(stat -c %a mode.out)" = 600 ] && pass "decrypted -o file is mode 0600" || fail "mode $(stat -c %a mode.out)"

# Multi-recipient, --header split, reencrypt (header-only too), rearrange chains.
"$C4GH" encrypt --recipient_pk "$V/alice.pub" --recipient_pk "$V/carol.pub" --header hdr.bin -i sample -o body.bin
cat hdr.bin body.bin >joined.c4gh
"$C4GH" decrypt --sk "$V/alice.sec" -i joined.c4gh -o joined.out
same "--header: header + segments concatenated decrypt" joined.out sample
C4GH_PASSPHRASE=secret1 "$C4GH" decrypt --sk "$V/carol.scrypt.sec" -i joined.c4gh -o joined2.out
same "second recipient decrypts" joined2.out sample
"$C4GH" reencrypt --sk "$V/alice.sec" --recipient_pk "$V/dave.pub" --header-only -i hdr.bin -o hdr2.bin
cat hdr2.bin body.bin >joined3.c4gh
C4GH_PASSPHRASE= "$C4GH" decrypt --sk "$V/dave.nocrypt.sec" -i joined3.c4gh -o joined3.out
same "reencrypt --header-only for dave, then header + body" joined3.out sample
C4GH_PASSPHRASE=secret1 "$C4GH" decrypt --sk "$V/carol.scrypt.sec" -i joined3.c4gh -o joined4.out
same "without --trim carol's packet stays" joined4.out sample
"$C4GH" reencrypt --sk "$V/alice.sec" --recipient_pk "$V/dave.pub" --trim <joined.c4gh >trim.c4gh
C4GH_PASSPHRASE=secret1 fails_with "--trim drops carol's packet" 3 "$C4GH" decrypt --sk "$V/carol.scrypt.sec" -i trim.c4gh
for r in 0-10 65535-131073 70000-200000 199990; do
	cat "$V/abcd.bob2alice.c4gh" | "$C4GH" rearrange --sk "$V/alice.sec" --range "$r" >rearr.c4gh
	"$C4GH" reencrypt --sk "$V/alice.sec" --recipient_pk "$V/dave.pub" -i rearr.c4gh -o rearr2.c4gh
	C4GH_PASSPHRASE= "$C4GH" decrypt --sk "$V/dave.nocrypt.sec" -i rearr2.c4gh -o rearr.out
	"$C4GH" decrypt --sk "$V/alice.sec" --range "$r" -i "$V/abcd.bob2alice.c4gh" -o direct.out
	same "rearrange $r (pipe) + reencrypt = decrypt --range $r" rearr.out direct.out
done
