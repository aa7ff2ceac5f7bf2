#!/usr/bin/env bash
# ward run against a real `ward cas serve --dev` and `ward las` on loopback: the granted
# environment, argv, pwd and in-memory injection files reach the workload; refusals for a
# binary that differs by one byte, replayed evidence, an unenrolled LAS, a disallowed uid,
# extra arguments, sgx sessions; no secret in any file or log; /proc/PID/environ of the
# workload unreadable by another user.
. "$(dirname "$0")/lib.sh"

if ! "$WARD" run --help >/dev/null 2>&1 || ! "$WARD" cas --help >/dev/null 2>&1; then
	skip "ward run or ward cas is not built"
	exit 0
fi
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3 || true)
chmod 755 "$T" # other uids below must reach the sockets and files in here
unset WARD_CAS_ADDR WARD_CAS_CA WARD_LAS_ADDR WARD_CONFIG_ID
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; }
trap cleanup EXIT

# ---- services ------------------------------------------------------------------------------
export WARD_LAS_KEY="$T/las.key"
"$WARD" las init >"$T/las.init" 2>/dev/null || { fail "las init"; exit 1; }
PLATFORM=$(sed -n 's/^platform //p' "$T/las.init")
LAUNCHER=$("$WARD" measure --launcher)
start_las() { # SOCKET KEY
	WARD_LAS_KEY="$2" "$WARD" las --socket "$1" 2>>"$T/las.log" &
	PIDS+=($!)
	for _ in $(seq 100); do
		"$WARD" las query --socket "$1" >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	return 1
}
start_las "$T/las.sock" "$T/las.key" && pass "LAS up" || { fail "LAS: $(cat "$T/las.log")"; exit 1; }

CAS_DATA="$T/cas"
"$WARD" cas serve --dev --data "$CAS_DATA" --owner-listen 127.0.0.1:0 --workload-listen 127.0.0.1:0 \
	--port-file "$T/ports" >"$T/cas.out" 2>"$T/cas.log" &
PIDS+=($!)
for _ in $(seq 200); do [ -s "$T/ports" ] && break; sleep 0.05; done
OWNER_PORT=$(sed -n 's/^owner //p' "$T/ports")
WL_PORT=$(sed -n 's/^workload //p' "$T/ports")
[ -n "$WL_PORT" ] && pass "CAS up (workload port $WL_PORT)" || { fail "CAS: $(tail -5 "$T/cas.log")"; exit 1; }
CA="$CAS_DATA/tls/server.crt"
CAS="127.0.0.1:$WL_PORT"
ok "enroll the LAS with the launcher measurement" \
	"$WARD" cas platform add --data "$CAS_DATA" "$PLATFORM" --launcher "$LAUNCHER"

# ---- workloads: /bin/sh copies, one differing by one byte ------------------------------------
mkdir -p "$T/bin" "$T/work"
cp /bin/sh "$T/bin/wsh"
cp /bin/sh "$T/bin/wsh2"
printf '\x01' | dd of="$T/bin/wsh2" bs=1 seek=$(($(stat -c %s "$T/bin/wsh2") - 1)) conv=notrunc 2>/dev/null
chmod 755 "$T/bin/wsh" "$T/bin/wsh2"
M=$("$WARD" measure "$T/bin/wsh")
[ "$M" != "$("$WARD" measure "$T/bin/wsh2")" ] && pass "one changed byte changes the measurement" ||
	fail "measurements equal"
