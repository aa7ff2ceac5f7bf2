#!/usr/bin/env bash
# A real (non-dev) key service: init with k-of-n shares, sealed start, unsealing over the
# admin socket, restarts, one service per directory, pinned audit key, nothing secret on disk.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/cas_lib.sh"

cas_require_ward
make_cert alice || { fail "openssl"; exit 1; }
D="$T/cas"
mkdir -m 755 -p "$D"
"$WARD" cas init --data "$D" --shares 3 --threshold 2 >"$T/shares" 2>"$T/init.err" &&
	pass "ward cas init" || { fail "init: $(cat "$T/init.err")"; exit 1; }
[ "$(stat -c %a "$D")" = 700 ] && grep -q "made private" "$T/init.err" &&
	pass "init makes an existing data directory private" || fail "mode $(stat -c %a "$D")"
chmod 750 "$D"
fails_with "serve refuses a data directory others can enter" 9 "$WARD" cas serve --data "$D" \
	--owner-listen 127.0.0.1:0 --workload-listen 127.0.0.1:0
grep -q "chmod 700" "$T/.err" && pass "and says how to fix it" || fail "$(cat "$T/.err")"
chmod 700 "$D"
[ "$(grep -c '^ward-share-1:' "$T/shares")" = 3 ] && pass "three shares on standard output" || fail "$(cat "$T/shares")"
AUDIT_KEY=$(sed -n 's/.*verify --key): \([0-9a-f]\{64\}\).*/\1/p' "$T/init.err")
[ ${#AUDIT_KEY} = 64 ] && pass "init prints the audit key to pin" || fail "$(cat "$T/init.err")"
fails_with "a second init refuses to replace the store" 9 "$WARD" cas init --data "$D"
CA="$D/tls/server.crt"

start_cas "$D" && pass "service starts sealed" || { fail "start: $(cat "$D.err")"; exit 1; }
grep -q SEALED "$D.out" && pass "it says it is sealed" || fail "$(cat "$D.out")"
expect_status "status works while sealed" 200 "$(api alice GET /v1/status)"
grep -q '"sealed":true' "$T/resp" && pass "status: sealed" || fail "$(cat "$T/resp")"
printf 'name: s\nsecrets: [{name: P, kind: ascii, value: "stolen-disk-canary-4242"}]\n' >"$T/s.yml"
expect_status "sealed: create refused (503)" 503 "$(api alice POST /v1/sessions "$T/s.yml")"
expect_status "sealed: workload nonce refused (503)" 503 "$(wl GET /v1/workload/nonce)"
fails_with "sealed: ward session create exits 12" 12 "$WARD" session create --cas "https://$OWNER" \
	--cacert "$CA" --cert "$T/alice.crt" --key "$T/alice.key" "$T/s.yml"
fails_with "a second service on the same directory is refused" 9 "$WARD" cas serve --data "$D" \
	--owner-listen 127.0.0.1:0 --workload-listen 127.0.0.1:0

# A share of another store, a mistyped share, then the right ones.
mkdir -p "$T/other"
"$WARD" cas init --data "$T/other" --shares 2 --threshold 2 >"$T/other.shares" 2>/dev/null
head -1 "$T/other.shares" | "$WARD" cas unseal --data "$D" 2>"$T/u.err"
[ $? -ne 0 ] && grep -q "another key-service store" "$T/u.err" && pass "a share of another store is refused" ||
	fail "foreign share: $(cat "$T/u.err")"
sed -n 1p "$T/shares" | sed 's/:\([0-9a-f]\)\([0-9a-f]*\):\([0-9a-f]\{8\}\)$/:\2\1:\3/' >"$T/typo"
"$WARD" cas unseal --data "$D" <"$T/typo" 2>"$T/u.err"
[ $? -ne 0 ] && grep -q "check digits" "$T/u.err" && pass "a mistyped share is caught by its check digits" ||
	fail "typo: $(cat "$T/u.err")"
sed -n 1p "$T/shares" | "$WARD" cas unseal --data "$D" 2>"$T/u.err" &&
	grep -q "still sealed (1 of 2" "$T/u.err" && pass "one share: still sealed, 1 of 2" || fail "$(cat "$T/u.err")"
expect_status "still sealed after one share" 503 "$(api alice POST /v1/sessions "$T/s.yml")"
sed -n 2p "$T/shares" | "$WARD" cas unseal --data "$D" 2>"$T/u.err" &&
	grep -q UNSEALED "$T/u.err" && pass "second share: unsealed" || fail "$(cat "$T/u.err")"
expect_status "unsealed: create works" 201 "$(api alice POST /v1/sessions "$T/s.yml")"
DIG=$(json_field digest <"$T/resp")
stop_cas && pass "clean stop" || fail "stop: $(tail -3 "$D.err")"

start_cas "$D" && pass "restart: sealed again" || fail "restart"
expect_status "restart: sealed" 503 "$(api alice GET /v1/sessions/s)"
sed -n '2,3p' "$T/shares" | "$WARD" cas unseal --data "$D" 2>"$T/u.err" &&
	pass "another pair of shares unseals it" || fail "$(cat "$T/u.err")"
expect_status "the session survived" 200 "$(api alice GET /v1/sessions/s)"
grep -q "\"digest\":\"$DIG\"" "$T/resp" && pass "same digest" || fail "$(cat "$T/resp")"
ok "ward cas status" "$WARD" cas status --data "$D"
grep -q '"sealed":false' "$T/.out" && pass "status over the admin socket" || fail "$(cat "$T/.out")"
stop_cas

# Nothing secret on disk: the explicit value, the session text and the KEK shares.
leak=0
for f in "$D"/cas.db* "$D/audit.log"; do
	grep -aq "stolen-disk-canary-4242" "$f" && leak=1
	grep -aq "access_policy" "$f" && leak=1
	while read -r share; do
		y=$(echo "$share" | cut -d: -f5)
		grep -aq "$y" "$f" && leak=1
	done <"$T/shares"
done
[ $leak = 0 ] && pass "no secret value, session text or share in the store's files" || fail "secret found on disk"
ok "audit verify with the pinned key" "$WARD" cas audit verify --data "$D" --key "$AUDIT_KEY"
fails_with "audit verify with another key fails" 6 "$WARD" cas audit verify --data "$D" --key "$(printf '0%.0s' $(seq 64))"
grep -q '"event":"cas.unseal"' "$D/audit.log" && pass "unseals are audited" || fail "no unseal entry"
fails_with "--dev refuses a real store" 9 "$WARD" cas serve --dev --data "$D" \
	--owner-listen 127.0.0.1:0 --workload-listen 127.0.0.1:0
