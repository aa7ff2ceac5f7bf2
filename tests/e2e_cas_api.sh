#!/usr/bin/env bash
# The key service's owner API against a real `ward cas serve --dev` on loopback: client
# certificates, ownership and policies, predecessors, public keys, malformed input, the CLI.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/cas_lib.sh"

cas_require_ward
make_cert alice && make_cert bob && make_cert carol rsa || { fail "openssl cannot make certificates"; exit 1; }
D="$T/cas"
start_cas "$D" --dev && pass "service starts in dev mode" || { fail "start: $(cat "$D.err")"; exit 1; }
CA="$D/tls/server.crt"
grep -q "DEV MODE" "$D.err" && pass "dev mode prints its warning banner" || fail "no banner"

# ---- client certificates --------------------------------------------------------------------
code=$(api none GET /v1/status)
[ "$code" = 000 ] && pass "no client certificate: TLS handshake refused" || fail "no cert got HTTP $code"
code=$(curl -sS --cacert "$CA" --cert "$T/alice.crt" --key "$T/bob.key" -o /dev/null -w '%{http_code}' \
	"https://$OWNER/v1/status" 2>/dev/null)
[ "$code" = 000 ] && pass "certificate without its private key: refused" || fail "mismatched key got HTTP $code"
code=$(curl -sS --cacert "$CA" --tls-max 1.2 --cert "$T/alice.crt" --key "$T/alice.key" -o /dev/null \
	-w '%{http_code}' "https://$OWNER/v1/status" 2>/dev/null)
[ "$code" = 000 ] && pass "TLS 1.2 refused (TLS 1.3 only)" || fail "TLS 1.2 got HTTP $code"
expect_status "status with a client certificate" 200 "$(api alice GET /v1/status)"
[ "$(json_field client <"$T/resp")" = "$(cert_hash alice)" ] &&
	pass "the service names the client by the SHA-256 of its public key" || fail "client hash: $(cat "$T/resp")"
expect_status "RSA client certificates work too" 200 "$(api carol GET /v1/status)"

# ---- create, read, update ---------------------------------------------------------------------
M=1111111111111111111111111111111111111111111111111111111111111111
cat >"$T/s1.yml" <<EOF
name: app
secrets:
  - {name: GEN, kind: binary, size: 32}
  - {name: RK, kind: x25519, export_public: true}
  - {name: HK, kind: x25519}
  - {name: PW, kind: ascii, value: "explicit-pw-7788"}
services:
  - name: svc
    command: prog --key \$\$WARD::GEN:hex\$\$
    environment: {PW: "\$\$WARD::PW\$\$"}
    attestation: {measurements: [$M]}
EOF
code=$(api alice POST /v1/sessions "$T/s1.yml")
expect_status "alice creates a session (201)" 201 "$code"
D1=$(json_field digest <"$T/resp")
grep -q '"warnings":\[ *"service '"'"'svc'"'"' passes a secret in its command arguments' "$T/resp" &&
	pass "a secret in command arguments is warned about (ps shows arguments)" || fail "no warning: $(cat "$T/resp")"
printf 'name: nowarn\nsecrets: [{name: K, kind: x25519}]\nservices: [{name: s, command: "p $$WARD::K:public:hex$$", environment: {K: "$$WARD::K:hex$$"}, attestation: {measurements: [%s]}}]\n' "$M" >"$T/nowarn.yml"
expect_status "a public half in arguments, the secret in the environment" 201 "$(api alice POST /v1/sessions "$T/nowarn.yml")"
grep -q warnings "$T/resp" && fail "warned: $(cat "$T/resp")" || pass "no warning for a public half in arguments"
[ "$D1" = "$("$WARD" session digest "$T/s1.yml")" ] && pass "digest = local canonical digest" ||
	fail "digest $D1 vs $("$WARD" session digest "$T/s1.yml")"
expect_status "creating it again without predecessor: 409" 409 "$(api alice POST /v1/sessions "$T/s1.yml")"
expect_status "bob cannot read alice's session" 403 "$(api bob GET /v1/sessions/app)"
make_cert_dated expired 20200101000000Z 20200102000000Z && make_cert_dated future 20900101000000Z 20900102000000Z ||
	fail "cannot make dated certificates"
