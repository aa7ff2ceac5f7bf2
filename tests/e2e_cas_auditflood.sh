#!/usr/bin/env bash
# Refusals an unauthenticated client can cause (bad, missing or unenrolled evidence) are not
# audited one by one but summed in an attestation.denied.unauthenticated entry; a refusal of
# evidence an enrolled LAS signed keeps its own attestation.denied entry; the chain verifies.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/cas_lib.sh"

if ! cas_have_ward || ! "$WARD" las --help >/dev/null 2>&1; then
	skip "ward cas or ward las is not built"
	exit 0
fi
unset WARD_CAS_ADDR WARD_CAS_CA WARD_LAS_ADDR WARD_CONFIG_ID
LAS_PIDS=()
start_las() { # SOCKET KEY
	WARD_LAS_KEY="$2" "$WARD" las --socket "$1" 2>>"$T/las.log" &
	LAS_PIDS+=($!)
	CAS_PIDS+=($!) # killed by cas_cleanup
	for _ in $(seq 100); do
		"$WARD" las query --socket "$1" >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	return 1
}
"$WARD" las init --key "$T/las.key" >"$T/las.init" 2>/dev/null || { fail "las init"; exit 1; }
"$WARD" las init --key "$T/las2.key" >/dev/null 2>&1 || { fail "las init (second)"; exit 1; }
PLATFORM=$(sed -n 's/^platform //p' "$T/las.init")
start_las "$T/las.sock" "$T/las.key" && start_las "$T/las2.sock" "$T/las2.key" &&
	pass "an enrolled and an unenrolled LAS are up" || { fail "LAS: $(cat "$T/las.log")"; exit 1; }

D="$T/cas"
start_cas "$D" --dev && pass "service starts" || { fail "start: $(cat "$D.err")"; exit 1; }
CA="$D/tls/server.crt"
ok "enroll the first LAS" "$WARD" cas platform add --data "$D" "$PLATFORM" --launcher "$("$WARD" measure --launcher)"
# The service accepts a measurement no program has: every real evidence is refused, after it verified.
M=1111111111111111111111111111111111111111111111111111111111111111
cat >"$T/flood.yml" <<EOF
name: flood
services:
  - name: svc
    command: ["/bin/true"]
    pwd: /
    attestation: {measurements: [$M]}
security: {attestation: {mode: host}}
EOF
code=$(curl -sS --cacert "$CA" --cert "$D/tls/client.crt" --key "$D/tls/client.key" -o "$T/resp" \
	-w '%{http_code}' --data-binary "@$T/flood.yml" "https://$OWNER/v1/sessions")
expect_status "host-mode session created" 201 "$code"

individual() { grep -c '"event":"attestation.denied",' "$D/audit.log"; }
lines0=$(wc -l <"$D/audit.log")
ind0=$(individual)

# ---- 200 zeroed evidences (the red-team reproduction) over one connection, 5 without evidence ----
ZERO=$(head -c 272 /dev/zero | base64 -w0)
printf '{"config_id":"flood/svc","pubkey":"%s","evidence":"%s"}' "$(printf '00%.0s' $(seq 32))" "$ZERO" >"$T/zero.json"
printf '{"config_id":"flood/svc","pubkey":"%s"}' "$(printf '00%.0s' $(seq 32))" >"$T/noev.json"
flood() { # BODY N: N POSTs on one connection; prints one status per line
	local args=() i
	for i in $(seq "$2"); do args+=(-o /dev/null "https://$WORKLOAD/v1/workload/config"); done
	curl -sS --cacert "$CA" -w '%{http_code}\n' --data-binary "@$1" "${args[@]}" 2>"$T/curl.err"
}
codes=$(flood "$T/zero.json" 200 | sort | uniq -c | awk '{print $2 "x" $1}' | tr '\n' ' ')
[ "$codes" = "403x200 " ] && pass "200 zeroed evidences: all refused (403)" || fail "statuses: $codes"
codes=$(flood "$T/noev.json" 5 | sort | uniq -c | awk '{print $2 "x" $1}' | tr '\n' ' ')
[ "$codes" = "403x5 " ] && pass "5 requests without evidence: all refused (403)" || fail "statuses: $codes"
run() { "$WARD" run --cas "$WORKLOAD" --cas-ca "$CA" "$@"; }
fails_with "evidence of an unenrolled LAS is refused" 9 run --las "$T/las2.sock" --config flood/svc
grep -q "not enrolled" "$T/.err" && pass "the client still learns why" || fail "message: $(cat "$T/.err")"
[ "$(individual)" = "$ind0" ] && pass "none of the 206 unauthenticated refusals has its own entry" ||
	fail "individual denials: $ind0 -> $(individual)"
lines1=$(wc -l <"$D/audit.log")
# At most one summary per 10 s while the service runs: a flood of 206 requests cannot add 206 lines.
[ $((lines1 - lines0)) -lt 206 ] && pass "the flood added $((lines1 - lines0)) lines, not one per request" ||
	fail "the flood added $((lines1 - lines0)) lines"

# ---- evidence an enrolled LAS signed: refused (wrong measurement) and logged on its own ---------
fails_with "verified evidence with a wrong measurement is refused" 9 run --las "$T/las.sock" --config flood/svc
grep -q "measurement" "$T/.err" && pass "the refusal names the measurement" || fail "message: $(cat "$T/.err")"
[ "$(individual)" = $((ind0 + 1)) ] && pass "that refusal has its own attestation.denied entry" ||
	fail "individual denials: $ind0 -> $(individual)"
grep '"event":"attestation.denied",' "$D/audit.log" | tail -1 | grep -q "\"platform\":\"$PLATFORM\"" &&
	pass "it names the LAS key that vouched for the evidence" || fail "$(grep attestation.denied "$D/audit.log" | tail -1)"

# ---- the summary, flushed at stop, accounts for every unauthenticated refusal -------------------
stop_cas && pass "service stops cleanly" || fail "exit status $?: $(tail -3 "$D.err")"
summaries() { grep '"event":"attestation.denied.unauthenticated"' "$D/audit.log"; }
sum() { summaries | grep -o "\"$1\":[0-9]*" | cut -d: -f2 | awk '{s += $1} END {print s + 0}'; }
[ "$(sum count)" = 206 ] && pass "the summaries count all 206 refusals" || fail "summed count: $(sum count)"
[ "$(sum "malformed evidence")" = 200 ] && [ "$(sum "no evidence")" = 5 ] &&
	[ "$(sum "evidence signed by a key that is not an enrolled LAS")" = 1 ] &&
	pass "per reason: 200 malformed, 5 without evidence, 1 unenrolled signer" || fail "$(summaries)"
summaries | grep -q "flood/svc" && fail "a summary carries request data" ||
	pass "summaries hold no request data (bounded size)"
ok "ward cas audit verify" "$WARD" cas audit verify --data "$D"
