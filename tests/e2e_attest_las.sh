#!/usr/bin/env bash
# ward las end to end on a temporary socket: key file, peer and workload measurement,
# malformed and hostile requests (the LAS must answer with an error and stay up),
# concurrency, the measurement cache's invalidation, LD_PRELOAD refusal, restart.
. "$(dirname "$0")/lib.sh"

if ! "$WARD" las --help >/dev/null 2>&1; then
	skip "ward las is not built"
	exit 0
fi
export WARD_LAS_KEY="$T/las.key"
SOCK="$T/las.sock"
PY=/usr/bin/python3
TESTS=$(cd "$(dirname "$0")" && pwd) # las_proto.py: the LAS protocol for the Python clients
[ -x "$PY" ] || PY=$(command -v python3 || true)

# ---- key file --------------------------------------------------------------
ok "las init creates a key" "$WARD" las init
cp "$T/.out" "$T/init.out"
[ "$(stat -c %a "$T/las.key")" = 600 ] && pass "key file mode 0600" || fail "key mode $(stat -c %a "$T/las.key")"
PLATFORM=$(sed -n 's/^platform //p' "$T/init.out")
[ ${#PLATFORM} -eq 64 ] && pass "init prints the platform key" || fail "no platform line: $(cat "$T/init.out")"
fails_with "second init refuses to overwrite" 9 "$WARD" las init
ok "pubkey" "$WARD" las pubkey
grep -q "^platform $PLATFORM$" "$T/.out" && pass "pubkey prints the same key" || fail "pubkey differs"
LAUNCHER=$("$WARD" measure --launcher)
grep -q "^launcher $LAUNCHER$" "$T/.out" && pass "pubkey prints the launcher measurement" ||
	fail "launcher line: $(cat "$T/.out") vs $LAUNCHER"
chmod 644 "$T/las.key"
fails_with "LAS refuses a world-readable key" 9 "$WARD" las --socket "$SOCK"
chmod 600 "$T/las.key"

# ---- start ---------------------------------------------------------------------
start_las() {
	"$WARD" las --socket "$SOCK" "$@" 2>>"$T/las.log" &
	LAS_PID=$!
	for _ in $(seq 100); do
		[ -S "$SOCK" ] && "$WARD" las query --socket "$SOCK" >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	return 1
}
stop_las() { kill "$LAS_PID" 2>/dev/null && wait "$LAS_PID" 2>/dev/null; }
trap 'kill $LAS_PID 2>/dev/null' EXIT

start_las && pass "LAS starts" || { fail "LAS did not start: $(cat "$T/las.log")"; exit 1; }
[ "$(stat -c %a "$SOCK")" = 666 ] && pass "socket mode 0666" || fail "socket mode $(stat -c %a "$SOCK")"

# jfield FILE KEY: a top-level string or number from one JSON line
jfield() { sed -n "s/.*\"$2\":\"\{0,1\}\([^\",}]*\).*/\1/p" "$1"; }

# ---- peer measurement --------------------------------------------------------
cp /bin/true "$T/wl"
chmod 755 "$T/wl"
ok "query with a workload fd" "$WARD" las query --socket "$SOCK" --workload "$T/wl"
cp "$T/.out" "$T/q.json"
[ "$(jfield "$T/q.json" platform)" = "$PLATFORM" ] && pass "evidence names this LAS" || fail "platform"
[ "$(jfield "$T/q.json" launcher)" = "$LAUNCHER" ] && pass "launcher measurement = ward measure --launcher" ||
	fail "launcher $(jfield "$T/q.json" launcher) != $LAUNCHER"
[ "$(jfield "$T/q.json" workload)" = "$(sha256 "$T/wl")" ] && pass "workload measurement = sha256 of the fd's file" ||
	fail "workload measurement"
[ "$(jfield "$T/q.json" uid)" = "$(id -u)" ] && pass "uid from SO_PEERCRED" || fail "uid"
[ "$("$WARD" measure "$T/wl")" = "$(sha256 "$T/wl")" ] && pass "ward measure = sha256sum" || fail "ward measure"
ok "query without a workload" "$WARD" las query --socket "$SOCK"
[ "$(jfield "$T/.out" workload)" = null ] && pass "no workload measurement without a descriptor" ||
	fail "workload: $(cat "$T/.out")"
fails_with "query takes no caller-chosen report data" 64 "$WARD" las query --socket "$SOCK" --report-data 00

if id nobody >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
	chmod 755 "$T" # the socket must be reachable by nobody; the key stays 0600
	if setpriv --reuid=nobody --regid=nogroup --clear-groups "$WARD" las query --socket "$SOCK" \
		>"$T/nobody.json" 2>"$T/.err"; then
		[ "$(jfield "$T/nobody.json" uid)" = "$(id -u nobody)" ] && pass "another user's evidence carries its uid" ||
			fail "uid for nobody: $(cat "$T/nobody.json")"
	else
		skip "ward not runnable as nobody here: $(head -c 200 "$T/.err")"
	fi
else
	skip "per-user evidence needs root, setpriv and user nobody"
fi

# ---- the cache must not hide a changed file --------------------------------------
printf 'AAAA' >"$T/c.bin"
touch -d '1 hour ago' "$T/c.bin"
sleep 2.2 # its ctime must be > 2 s old before the LAS caches it (docs/attestation.md)
"$WARD" las query --socket "$SOCK" --workload "$T/c.bin" >"$T/c1.json"
"$WARD" las query --socket "$SOCK" --workload "$T/c.bin" >"$T/c2.json"
printf 'BBBB' >"$T/c.bin.new"
cat "$T/c.bin.new" >"$T/c.bin" # same inode, same size
touch -d '1 hour ago' "$T/c.bin" # mtime back; ctime cannot be set back
"$WARD" las query --socket "$SOCK" --workload "$T/c.bin" >"$T/c3.json"
[ "$(jfield "$T/c2.json" workload)" = "$(printf AAAA | sha256sum | cut -d' ' -f1)" ] &&
	[ "$(jfield "$T/c3.json" workload)" = "$(printf BBBB | sha256sum | cut -d' ' -f1)" ] &&
	pass "rewritten file (same inode, size, mtime) is measured afresh" ||
	fail "cache served a stale measurement: $(jfield "$T/c3.json" workload)"

# ---- LD_PRELOAD of code an unprivileged user could change ---------------------------
if command -v cc >/dev/null && [ "$(id -u)" = 0 ]; then
	echo 'int ward_test_preload(void) { return 1; }' >"$T/pre.c"
	if cc -shared -fPIC -o "$T/pre.so" "$T/pre.c" 2>/dev/null; then
		chown nobody "$T/pre.so"
		LD_PRELOAD="$T/pre.so" "$WARD" las query --socket "$SOCK" >"$T/.out" 2>"$T/.err"
		[ $? -ne 0 ] && grep -q "unprivileged user can change" "$T/.err" &&
			pass "a peer with a user-owned LD_PRELOAD library is refused" ||
			fail "LD_PRELOAD not refused: $(cat "$T/.err" "$T/.out" | head -c 300)"
	fi
else
	skip "LD_PRELOAD refusal needs a C compiler and root"
fi

# ---- malformed and hostile requests ----------------------------------------------------
if [ -n "$PY" ]; then
	PYTHONPATH="$TESTS" "$PY" - "$SOCK" "$T" >"$T/py.out" 2>&1 <<'EOF'
import os, socket, sys
from las_proto import GOOD as good, read_line, send_request
import las_proto
sock, tmp = sys.argv[1], sys.argv[2]
H = las_proto.H
def talk(data, fds=(), **kw):
    return las_proto.talk(sock, data, fds, **kw)
def refused(name, data, fds=(), want=b'"error"', pidfd=True):
    try:
        r = talk(data, fds, pidfd=pidfd)
    except Exception as e:
        print("FAIL: %s (%s)" % (name, e)); return
    ok = (want in r or r.endswith(b"<reset>")) and b"evidence" not in r
    print(("PASS: %s" if ok else "FAIL: %s: " + repr(r[:200])) % name)
fd = os.open("/bin/true", os.O_RDONLY)
dfd = os.open(tmp, os.O_RDONLY)
cases = [
    ("empty request", b""),
    ("not JSON", b"hello\n"),
    ("JSON array", b'["nonce"]\n'),
    ("truncated JSON", b'{"nonce":"' + H.encode() + b'"\n'),
    ("trailing garbage", good[:-1] + b"xx\n"),
    ("two objects", good[:-1] + good),
    ("nonce too short", b'{"nonce":"abcd","report_data":"' + H.encode() + b'"}\n'),
    ("nonce not hex", ('{"nonce":"%s","report_data":"%s"}\n' % ("zz" * 32, H)).encode()),
    ("nonce is a number", ('{"nonce":1,"report_data":"%s"}\n' % H).encode()),
    ("missing report_data", ('{"nonce":"%s"}\n' % H).encode()),
    ("unknown field", ('{"nonce":"%s","report_data":"%s","pid":1}\n' % (H, H)).encode()),
    ("deep nesting", b"[" * 100000 + b"\n"),
    ("NUL bytes", b'{"nonce":"\x00"}\n'),
    ("over 4 KiB", b'{"nonce":"' + b"a" * 6000 + b'"}\n'),
    ("workload flag without fd", good.replace(b"}", b',"workload":true}')),
    ("no challenge", ('{"nonce":"%s","report_data":"%s"}\n' % (H, H)).encode()),
    ("another challenge", good.replace(b"CHAL", b"cd" * 32)),
]
for name, data in cases:
    refused(name, data)
refused("no pidfd", good, pidfd=False, want=b"pidfd")
refused("a pidfd of another process", good, pidfd=False, fds=[os.pidfd_open(1)], want=b"not the connecting")
# a forked child shares the connection but is not the process that connected
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.settimeout(10); s.connect(sock)
hello = read_line(s)
pid = os.fork()
if pid == 0:
    send_request(s, hello)
    os._exit(0)
os.waitpid(pid, 0)
r = read_line(s); s.close()
print(("PASS: %s" if b"another process" in r else "FAIL: %s " + repr(r[:200])) % "a request written by a forked child is refused")
refused("fd without workload flag", good, [fd])
refused("two fds", good.replace(b"}", b',"workload":true}'), [fd, fd])
refused("five fds", good.replace(b"}", b',"workload":true}'), [fd] * 5)
refused("directory fd as workload", good.replace(b"}", b',"workload":true}'), [dfd])
r = talk(good.replace(b"}", b',"workload":true}'), [fd])
print(("PASS: %s" if b'"evidence"' in r else "FAIL: %s " + repr(r[:200])) % "well-formed request with fd")
# idle connections must not block others (the LAS times them out on its own)
idle = []
for _ in range(20):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.connect(sock); s.send(b'{"no'); idle.append(s)
r = talk(good, timeout=5)
print(("PASS: %s" if b'"evidence"' in r else "FAIL: %s " + repr(r[:200])) % "answers while 20 clients stall")
for s in idle: s.close()
# clients that vanish before the reply
for _ in range(20):
    talk(good, close_early=True)
r = talk(good)
print(("PASS: %s" if b'"evidence"' in r else "FAIL: %s " + repr(r[:200])) % "answers after clients vanished")
EOF
	cat "$T/py.out"
else
	skip "malformed-request tests need python3"
fi
truncate -s $((1024 * 1024 * 1024 + 1)) "$T/huge" # sparse: no disk space used
fails_with "a workload over 1 GiB is refused (bounded work per request)" 9 \
	"$WARD" las query --socket "$SOCK" --workload "$T/huge"
rm -f "$T/huge"
kill -0 "$LAS_PID" 2>/dev/null && pass "LAS still running after hostile requests" || fail "LAS died"

# ---- a program that connects, then executes ward, never gets evidence naming ward ----------
# (1) the parent connects and hands the connection to a long-lived ward process; a forked
# child, sharing the connection, writes the request: refused, the writer is not the process
# that connected (or, if the LAS measures during the execve, refused for that). (2) the process writes the request itself, then executes ward: refused, or
# evidence naming python (measured before the challenge), never the ward launcher.
if [ -n "$PY" ]; then
	PYTHONPATH="$TESTS" "$PY" - "$SOCK" "$WARD" "$T" "$LAUNCHER" >"$T/py3.out" 2>&1 <<'EOF'
import base64, json, os, socket, sys, time
from las_proto import read_line as line, send_request
sock, ward, tmp, launcher = sys.argv[1:5]
for variant in (1, 2):
    r, w = os.pipe()
    ward_pid = os.fork()
    if ward_pid == 0:  # connects, then becomes ward holding the connection
        os.close(r)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.connect(sock)
        os.set_inheritable(s.fileno(), True)
        hello = line(s) if variant == 2 else None  # (1) executes ward at once
        if os.fork() == 0:  # the accomplice: shares the connection, reports the answers
            ans = b""
            if variant == 1:
                hello = ans = line(s)  # an error instead if the LAS saw the execve happen
                time.sleep(0.3)  # the connecting process is ward by now
                if b'"challenge"' in hello:
                    send_request(s, hello, pidfd_of=os.getppid())
            else:
                time.sleep(0.1)
            while True:
                b = s.recv(4096)
                if not b:
                    break
                ans += b
            os.write(w, ans); os._exit(0)
        os.close(w)
        if variant == 2:
            send_request(s, hello)
        os.execv(ward, [ward, "las", "--socket", tmp + "/decoy%d.sock" % variant])
    os.close(w)
    time.sleep(1.0)
    os.kill(ward_pid, 15); os.waitpid(ward_pid, 0)
    out = b""
    while True:
        b = os.read(r, 4096)
        if not b:
            break
        out += b
    ev = [l for l in out.split(b"\n") if b'"evidence"' in l]
    named = bool(ev) and base64.b64decode(json.loads(ev[0])["evidence"])[40:72].hex() == launcher
    ok = b'"error"' in out and not ev if variant == 1 else not named and out != b""
    print(("PASS: %s" if ok else "FAIL: %s " + repr(out[:300])) %
          ("variant %d: a connection handed to a ward process yields no evidence naming ward" % variant))
EOF
	cat "$T/py3.out"
fi

# ---- concurrency ---------------------------------------------------------------------------
for i in $(seq 50); do
	"$WARD" las query --socket "$SOCK" --workload "$T/wl" >"$T/par.$i" 2>&1 &
done
wait_ok=0
for j in $(jobs -p); do [ "$j" = "$LAS_PID" ] || wait "$j" || wait_ok=1; done
good=$(grep -l "\"workload\":\"$(sha256 "$T/wl")\"" "$T"/par.* | wc -l)
[ "$good" -eq 50 ] && [ $wait_ok -eq 0 ] && pass "50 concurrent clients all get evidence" ||
	fail "only $good of 50 concurrent clients got evidence"

# ---- restart ------------------------------------------------------------------------
fails_with "a second LAS on a live socket is refused" 9 "$WARD" las --socket "$SOCK"
kill -9 "$LAS_PID"
wait "$LAS_PID" 2>/dev/null
[ -S "$SOCK" ] && pass "kill -9 leaves a stale socket" || fail "no stale socket"
start_las --no-cache && pass "restarts over a stale socket" || fail "restart: $(tail -3 "$T/las.log")"
ok "no-cache query" "$WARD" las query --socket "$SOCK" --workload "$T/wl"
[ "$(jfield "$T/.out" workload)" = "$(sha256 "$T/wl")" ] && pass "no-cache measurement" || fail "no-cache measurement"

# ---- worker threads are reused; the connection cap answers "busy" ---------------------
# The worker that served a query (a thread besides the main one) serves the next ones too.
tasks() { ls "/proc/$LAS_PID/task" | sort; }
"$WARD" las query --socket "$SOCK" >/dev/null 2>&1
tasks >"$T/tasks0"
for _ in $(seq 20); do "$WARD" las query --socket "$SOCK" >/dev/null 2>&1; done
tasks >"$T/tasks1"
[ "$(wc -l <"$T/tasks0")" -ge 2 ] && [ -z "$(comm -23 "$T/tasks0" "$T/tasks1")" ] &&
	[ "$(wc -l <"$T/tasks1")" -le $(($(wc -l <"$T/tasks0") + 1)) ] &&
	pass "20 requests in a row reuse the worker thread ($(wc -l <"$T/tasks1") threads)" ||
	fail "worker threads not reused: $(tr '\n' ' ' <"$T/tasks0") -> $(tr '\n' ' ' <"$T/tasks1")"
stop_las
start_las --max-conns 2 || fail "restart with --max-conns 2: $(tail -3 "$T/las.log")"
if [ -n "$PY" ]; then
	PYTHONPATH="$TESTS" "$PY" - "$SOCK" "$WARD" >"$T/py2.out" 2>&1 <<'EOF'
import socket, subprocess, sys, time
import las_proto
sock, ward = sys.argv[1], sys.argv[2]
def talk():
    return las_proto.talk(sock)
idle = []
for _ in range(2):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.connect(sock); s.send(b'{"no'); idle.append(s)
time.sleep(0.3)  # let the LAS accept both
r = talk()
print(("PASS: %s" if b"busy" in r else "FAIL: %s " + repr(r[:200])) % "a third connection over --max-conns 2 is answered busy")
q = subprocess.run([ward, "las", "query", "--socket", sock], capture_output=True)
print(("PASS: %s" if q.returncode != 0 and b"busy" in q.stderr else "FAIL: %s " + repr(q.stderr[:200]))
      % "ward las query reports the LAS busy")
for s in idle: s.close()
r = b""
for _ in range(50):  # the two workers see the closes and come back
    r = talk()
    if b'"evidence"' in r:
        break
    time.sleep(0.1)
print(("PASS: %s" if b'"evidence"' in r else "FAIL: %s " + repr(r[:200])) % "served again once the stalled clients left")
EOF
	cat "$T/py2.out"
fi
kill "$LAS_PID"
wait "$LAS_PID"
rc=$?
[ $rc -eq 0 ] && [ ! -e "$SOCK" ] && pass "SIGTERM: exit 0 and socket removed" ||
	fail "SIGTERM: rc $rc, socket $(ls "$SOCK" 2>&1); log: $(tail -c 3000 "$T/las.log")"

# ---- a stop while workers are busy or just exiting ends cleanly -------------------------
# Each round starts workers and stops the LAS as they finish: every worker is
# joined before exit (under ASan a thread still unwinding at exit can fail the leak check).
clean=0
for round in $(seq 8); do
	start_las --max-conns 6 || break
	q=()
	for _ in 1 2 3 4 5 6; do "$WARD" las query --socket "$SOCK" >/dev/null 2>&1 & q+=($!); done
	wait "${q[@]}"
	[ $((round % 2)) -eq 0 ] && sleep 0.05
	kill "$LAS_PID"
	wait "$LAS_PID" && [ ! -e "$SOCK" ] && clean=$((clean + 1))
done
[ $clean -eq 8 ] && pass "8 stops right after a burst of queries all exit 0" ||
	fail "$clean of 8 stops after a burst were clean; log: $(tail -c 2000 "$T/las.log")"
echo x >"$T/notsock"
fails_with "refuses to replace a non-socket file" 9 "$WARD" las --socket "$T/notsock"
fails_with "query without a LAS fails cleanly" 8 "$WARD" las query --socket "$SOCK"
grep -q "refused" "$T/las.log" && pass "refusals are logged" || fail "no refusal in the log"
exit 0