expect_status "an expired client certificate: 401" 401 "$(api expired GET /v1/sessions)"
grep -q "expired or is not yet valid" "$T/resp" && pass "says the certificate expired" || fail "$(cat "$T/resp")"
expect_status "a client certificate not valid yet: 401" 401 "$(api future GET /v1/sessions)"
expect_status "alice reads it" 200 "$(api alice GET /v1/sessions/app)"
grep -q "explicit-pw-7788" "$T/resp" && pass "read returns the owner's explicit value" || fail "explicit value missing"
grep -q "\"digest\":\"$D1\"" "$T/resp" && pass "read returns the digest" || fail "digest missing"
grep -q '"value"' "$T/resp" && [ "$(grep -o '"value"' "$T/resp" | wc -l)" = 1 ] &&
	pass "only the explicit secret has a value in the read" || fail "values: $(cat "$T/resp")"

{ cat "$T/s1.yml"; echo "predecessor: \"$D1\""; } >"$T/s2.yml"
sed -i 's/prog --key/prog2 --key/' "$T/s2.yml"
expect_status "bob cannot update alice's session" 403 "$(api bob POST /v1/sessions "$T/s2.yml")"
{ cat "$T/s1.yml"; echo "predecessor: \"$(printf 'ab%.0s' $(seq 32))\""; } >"$T/stale.yml"
expect_status "stale predecessor: 409" 409 "$(api alice POST /v1/sessions "$T/stale.yml")"
expect_status "update without predecessor: 409" 409 "$(api alice PUT /v1/sessions/app "$T/s1.yml")"
expect_status "PUT to another name: 400" 400 "$(api alice PUT /v1/sessions/other "$T/s2.yml")"
expect_status "alice updates with the current digest" 200 "$(api alice PUT /v1/sessions/app "$T/s2.yml")"
D2=$(json_field digest <"$T/resp")
expect_status "the old digest is stale now" 409 "$(api alice POST /v1/sessions "$T/s2.yml")"
expect_status "history" 200 "$(api alice GET /v1/sessions/app/history)"
grep -q "\"predecessor\":\"$D1\"" "$T/resp" && grep -q "\"digest\":\"$D2\"" "$T/resp" &&
	pass "history chains the digests" || fail "history: $(cat "$T/resp")"

# ---- exported public keys -------------------------------------------------------------------
expect_status "public half of an exported x25519 secret (any client)" 200 \
	"$(api bob GET "/v1/sessions/app/secrets/RK/public?format=crypt4gh")"
head -1 "$T/resp" | grep -q "BEGIN CRYPT4GH PUBLIC KEY" && pass "Crypt4GH public key file" || fail "$(cat "$T/resp")"
cp "$T/resp" "$T/rk.pub"
# Not exported, no public half, no such secret: one answer, so no client learns secret names.
expect_status "not exported: 404" 404 "$(api bob GET /v1/sessions/app/secrets/HK/public)"
cp "$T/resp" "$T/hk.resp"
expect_status "binary secret has no public half: 404" 404 "$(api bob GET /v1/sessions/app/secrets/GEN/public)"
expect_status "unknown secret: 404" 404 "$(api bob GET /v1/sessions/app/secrets/NOPE/public)"
[ "$(sed 's/NOPE/HK/' "$T/resp")" = "$(cat "$T/hk.resp")" ] &&
	pass "an unexported and a missing secret get the same answer" || fail "$(cat "$T/hk.resp") vs $(cat "$T/resp")"
"$WARD" session public --cas "https://$OWNER" --cacert "$CA" --cert "$T/bob.crt" --key "$T/bob.key" \
	-o "$T/rk2.pub" app RK && same "ward session public writes the same key file" "$T/rk.pub" "$T/rk2.pub"