SNAME="attest-e2e-$$"
EXPL="explicit-ascii-$RANDOM$RANDOM"
# The session goes to the CAS on a pipe, never into a file: it holds the explicit secret.
session() {
	cat <<EOF
name: $SNAME
version: "0.3"
secrets:
  - {name: GEN, kind: binary, size: 32}
  - {name: EXPL, kind: ascii, value: "$EXPL"}
services:
  - name: show
    command: ["$T/bin/wsh", "-c", 'echo "gen=\$GEN"; echo "expl=\$EXPL"; echo "pwd=\$(pwd)"; echo "conf=\$(cat "\$CONF")"; echo "arg=\$1"; echo "argconf=\$(cat "\${1#--conf=}")"; echo "vars=\$(env | cut -d= -f1 | sort | tr "\\n" " ")"; echo "stdin=\$(readlink /proc/self/fd/0)"', "wsh", "--conf=/etc/ward-e2e.conf"]
    environment: {GEN: "\$\$WARD::GEN:hex\$\$", EXPL: "\$\$WARD::EXPL\$\$", CONF: /etc/ward-e2e.conf}
    pwd: $T/work
    injection_files: {/etc/ward-e2e.conf: "injected-content-42"}
    attestation: {measurements: [$M]}
  - name: args
    command: ["$T/bin/wsh", "-c", 'echo "args=\$*"', "wsh"]
    pwd: /
    allow_extra_args: true
    attestation: {measurements: [$M]}
  - name: sleeper
    command: ["$T/bin/wsh", "-c", "read x; echo done"]
    environment: {GEN: "\$\$WARD::GEN:hex\$\$"}
    pwd: /
    attestation: {measurements: [$M]}
  - name: only12345
    command: ["$T/bin/wsh", "-c", "echo uid-ok"]
    pwd: /
    attestation: {measurements: [$M], uids: [12345]}
  - name: modified
    command: ["$T/bin/wsh2", "-c", "echo should-not-run"]
    pwd: /
    attestation: {measurements: [$M]}
security: {attestation: {mode: host}}
EOF
}
post_session() { # stdin: YAML
	curl -sS --cacert "$CA" --cert "$CAS_DATA/tls/client.crt" --key "$CAS_DATA/tls/client.key" \
		-o "$T/post.out" -w '%{http_code}' --data-binary @- -H 'Content-Type: application/yaml' \
		"https://127.0.0.1:$OWNER_PORT/v1/sessions"
}
code=$(session | post_session)
[ "$code" = 200 ] || [ "$code" = 201 ] && pass "session created" || { fail "session create: $code $(cat "$T/post.out")"; exit 1; }
# An sgx session may be refused when created or when run; either way with a clear message.
SGX_CODE=$(printf 'name: %s-sgx\nservices:\n  - name: s\n    command: ["%s"]\n    pwd: /\n    attestation: {measurements: [%s]}\nsecurity: {attestation: {mode: sgx}}\n' \
	"$SNAME" "$T/bin/wsh" "$M" | post_session)
cp "$T/post.out" "$T/sgx.post"

run() { "$WARD" run --cas "$CAS" --cas-ca "$CA" --las "$T/las.sock" "$@"; }

# ---- the granted configuration reaches the workload, and only it ----------------------------
OUT=$(HOSTVAR=leak run --config "$SNAME/show" 2>"$T/run.err") # a variable, not a file: it holds secrets
rc=$?
[ $rc -eq 0 ] && pass "ward run: the attested workload runs" || fail "ward run exit $rc: $(cat "$T/run.err")"
GEN=$(printf '%s\n' "$OUT" | sed -n 's/^gen=//p')
[[ "$GEN" =~ ^[0-9a-f]{64}$ ]] && pass "generated secret arrives as 64 hex digits" || fail "gen=$GEN"
[ "$(printf '%s\n' "$OUT" | sed -n 's/^expl=//p')" = "$EXPL" ] && pass "explicit secret arrives" || fail "explicit secret"
[ "$(printf '%s\n' "$OUT" | sed -n 's/^pwd=//p')" = "$T/work" ] && pass "workload runs in the session's pwd" || fail "pwd"
[ "$(printf '%s\n' "$OUT" | sed -n 's/^conf=//p')" = "injected-content-42" ] &&
	pass "injection file readable through the rewritten environment variable" || fail "injection via env: $OUT"
printf '%s\n' "$OUT" | grep -q '^arg=--conf=/proc/self/fd/[0-9]*$' && pass "--conf=PATH argument rewritten to /proc/self/fd/N" ||
	fail "argument: $(printf '%s\n' "$OUT" | grep '^arg=')"
[ "$(printf '%s\n' "$OUT" | sed -n 's/^argconf=//p')" = "injected-content-42" ] && pass "injection file readable through the argument" ||
	fail "injection via argv"
VARS=$(printf '%s\n' "$OUT" | sed -n 's/^vars=//p')
# dash adds PWD (and OLDPWD) itself; anything else must come from the session.
extra=$(for v in $VARS; do case $v in CONF | EXPL | GEN | PWD | OLDPWD) ;; *) echo "$v" ;; esac; done)
[ -z "$extra" ] && pass "only the session's environment (no HOSTVAR, PATH, HOME...)" || fail "extra variables: $extra"
[ ! -e /etc/ward-e2e.conf ] && pass "the injection path was never written to disk" || fail "/etc/ward-e2e.conf exists"
R=$(run --config "$SNAME/show" 0<&- 2>"$T/run.err" | grep -e '^arg=' -e '^stdin=' | tr '\n' ' ')
[[ "$R" =~ ^arg=--conf=/proc/self/fd/([3-9]|[1-9][0-9]+)\ stdin=/dev/null\ $ ]] &&
	pass "with stdin closed, the workload gets /dev/null (no socket or injection file on fd 0)" ||
	fail "closed stdin: $R $(cat "$T/run.err")"
