#!/usr/bin/env bash
# The genomics flow under the key service (issue 4, section 5), with examples/genomics-session.yml:
#   cat in.vcf | ward run --config S/encrypt | ward run --config S/process
# prints the IDs; a data provider encrypts with plain crypt4gh to the exported public key and
# only the attested process-provided decrypts; no key appears in any file, log, command line
# or API response.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/cas_lib.sh"

if ! cas_have_ward || ! "$WARD" run --help >/dev/null 2>&1 || ! "$WARD" vcf --help >/dev/null 2>&1; then
	skip "ward cas, ward run or ward vcf is not built"
	exit 0
fi
unset WARD_CAS_ADDR WARD_CAS_CA WARD_LAS_ADDR WARD_CONFIG_ID SENDER_KEY RECIPIENT_KEY
D="$T/cas"
start_cas "$D" --dev || { fail "CAS: $(cat "$D.err")"; exit 1; }
CA="$D/tls/server.crt"
export WARD_LAS_KEY="$T/las.key"
"$WARD" las init >"$T/las.init" 2>/dev/null || { fail "las init"; exit 1; }
"$WARD" las --socket "$T/las.sock" 2>"$T/las.log" &
CAS_PIDS+=($!)
for _ in $(seq 100); do
	"$WARD" las query --socket "$T/las.sock" >/dev/null 2>&1 && break
	sleep 0.05
done
ok "enrol the LAS and the launcher" "$WARD" cas platform add --data "$D" --label e2e \
	"$(sed -n 's/^platform //p' "$T/las.init")" --launcher "$("$WARD" measure --launcher)"

# The example session, made concrete; plus (for this test only) a service that shows the
# secrets, so the test knows what must never appear anywhere else.
S="genomics-e2e-$$"
sed -e "s|@NAME@|$S|" -e "s|@WARD@|$WARD|" -e "s|@MEASUREMENT@|$("$WARD" measure "$WARD")|" \
	"$(dirname "$0")/../examples/genomics-session.yml" >"$T/session.yml"
cat >>"$T/session.yml" <<EOF
  - name: reveal
    command: [/usr/bin/env]
    environment:
      S: "\$\$WARD::SENDER_KEY:hex\$\$"
      R: "\$\$WARD::RECIPIENT_KEY:hex\$\$"
      P: "\$\$WARD::PROVIDER_KEY:hex\$\$"
    attestation: {measurements: ["$("$WARD" measure /usr/bin/env)"]}
EOF
CLI=(--cas "https://$OWNER" --cacert "$CA" --cert "$D/tls/client.crt" --key "$D/tls/client.key")
"$WARD" session create "${CLI[@]}" "$T/session.yml" >"$T/digest" 2>"$T/create.err" &&
	pass "the genomics session is accepted" || { fail "create: $(cat "$T/create.err")"; exit 1; }

export WARD_CAS_ADDR="$WORKLOAD" WARD_CAS_CA="$CA" WARD_LAS_ADDR="$T/las.sock"
IN="$DATA/vcf/scone-example-input.vcf"
cat "$IN" | "$WARD" run --config "$S/encrypt" | "$WARD" run --config "$S/process" >"$T/ids" 2>"$T/run.err"
same "cat in.vcf | ward run S/encrypt | ward run S/process prints the IDs" "$T/ids" \
	"$DATA/vcf/expected/scone-example-input.first-id.txt"
"$WARD" run --config "$S/encrypt" <"$DATA/vcf/hts-specs-4.3-complexfile_passed_000.vcf" >"$T/big.c4gh" &&
	"$WARD" run --config "$S/process" <"$T/big.c4gh" >"$T/big.ids" 2>>"$T/run.err"
same "a two-segment VCF through the attested pair" "$T/big.ids" \
	"$DATA/vcf/expected/hts-specs-4.3-complexfile_passed_000.first-id.txt"
[ "$(head -c 8 "$T/big.c4gh")" = crypt4gh ] && pass "the intermediate is Crypt4GH" || fail "not crypt4gh"
fails_with "the encrypted file does not open with another key" 3 \
	env RECIPIENT_KEY="$(head -c 32 /dev/urandom | xxd -p -c 64)" "$WARD" vcf process "$T/big.c4gh"

# The better variant: the provider encrypts with plain crypt4gh to the exported key.
"$WARD" session public "${CLI[@]}" -o "$T/provider.pub" "$S" PROVIDER_KEY &&
	pass "the provider fetches the exported public key" || fail "public key"
"$C4GH" encrypt --recipient_pk "$T/provider.pub" <"$IN" >"$T/provided.c4gh" 2>"$T/c4gh.err" &&
	pass "plain crypt4gh encrypt to it" || fail "crypt4gh: $(cat "$T/c4gh.err")"
"$WARD" run --config "$S/process-provided" <"$T/provided.c4gh" >"$T/provided.ids" 2>>"$T/run.err"
same "only the attested process-provided decrypts it" "$T/provided.ids" \
	"$DATA/vcf/expected/scone-example-input.first-id.txt"
fails_with "process (other key) cannot" 3 "$WARD" run --config "$S/process" <"$T/provided.c4gh"

# The secrets: what the service would give a workload, and where they must not be.
"$WARD" run --config "$S/reveal" >"$T/reveal" 2>>"$T/run.err"
SK=$(sed -n 's/^S=//p' "$T/reveal")
RK=$(sed -n 's/^R=//p' "$T/reveal")
PK=$(sed -n 's/^P=//p' "$T/reveal")
[ ${#SK} = 64 ] && [ ${#RK} = 64 ] && [ ${#PK} = 64 ] && pass "keys are 64 hex digits" || fail "reveal: $(cat "$T/reveal")"
rm -f "$T/reveal"
leak=""
for k in "$SK" "$RK" "$PK"; do
	grep -rlaF "$k" "$T" "$D" 2>/dev/null | grep -v '/reveal$' >>"$T/leaks"
	ps -eo args | grep -F "$k" | grep -v grep >>"$T/leaks"
done
[ ! -s "$T/leaks" ] && pass "no key in any file, log or command line" || fail "keys found: $(head -3 "$T/leaks")"
cp "$D/tls/client.crt" "$T/owner.crt"
cp "$D/tls/client.key" "$T/owner.key"
expect_status "the API never returns the session, not even to its creator (read: [NONE])" 403 \
	"$(api owner GET "/v1/sessions/$S")"
grep -c '"event":"attestation.granted"' "$D/audit.log" | grep -q '^[5-9]' &&
	pass "every grant is in the audit log" || fail "grants: $(grep -c attestation.granted "$D/audit.log")"
stop_cas && pass "service stops" || fail "stop"
ok "audit chain verifies" "$WARD" cas audit verify --data "$D"

# --audit-sync-each: every grant waits for the disk; same results, same log.
n0=$(grep -c '"event":"attestation.granted"' "$D/audit.log")
start_cas "$D" --dev --audit-sync-each && pass "restart with --audit-sync-each" || fail "restart: $(cat "$D.err")"
export WARD_CAS_ADDR="$WORKLOAD"
"$WARD" run --config "$S/process-provided" <"$T/provided.c4gh" >"$T/provided2.ids" 2>>"$T/run.err"
same "an attestation under --audit-sync-each" "$T/provided2.ids" \
	"$DATA/vcf/expected/scone-example-input.first-id.txt"
[ "$(grep -c '"event":"attestation.granted"' "$D/audit.log")" = $((n0 + 1)) ] &&
	pass "its grant is in the log" || fail "grants after restart"
stop_cas && pass "service stops" || fail "stop"
ok "audit chain verifies" "$WARD" cas audit verify --data "$D"