if [ -x "$C4GH" ]; then
	echo "for the attested workload only" >"$T/msg"
	"$C4GH" encrypt --recipient_pk "$T/rk.pub" <"$T/msg" >"$T/msg.c4gh" 2>"$T/c4gh.err" &&
		pass "crypt4gh encrypts to the exported key" || fail "crypt4gh: $(cat "$T/c4gh.err")"
fi

# ---- policies and namespaces ----------------------------------------------------------------
BH=$(cert_hash bob)
cat >"$T/shared.yml" <<EOF
name: shared
access_policy: {read: [CREATOR, "$BH"], update: [CREATOR]}
EOF
expect_status "alice creates a session bob may read" 201 "$(api alice POST /v1/sessions "$T/shared.yml")"
expect_status "bob reads it by key hash" 200 "$(api bob GET /v1/sessions/shared)"
expect_status "carol may not" 403 "$(api carol GET /v1/sessions/shared)"
printf 'name: app/child\n' >"$T/child.yml"
expect_status "bob cannot create inside alice's namespace" 403 "$(api bob POST /v1/sessions "$T/child.yml")"
expect_status "alice can" 201 "$(api alice POST /v1/sessions "$T/child.yml")"
printf 'name: ns\n' >"$T/ns.yml"
printf 'name: ns/kid\n' >"$T/nskid.yml"
expect_status "a namespace and a session in it" 201 "$(api alice POST /v1/sessions "$T/ns.yml")"
expect_status "and a session in it" 201 "$(api alice POST /v1/sessions "$T/nskid.yml")"
expect_status "a session with sessions under it cannot be deleted: 409" 409 "$(api alice DELETE /v1/sessions/ns)"
grep -q "delete them first" "$T/resp" && pass "says to delete the children first" || fail "$(cat "$T/resp")"
expect_status "so bob cannot take the namespace by re-creating it" 403 "$(api bob POST /v1/sessions "$T/ns.yml")"
expect_status "the child first" 200 "$(api alice DELETE /v1/sessions/ns/kid)"
expect_status "then the parent" 200 "$(api alice DELETE /v1/sessions/ns)"
printf 'name: frozen\naccess_policy: {read: [NONE], update: [NONE]}\n' >"$T/frozen.yml"
expect_status "an immutable, unreadable session" 201 "$(api alice POST /v1/sessions "$T/frozen.yml")"
expect_status "read: [NONE] refuses the creator" 403 "$(api alice GET /v1/sessions/frozen)"
expect_status "update: [NONE] refuses deletion" 403 "$(api alice DELETE /v1/sessions/frozen)"
printf 'name: m\nsecurity: {attestation: {mode: none}}\nservices: [{name: s, command: x}]\n' >"$T/none.yml"
expect_status "mode none refused without --insecure-allow-mode-none" 403 "$(api alice POST /v1/sessions "$T/none.yml")"
printf 'name: g\nsecurity: {attestation: {mode: sgx}}\n' >"$T/sgx.yml"
expect_status "mode sgx refused: not available yet" 400 "$(api alice POST /v1/sessions "$T/sgx.yml")"
grep -q "not available yet" "$T/resp" && pass "the sgx refusal says why" || fail "$(cat "$T/resp")"