echo "hello" | run --config "$SNAME/sleeper" >"$T/pipe.out" 2>&1
grep -q '^done$' "$T/pipe.out" && pass "stdin passes through to the workload" || fail "stdin: $(cat "$T/pipe.out")"
ARGS=$(run --config "$SNAME/args" -- one "two words" 2>"$T/run.err")
[ "$ARGS" = "args=one two words" ] && pass "extra ARGS appended when the service allows them" || fail "args: $ARGS"
WARD_CAS_ADDR="$CAS" WARD_CAS_CA="$CA" WARD_LAS_ADDR="$T/las.sock" WARD_CONFIG_ID="$SNAME/args" \
	"$WARD" run >"$T/env.out" 2>"$T/run.err"
grep -q '^args=$' "$T/env.out" && pass "WARD_CAS_ADDR, WARD_CAS_CA, WARD_LAS_ADDR, WARD_CONFIG_ID" ||
	fail "env configuration: $(cat "$T/run.err")"

# ---- refusals -----------------------------------------------------------------------------
fails_with "extra ARGS refused when the service does not allow them" 9 run --config "$SNAME/show" -- x
fails_with "a workload whose binary differs by one byte is refused" 9 run --config "$SNAME/modified"
grep -q "measurement" "$T/.err" && pass "the refusal names the measurement" || fail "message: $(cat "$T/.err")"
grep -q should-not-run "$T/.out" && fail "the modified binary ran" || pass "the modified binary did not run"
fails_with "uid not in attestation.uids is refused" 9 run --config "$SNAME/only12345"
if [ "$SGX_CODE" = 200 ] || [ "$SGX_CODE" = 201 ]; then
	fails_with "sgx session refused at run time" 9 run --config "$SNAME-sgx/s"
	grep -q "not available yet" "$T/.err" && pass "sgx refusal says why" || fail "sgx message: $(cat "$T/.err")"
else
	[ "$SGX_CODE" = 400 ] && grep -q "not available yet" "$T/sgx.post" && pass "sgx session refused at creation, saying why" ||
		fail "sgx session: $SGX_CODE $(cat "$T/sgx.post")"
	fails_with "sgx service cannot be run" 9 run --config "$SNAME-sgx/s"
fi
fails_with "unknown service" 9 run --config "$SNAME/nope"
fails_with "no LAS: I/O error" 8 run --config "$SNAME/show" --las "$T/none.sock"
"$WARD" las init --key "$T/las2.key" >/dev/null 2>&1
start_las "$T/las2.sock" "$T/las2.key" && pass "second, unenrolled LAS up" || fail "LAS 2"
fails_with "evidence signed by an unenrolled LAS is refused" 9 run --config "$SNAME/show" --las "$T/las2.sock"
grep -q "enrolled" "$T/.err" && pass "the refusal says not enrolled" || fail "message: $(cat "$T/.err")"
fails_with "wrong CA for the key service" 8 run --config "$SNAME/show" --cas-ca /etc/ssl/certs/ca-certificates.crt
fails_with "plain http refused" 64 run --config "$SNAME/show" --cas "http://$CAS"

# ---- replayed evidence, through a recording TLS proxy ---------------------------------------
if [ -n "$PY" ]; then
	"$PY" - "$CAS_DATA/tls/server.crt" "$CAS_DATA/tls/server.key" "$WL_PORT" "$T" <<'EOF' 2>"$T/proxy.log" &
import http.server, ssl, sys, urllib.request, os
crt, key, port, tmp = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
up = ssl.create_default_context(cafile=crt)
class P(http.server.BaseHTTPRequestHandler):
    def fwd(self, body=None):
        req = urllib.request.Request("https://127.0.0.1:%s%s" % (port, self.path), data=body,
                                     method=self.command, headers={"Content-Type": "application/json"})
        try:
            r = urllib.request.urlopen(req, context=up); code, data = r.status, r.read()
        except urllib.error.HTTPError as e:
            code, data = e.code, e.read()
        self.send_response(code); self.send_header("Content-Length", str(len(data))); self.end_headers()
        self.wfile.write(data)
    def do_GET(self): self.fwd()
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.path == "/v1/workload/config":
            open(os.path.join(tmp, "recorded.json"), "wb").write(body)  # evidence + public key: not secret
        self.fwd(body)
    def log_message(self, *a): pass
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), P)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); ctx.load_cert_chain(crt, key)
s.socket = ctx.wrap_socket(s.socket, server_side=True)
open(os.path.join(tmp, "proxy.port.tmp"), "w").write(str(s.server_address[1]))
os.rename(os.path.join(tmp, "proxy.port.tmp"), os.path.join(tmp, "proxy.port"))
s.serve_forever()
EOF
	PIDS+=($!)
	for _ in $(seq 100); do [ -s "$T/proxy.port" ] && break; sleep 0.05; done
	R=$("$WARD" run --cas "127.0.0.1:$(cat "$T/proxy.port")" --cas-ca "$CA" --las "$T/las.sock" \
		--config "$SNAME/args" 2>"$T/run.err")
	[ "$R" = "args=" ] && [ -s "$T/recorded.json" ] && pass "run through the recording proxy" ||
		fail "proxy run: $R $(cat "$T/run.err" "$T/proxy.log" | head -c 300)"
	replay() {
		curl -sS --cacert "$CA" -o "$T/replay.out" -w '%{http_code}' -H 'Content-Type: application/json' \
			--data-binary @- "https://$CAS/v1/workload/config"
	}
	code=$(replay <"$T/recorded.json")
	[ "$code" = 403 ] && pass "replayed evidence refused (403)" || fail "replay: $code $(cat "$T/replay.out")"
	code=$(sed 's/"config_id":"[^"]*"/"config_id":"'"$SNAME"'\/show"/' "$T/recorded.json" | replay)
	[ "$code" = 403 ] && pass "evidence re-targeted to another service refused" || fail "retarget: $code"
