#!/usr/bin/env bash
# crypt4gh-keygen end to end: every kdf, file modes, overwrite rules, --nocrypt, comments,
# defaults, --relock, and a round trip through `crypt4gh encrypt/decrypt` with the new keys.
source "$(dirname "$0")/lib.sh"
unset C4GH_PASSPHRASE C4GH_SECRET_KEY C4GH_PUBLIC_KEY
cd "$T" || exit 1
head -c 70000 /dev/urandom >plain

mode() { stat -c %a "$1"; }
label() { head -n 1 "$1"; }
# The decoded c4gh-v1 blob of a secret key file.
blob() { sed '1d;$d' "$1" | tr -d '\n' | base64 -d; }

# roundtrip NAME SK PK PASS: encrypt for PK, decrypt with SK (and PASS), compare.
roundtrip() {
	local name="$1" sk="$2" pk="$3" pass="$4"
	if ! "$C4GH" encrypt --recipient_pk "$pk" <plain >"$name.c4gh" 2>"$name.err"; then
		fail "$name: encrypt ($(head -c 200 "$name.err"))"
		return
	fi
	if C4GH_PASSPHRASE="$pass" "$C4GH" decrypt --sk "$sk" <"$name.c4gh" >"$name.out" 2>"$name.err"; then
		same "$name: decrypts with the new key" plain "$name.out"
	else
		fail "$name: decrypt ($(head -c 200 "$name.err"))"
	fi
}

c4gh_works=0
if "$C4GH" --help 2>&1 | grep -q decrypt; then c4gh_works=1; fi

# ---- every kdf, through C4GH_PASSPHRASE ----------------------------------------------------
for kdf in scrypt bcrypt pbkdf2_hmac_sha256; do
	args=(--kdf "$kdf")
	[ "$kdf" = bcrypt ] && args+=(--rounds 8)
	ok "keygen --kdf $kdf" env C4GH_PASSPHRASE="pw-$kdf" "$KEYGEN" --sk "$kdf.sec" --pk "$kdf.pub" "${args[@]}"
	[ "$(mode "$kdf.sec")" = 600 ] && pass "$kdf: secret key mode 0600" || fail "$kdf: secret key mode $(mode "$kdf.sec")"
	[ "$(mode "$kdf.pub")" = 644 ] && pass "$kdf: public key mode 0644" || fail "$kdf: public key mode $(mode "$kdf.pub")"
	[ "$(label "$kdf.sec")" = "-----BEGIN CRYPT4GH ENCRYPTED PRIVATE KEY-----" ] && pass "$kdf: encrypted armour" ||
		fail "$kdf: armour '$(label "$kdf.sec")'"
	[ "$(label "$kdf.pub")" = "-----BEGIN CRYPT4GH PUBLIC KEY-----" ] && pass "$kdf: public armour" ||
		fail "$kdf: public armour '$(label "$kdf.pub")'"
	blob "$kdf.sec" | grep -aq "$kdf" && pass "$kdf: kdf named in the key" || fail "$kdf: kdf not in the key"
	if [ $c4gh_works = 1 ]; then
		roundtrip "$kdf" "$kdf.sec" "$kdf.pub" "pw-$kdf"
		fails_with "$kdf: wrong passphrase exits 2" 2 env C4GH_PASSPHRASE=wrong "$C4GH" decrypt --sk "$kdf.sec" <"$kdf.c4gh"
	fi
done
blob bcrypt.sec | od -An -tx1 | tr -d ' \n' | grep -q '0006626372797074001400000008' &&
	pass "bcrypt: --rounds 8 stored" || fail "bcrypt: rounds not stored as 8"
ok "default kdf is scrypt" env C4GH_PASSPHRASE=x "$KEYGEN" --sk def.sec --pk def.pub
blob def.sec | grep -aq scrypt && pass "default key uses scrypt" || fail "default key does not use scrypt"

# ---- overwriting -----------------------------------------------------------------------------
before=$(cat scrypt.sec scrypt.pub | sha256sum)
fails_with "refuses to overwrite without -f" 9 env C4GH_PASSPHRASE=x "$KEYGEN" --sk scrypt.sec --pk scrypt.pub </dev/null
fails_with "refuses when only the secret key exists" 9 env C4GH_PASSPHRASE=x "$KEYGEN" --sk scrypt.sec --pk new.pub </dev/null
[ "$(cat scrypt.sec scrypt.pub | sha256sum)" = "$before" ] && pass "refused files unchanged" || fail "refused files changed"
[ ! -e new.pub ] && pass "nothing written when refusing" || fail "new.pub written although refused"
ok "-f overwrites" env C4GH_PASSPHRASE=x "$KEYGEN" -f --sk scrypt.sec --pk scrypt.pub </dev/null
[ "$(cat scrypt.sec scrypt.pub | sha256sum)" != "$before" ] && pass "-f wrote a new pair" || fail "-f left the old pair"
[ "$(mode scrypt.sec)" = 600 ] && pass "-f keeps mode 0600" || fail "-f: mode $(mode scrypt.sec)"
ls scrypt.sec.* scrypt.pub.* >/dev/null 2>&1 && fail "temporary files left behind" || pass "no temporary files left"