# ---- malformed input: 4xx, and the service stays up -----------------------------------------
printf 'name: [unclosed\n' >"$T/bad.yml"
expect_status "malformed YAML: 400" 400 "$(api alice POST /v1/sessions "$T/bad.yml")"
grep -q '"error":"line' "$T/resp" && pass "the error names the line" || fail "$(cat "$T/resp")"
printf '{"name": "x", "services": [' >"$T/bad.json"
expect_status "malformed JSON: 400" 400 "$(api alice POST /v1/sessions "$T/bad.json")"
printf 'name: x\nvolumes: []\n' >"$T/unknown.yml"
expect_status "unknown key: 400" 400 "$(api alice POST /v1/sessions "$T/unknown.yml")"
printf 'a: &a [x]\nb: *a\n' >"$T/alias.yml"
expect_status "YAML alias: 400" 400 "$(api alice POST /v1/sessions "$T/alias.yml")"
head -c 2000000 /dev/zero | tr '\0' 'a' >"$T/huge"
expect_status "2 MB body: 413" 413 "$(api alice POST /v1/sessions "$T/huge")"
expect_status "unknown endpoint: 404" 404 "$(api alice GET /v1/nothing)"
expect_status "wrong method: 405" 405 "$(api alice PATCH /v1/sessions)"
# raw REQUEST: sends bytes over TLS with alice's certificate; the reply is in $T/raw.out.
raw() {
	(printf "$1"; sleep 1) | timeout 5 openssl s_client -quiet -connect "$OWNER" -cert "$T/alice.crt" \
		-key "$T/alice.key" -CAfile "$CA" >"$T/raw.out" 2>/dev/null
}
raw 'GET /v1/status HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n'
grep -q "HTTP/1.1 400" "$T/raw.out" && pass "malformed Content-Length: 400" || fail "raw: $(head -c 200 "$T/raw.out")"
raw 'POST /v1/sessions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n'
grep -q "HTTP/1.1 400" "$T/raw.out" && pass "malformed chunked body: 400" || fail "raw: $(head -c 200 "$T/raw.out")"
raw 'GARBAGE\r\n\r\n'
grep -q "HTTP/1.1 2" "$T/raw.out" && fail "a garbage request line got a 2xx" || pass "a garbage request line gets no 2xx"
# Plain HTTP on the TLS port (in a subshell: the server's close may raise SIGPIPE).
(exec 3<>"/dev/tcp/${OWNER%:*}/${OWNER#*:}" && printf 'GET / HTTP/1.1\r\nHost: x\r\n\r\n' >&3 &&
	timeout 3 cat <&3) >"$T/plain.out" 2>/dev/null
grep -q "HTTP/1.1 2" "$T/plain.out" && fail "plain HTTP got a 2xx" || pass "plain HTTP on the TLS port gets nothing"
printf '{"config_id": 5' >"$T/badwl.json"
expect_status "malformed workload JSON: 400" 400 "$(wl POST /v1/workload/config "$T/badwl.json")"
printf '{"config_id":"app/svc","pubkey":"00"}' >"$T/badpk.json"
expect_status "bad workload key: 400" 400 "$(wl POST /v1/workload/config "$T/badpk.json")"
expect_status "workload: unknown session 404" 404 "$(wl GET '/v1/workload/program?config_id=nope/svc')"
expect_status "workload: program of a service" 200 "$(wl GET '/v1/workload/program?config_id=app/svc')"
grep -q '"program":"prog2"' "$T/resp" && pass "program is command[0]" || fail "$(cat "$T/resp")"
expect_status "the service is still up after all that" 200 "$(api alice GET /v1/status)"

# ---- the CLI: exit codes ----------------------------------------------------------------------
S=(--cas "https://$OWNER" --cacert "$CA" --cert "$T/alice.crt" --key "$T/alice.key")
SB=(--cas "https://$OWNER" --cacert "$CA" --cert "$T/bob.crt" --key "$T/bob.key")
sed 's/name: app/name: cli/' "$T/s1.yml" >"$T/cli.yml"
"$WARD" session create "${S[@]}" "$T/cli.yml" >"$T/cli.d" 2>"$T/cli.err" && pass "ward session create" || fail "create"
grep -q "cli.yml: warning: service 'svc' passes a secret in its command arguments" "$T/cli.err" &&
	pass "ward session create prints the service's warning" || fail "warning: $(cat "$T/cli.err")"
fails_with "ward session create again: 11 (conflict)" 11 "$WARD" session create "${S[@]}" "$T/cli.yml"
fails_with "ward session update by bob: 9 (denied)" 9 "$WARD" session update "${SB[@]}" --predecessor "$(cat "$T/cli.d")" "$T/cli.yml"
ok "ward session update --predecessor" "$WARD" session update "${S[@]}" --predecessor "$(cat "$T/cli.d")" "$T/cli.yml"
fails_with "ward session update with a stale digest: 11" 11 "$WARD" session update "${S[@]}" --predecessor "$(cat "$T/cli.d")" "$T/cli.yml"
ok "ward session get" "$WARD" session get "${S[@]}" cli
fails_with "ward session get of a missing session: 10" 10 "$WARD" session get "${S[@]}" nothing
fails_with "ward session without the right CA: 8" 8 "$WARD" session get --cas "https://$OWNER" --cert "$T/alice.crt" --key "$T/alice.key" cli
fails_with "ward session delete by bob: 9" 9 "$WARD" session delete "${SB[@]}" cli
ok "ward session delete" "$WARD" session delete "${S[@]}" cli
fails_with "deleted: 10" 10 "$WARD" session get "${S[@]}" cli
fails_with "ward session create of a malformed file: exit 5, nothing sent" 5 "$WARD" session create "${S[@]}" "$T/bad.yml"

