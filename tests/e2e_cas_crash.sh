#!/usr/bin/env bash
# Crash safety: clients create and update sessions while the service is killed with SIGKILL,
# again and again. After restart and unseal every acknowledged change is there, and the audit
# chain verifies.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/cas_lib.sh"

cas_require_ward
make_cert alice || { fail "openssl"; exit 1; }
D="$T/cas"
mkdir -p "$D"
"$WARD" cas init --data "$D" --shares 2 --threshold 2 >"$T/shares" 2>/dev/null || { fail "init"; exit 1; }
CA="$D/tls/server.crt"
M=1111111111111111111111111111111111111111111111111111111111111111
ROUNDS=${CAS_CRASH_ROUNDS:-4}
CLIENTS=3

unseal() {
	"$WARD" cas unseal --data "$D" <"$T/shares" 2>>"$T/unseal.err"
}

# client K ROUND: creates session cK-rROUND, then updates it in a chain until the service dies.
# Writes "attempt NAME DIGEST" before each request and "ack NAME DIGEST" after a 2xx.
client() {
	local name="c$1-r$2" pred="" n=0 f="$T/c$1.yml" d out code got
	local log="$T/log.$1"
	while :; do
		n=$((n + 1))
		{
			echo "name: $name"
			[ -n "$pred" ] && echo "predecessor: \"$pred\""
			echo "secrets: [{name: K, kind: binary}, {name: X, kind: x25519, export_public: true}]"
			echo "services: [{name: s, command: \"prog $n\", attestation: {measurements: [$M]}}]"
		} >"$f"
		d=$("$WARD" session digest "$f") || break
		echo "attempt $name $d" >>"$log"
		out=$(curl -sS --cacert "$CA" --cert "$T/alice.crt" --key "$T/alice.key" \
			--data-binary "@$f" -w '\n%{http_code}' "https://$OWNER/v1/sessions" 2>/dev/null) || break
		code=${out##*$'\n'}
		[ "$code" = 200 ] || [ "$code" = 201 ] || break
		got=$(printf '%s' "$out" | head -1 | json_field digest)
		if [ "$got" != "$d" ]; then
			echo "mismatch $name $d $got" >>"$log"
			break
		fi
		echo "ack $name $d" >>"$log"
		pred=$d
	done
}

acks=0
for r in $(seq "$ROUNDS"); do
	start_cas "$D" || { fail "round $r: start: $(tail -3 "$D.err")"; break; }
	unseal || { fail "round $r: unseal: $(tail -2 "$T/unseal.err")"; break; }
	cpids=()
	for k in $(seq "$CLIENTS"); do
		client "$k" "$r" &
		cpids+=($!)
	done
	sleep "1.$((RANDOM % 9))"
	kill -9 "$CAS_PID"
	wait "$CAS_PID" 2>/dev/null
	for p in "${cpids[@]}"; do wait "$p"; done
done
cat "$T"/log.* >"$T/all.log"
acks=$(grep -c '^ack ' "$T/all.log")
[ "$acks" -gt $((ROUNDS * CLIENTS)) ] && pass "$ROUNDS kills under load, $acks acknowledged changes" ||
	fail "too few acknowledged changes ($acks)"
grep -q '^mismatch' "$T/all.log" && fail "a reply named another digest" || pass "every reply named the digest sent"

start_cas "$D" && unseal && pass "restart and unseal after the last kill" || { fail "restart"; exit 1; }
# For every session: the current digest is its last acknowledged one, or the one attempted
# right after it (committed, but the reply was lost to the kill).
lost=0 checked=0
for name in $(awk '{print $2}' "$T/all.log" | sort -u); do
	last_ack=$(awk -v n="$name" '$1 == "ack" && $2 == n {d = $3} END {print d}' "$T/all.log")
	next=$(awk -v n="$name" -v a="$last_ack" '$2 == n && $1 == "attempt" {if (seen || a == "") {print $3; exit}}
		$2 == n && $1 == "ack" && $3 == a {seen = 1}' "$T/all.log")
	code=$(api alice GET "/v1/sessions/$name")
	cur=$(json_field digest <"$T/resp")
	checked=$((checked + 1))
	if [ -n "$last_ack" ]; then
		[ "$code" = 200 ] && { [ "$cur" = "$last_ack" ] || [ "$cur" = "$next" ]; } || {
			lost=$((lost + 1))
			echo "lost: $name ack $last_ack next $next now $code $cur"
		}
	else
		[ "$code" = 404 ] || [ "$cur" = "$next" ] || {
			lost=$((lost + 1))
			echo "unexpected: $name $code $cur"
		}
	fi
done
[ $lost = 0 ] && pass "no acknowledged change lost ($checked sessions checked)" || fail "$lost sessions lost changes"
# A session whose secrets were generated before a kill still has the same public key.
name=$(awk '$1 == "ack" {print $2; exit}' "$T/all.log")
expect_status "exported key readable after the kills" 200 "$(api alice GET "/v1/sessions/$name/secrets/X/public")"
stop_cas && pass "clean stop after the crash rounds" || fail "stop: $(tail -3 "$D.err")"
ok "the audit chain verifies after $ROUNDS kills" "$WARD" cas audit verify --data "$D"
grep -q '"event":"session.update"' "$D/audit.log" && pass "updates are in the audit log" || fail "audit content"