else
	skip "replay test needs python3"
fi

# ---- /proc/PID/environ of a running workload -------------------------------------------------
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
	as() { local u=$1; shift; setpriv --reuid="$u" --regid="$u" --clear-groups "$@"; }
	cp "$CA" "$T/ca.crt" # the CAS data directory is private
	chmod 644 "$T/ca.crt"
	CA="$T/ca.crt"
	mkfifo "$T/hold"
	"$WARD" run --cas "$CAS" --cas-ca "$CA" --las "$T/las.sock" --config "$SNAME/sleeper" \
		<"$T/hold" >/dev/null 2>&1 &
	WPID=$!
	exec 7>"$T/hold"
	for _ in $(seq 200); do [ "$(readlink /proc/$WPID/exe 2>/dev/null)" = "$T/bin/wsh" ] && break; sleep 0.05; done
	if [ "$(readlink /proc/$WPID/exe 2>/dev/null)" = "$T/bin/wsh" ]; then
		as 12346 cat /proc/$WPID/environ >/dev/null 2>&1 && fail "another user read the workload's environment" ||
			pass "another user cannot read /proc/PID/environ of the workload"
		tr '\0' '\n' </proc/$WPID/environ | grep -q "^GEN=$GEN$" && pass "(root can: host mode trusts root)" ||
			fail "root could not read the environ"
	else
		fail "sleeper workload did not start"
	fi
	exec 7>&-
	wait $WPID
	# The same, with the workload run by an unprivileged user (uid 12345).
	mkfifo "$T/hold2"
	setpriv --reuid=12345 --regid=12345 --clear-groups "$WARD" run --cas "$CAS" --cas-ca "$CA" \
		--las "$T/las.sock" --config "$SNAME/sleeper" <"$T/hold2" >/dev/null 2>"$T/u.err" &
	WPID=$!
	exec 7>"$T/hold2"
	for _ in $(seq 200); do [ "$(readlink /proc/$WPID/exe 2>/dev/null)" = "$T/bin/wsh" ] && break; sleep 0.05; done
	if [ "$(readlink /proc/$WPID/exe 2>/dev/null)" = "$T/bin/wsh" ]; then
		as 12346 cat /proc/$WPID/environ >/dev/null 2>&1 && fail "uid 12346 read uid 12345's workload environment" ||
			pass "uid 12346 cannot read the environment of uid 12345's workload"
		as 12345 cat /proc/$WPID/environ >/dev/null 2>&1 && pass "its own uid can read it (the documented limit)" ||
			fail "its own uid cannot read it: docs/attestation.md is out of date"
	else
		fail "workload as uid 12345 did not start: $(cat "$T/u.err")"
	fi
	exec 7>&-
	wait $WPID
	R=$(as 12345 "$WARD" run --cas "$CAS" --cas-ca "$CA" --las "$T/las.sock" --config "$SNAME/only12345" 2>"$T/u.err")
	[ "$R" = uid-ok ] && pass "uid 12345 may run the service restricted to it" || fail "uid 12345: $(cat "$T/u.err")"
else
	skip "per-user checks need root and setpriv"
fi

# ---- no secret in any file or log -------------------------------------------------------------
if [ -n "$GEN" ]; then
	B64=$(printf '%s' "$GEN" | xxd -r -p | base64)
	# Patterns come through a pipe, so they are in no file and on no command line.
	hits=$(grep -rlaF -f <(printf '%s\n' "$GEN" "$B64" "$EXPL") "$T" /dev/shm 2>/dev/null)
	[ -z "$hits" ] && pass "no secret (hex, base64, explicit) in any file under the test dir, CAS data, logs, /dev/shm" ||
		fail "secret found in: $hits"
	hits=$(grep -laF -f <(printf '%s\n' "$GEN" "$EXPL") /proc/[0-9]*/cmdline 2>/dev/null)
	[ -z "$hits" ] && pass "no secret on any command line" || fail "secret on a command line: $hits"
fi
exit 0