# ---- secrets stay out of logs; the audit chain verifies ----------------------------------------
grep -q "explicit-pw-7788" "$D/audit.log" "$D.out" "$D.err" && fail "an explicit secret is in a log" ||
	pass "no secret value in the audit log or the service's output"
grep -q '"event":"session.update","session":"app"' "$D/audit.log" && grep -q '"result":"denied"' "$D/audit.log" &&
	pass "changes and refusals are audited" || fail "audit content"
stop_cas && pass "service stops cleanly on SIGTERM" || fail "service exit status $?: $(tail -3 "$D.err")"
ok "ward cas audit verify" "$WARD" cas audit verify --data "$D"
cp "$D/audit.log" "$T/audit.saved"
sed -i '5s/"event":"/"event":"X/' "$D/audit.log"
fails_with "an altered audit entry is detected (exit 6)" 6 "$WARD" cas audit verify --data "$D"
cp "$T/audit.saved" "$D/audit.log"
head -n -2 "$T/audit.saved" >"$D/audit.log"
fails_with "a truncated audit log is detected" 6 "$WARD" cas audit verify --data "$D"
grep -q "truncated" "$T/.err" && pass "the report says truncated" || fail "$(cat "$T/.err")"
cp "$T/audit.saved" "$D/audit.log"
ok "restored log verifies" "$WARD" cas audit verify --data "$D"
start_cas "$D" --dev && pass "restart" || fail "restart: $(cat "$D.err")"
expect_status "sessions survive a restart" 200 "$(api alice GET /v1/sessions/app)"
grep -q "\"digest\":\"$D2\"" "$T/resp" && pass "with the latest digest" || fail "digest after restart"
stop_cas

# ---- a rollback of the log and the database together: only a witness kept elsewhere sees it ----
ok "verify prints a witness" "$WARD" cas audit verify --data "$D"
W1=$(sed -n 's/^witness: //p' "$T/.out")
[[ "$W1" =~ ^[0-9]+:[0-9a-f]{64}$ ]] && pass "witness is SEQ:HASH" || fail "witness: '$W1'"
mkdir -p "$T/snap" && cp -a "$D/." "$T/snap/"
start_cas "$D" --dev && pass "restart for a change" || fail "restart: $(cat "$D.err")"
sed 's/name: app/name: later/' "$T/s1.yml" >"$T/later.yml"
expect_status "a change after the snapshot" 201 "$(api alice POST /v1/sessions "$T/later.yml")"
stop_cas
ok "verify with the old witness" "$WARD" cas audit verify --data "$D" --witness "$W1"
W2=$(sed -n 's/^witness: //p' "$T/.out")
rm -rf "${D:?}"/* && cp -a "$T/snap/." "$D/"
ok "after restoring log and database together, plain verify still passes (the limit)" \
	"$WARD" cas audit verify --data "$D"
fails_with "the newer witness catches the joint rollback (exit 6)" 6 "$WARD" cas audit verify --data "$D" --witness "$W2"
grep -q "rolled back" "$T/.err" && pass "the report says rolled back" || fail "$(cat "$T/.err")"
fails_with "a witness of another history (same seq, other hash) is refused" 6 "$WARD" cas audit verify \
	--data "$D" --witness "${W1%%:*}:$(printf 'ab%.0s' $(seq 32))"
fails_with "a malformed witness is a usage error" 64 "$WARD" cas audit verify --data "$D" --witness 12:xyz