# ---- unencrypted keys --------------------------------------------------------------------------
"$KEYGEN" --nocrypt --sk plain.sec --pk plain.pub >out 2>err
rc=$?
[ $rc = 0 ] && pass "--nocrypt" || fail "--nocrypt exit $rc: $(cat err)"
grep -q "not encrypted" err && pass "--nocrypt warns" || fail "--nocrypt does not warn"
[ "$(label plain.sec)" = "-----BEGIN CRYPT4GH PRIVATE KEY-----" ] && pass "--nocrypt armour" || fail "--nocrypt armour '$(label plain.sec)'"
blob plain.sec | grep -aq none && pass "--nocrypt: kdf none" || fail "--nocrypt: kdf is not none"
[ "$(mode plain.sec)" = 600 ] && pass "--nocrypt: mode 0600" || fail "--nocrypt: mode $(mode plain.sec)"
C4GH_PASSPHRASE= "$KEYGEN" --sk empty.sec --pk empty.pub >out 2>err
grep -q "not encrypted" err && blob empty.sec | grep -aq none && pass "empty passphrase: unencrypted key, warned" ||
	fail "empty passphrase: $(cat err)"
[ $c4gh_works = 1 ] && roundtrip nocrypt plain.sec plain.pub ""

# ---- comments ------------------------------------------------------------------------------------
ok "-C comment" env C4GH_PASSPHRASE=x "$KEYGEN" -C "alice@example.org" --sk c.sec --pk c.pub
blob c.sec | grep -aq "alice@example.org" && pass "-C: comment stored" || fail "-C: comment missing"
grep -q "for alice@example.org" "$T/.out" && pass "-C: comment announced" || fail "-C: $(cat "$T/.out")"
ok "-C with --nocrypt" "$KEYGEN" --nocrypt -C "plain comment" --sk cn.sec --pk cn.pub
blob cn.sec | grep -aq "plain comment" && pass "-C --nocrypt: comment stored" || fail "-C --nocrypt: comment missing"

# ---- defaults: ~/.c4gh and the environment -------------------------------------------------------
mkdir home
ok "default paths" env HOME="$T/home" C4GH_PASSPHRASE=x "$KEYGEN"
[ -f home/.c4gh/key ] && [ -f home/.c4gh/key.pub ] && pass "~/.c4gh/key and key.pub" || fail "default files missing"
[ "$(mode home/.c4gh)" = 700 ] && pass "~/.c4gh created 0700" || fail "~/.c4gh mode $(mode home/.c4gh)"
ok "C4GH_SECRET_KEY / C4GH_PUBLIC_KEY defaults" env C4GH_SECRET_KEY=env.sec C4GH_PUBLIC_KEY=env.pub C4GH_PASSPHRASE=x "$KEYGEN"
[ -f env.sec ] && [ -f env.pub ] && pass "environment paths used" || fail "environment paths not used"
ok "ward keygen" env C4GH_PASSPHRASE=x "$WARD" keygen --sk w.sec --pk w.pub
[ -f w.sec ] && pass "ward keygen wrote the key" || fail "ward keygen: no key"

# ---- relock ----------------------------------------------------------------------------------------
cp bcrypt.pub relock.pub
cp bcrypt.sec relock.sec
ok "--relock to pbkdf2" env C4GH_PASSPHRASE=pw-bcrypt "$KEYGEN" --relock --sk relock.sec --kdf pbkdf2_hmac_sha256
blob relock.sec | grep -aq pbkdf2 && pass "--relock changed the kdf" || fail "--relock kept the kdf"
[ "$(mode relock.sec)" = 600 ] && pass "--relock: mode 0600" || fail "--relock: mode $(mode relock.sec)"
[ $c4gh_works = 1 ] && roundtrip relock relock.sec relock.pub pw-bcrypt
fails_with "--relock with a wrong passphrase" 2 env C4GH_PASSPHRASE=nope "$KEYGEN" --relock --sk relock.sec

# ---- errors --------------------------------------------------------------------------------------
fails_with "unknown option" 64 "$KEYGEN" --bogus
fails_with "--rounds with scrypt" 64 "$KEYGEN" --kdf scrypt --rounds 5 --sk x.sec --pk x.pub
fails_with "unknown kdf" 64 "$KEYGEN" --kdf argon2 --sk x.sec --pk x.pub
fails_with "--kdf with --nocrypt" 64 "$KEYGEN" --nocrypt --kdf bcrypt --sk x.sec --pk x.pub
fails_with "same path for both keys" 64 "$KEYGEN" --sk same --pk same
fails_with "missing directory" 8 env C4GH_PASSPHRASE=x "$KEYGEN" --sk nodir/k.sec --pk nodir/k.pub
if command -v setsid >/dev/null; then
	fails_with "no passphrase source" 1 setsid -w "$KEYGEN" --sk np.sec --pk np.pub </dev/null
	[ ! -e np.sec ] && pass "no key written without a passphrase" || fail "np.sec written"
fi
"$KEYGEN" --help >out 2>&1 && grep -q -- --nocrypt out && pass "--help" || fail "--help"
