# Helpers for the key-service end-to-end tests (sourced after tests/lib.sh).
# Every server started here is killed on exit; ports come from port 0 + --port-file.

CAS_PIDS=()
cas_cleanup() {
	exec 2>/dev/null # no "Killed" job notices at exit
	local p
	for p in "${CAS_PIDS[@]}"; do
		kill -9 "$p" 2>/dev/null
	done
	wait 2>/dev/null
	rm -rf "$T"
}
trap cas_cleanup EXIT

# cas_have_ward: ward cas is built (it lives in the cas module).
cas_have_ward() {
	"$WARD" cas --help >/dev/null 2>&1
}

# cas_require_ward: ends the test as skipped when ward cas is not built.
cas_require_ward() {
	cas_have_ward && return 0
	skip "ward cas is not built"
	exit 0
}

# make_cert NAME [rsa]: a self-signed client certificate $T/NAME.crt + $T/NAME.key.
make_cert() {
	local alg=(-newkey ec -pkeyopt ec_paramgen_curve:P-256)
	[ "${2:-}" = rsa ] && alg=(-newkey rsa:2048)
	openssl req -x509 "${alg[@]}" -nodes -keyout "$T/$1.key" -out "$T/$1.crt" -days 2 \
		-subj "/CN=$1" >/dev/null 2>&1
}

# make_cert_dated NAME START END: a self-signed client certificate valid from START to END
# (YYYYMMDDHHMMSSZ), for certificates that have expired or are not yet valid.
make_cert_dated() {
	local d="$T/ca-$1"
	mkdir -p "$d/new" && : >"$d/index.txt" && echo 01 >"$d/serial"
	printf '[ca]\ndefault_ca=d\n[d]\ndir=%s\ndatabase=$dir/index.txt\nnew_certs_dir=$dir/new\nserial=$dir/serial\ndefault_md=sha256\npolicy=p\n[p]\ncommonName=supplied\n' \
		"$d" >"$d/ca.cnf"
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/$1.key" \
		-out "$d/req.csr" -subj "/CN=$1" >/dev/null 2>&1 &&
		openssl ca -batch -config "$d/ca.cnf" -selfsign -keyfile "$T/$1.key" -in "$d/req.csr" \
			-out "$T/$1.crt" -startdate "$2" -enddate "$3" >/dev/null 2>&1
}

# cert_hash NAME: SHA-256 of the certificate's SubjectPublicKeyInfo (how the service names owners).
cert_hash() {
	openssl x509 -in "$T/$1.crt" -pubkey -noout | openssl pkey -pubin -outform DER |
		sha256sum | cut -d' ' -f1
}

# start_cas DIR [ARGS...]: starts `ward cas serve` on ephemeral loopback ports; sets CAS_PID,
# OWNER and WORKLOAD (host:port). Returns non-zero if it does not come up.
start_cas() {
	local dir="$1"
	shift
	rm -f "$dir.ports"
	"$WARD" cas serve --data "$dir" --owner-listen 127.0.0.1:0 --workload-listen 127.0.0.1:0 \
		--port-file "$dir.ports" "$@" >"$dir.out" 2>"$dir.err" &
	CAS_PID=$!
	CAS_PIDS+=("$CAS_PID")
	local i
	for i in $(seq 300); do
		[ -s "$dir.ports" ] && break
		kill -0 "$CAS_PID" 2>/dev/null || return 1
		sleep 0.1
	done
	[ -s "$dir.ports" ] || return 1
	OWNER="127.0.0.1:$(awk '$1 == "owner" {print $2}' "$dir.ports")"
	WORKLOAD="127.0.0.1:$(awk '$1 == "workload" {print $2}' "$dir.ports")"
}

# stop_cas: SIGTERM, and the service must exit 0 (under ASan this also catches leaks).
stop_cas() {
	kill "$CAS_PID" 2>/dev/null
	wait "$CAS_PID"
}

# api WHO METHOD PATH [BODYFILE]: owner API call as client WHO (none = no certificate).
# Prints the HTTP status (000 if the connection failed); the body is in $T/resp.
api() {
	local who="$1" m="$2" p="$3" d="${4:-}"
	local args=(-sS --cacert "$CA" -o "$T/resp" -w '%{http_code}' -X "$m")
	[ "$who" != none ] && args+=(--cert "$T/$who.crt" --key "$T/$who.key")
	[ -n "$d" ] && args+=(--data-binary "@$d")
	curl "${args[@]}" "https://$OWNER$p" 2>"$T/curl.err"
}

# wl METHOD PATH [BODYFILE]: workload interface call (server TLS only).
wl() {
	local args=(-sS --cacert "$CA" -o "$T/resp" -w '%{http_code}' -X "$1")
	[ -n "${3:-}" ] && args+=(--data-binary "@$3")
	curl "${args[@]}" "https://$WORKLOAD$2" 2>"$T/curl.err"
}

# expect_status NAME WANT GOT
expect_status() {
	if [ "$3" = "$2" ]; then pass "$1"; else fail "$1 (HTTP $3, wanted $2: $(head -c 300 "$T/resp" 2>/dev/null))"; fi
}

# json_field FIELD < JSON: a top-level string field (the service's JSON is compact).
json_field() {
	sed -n "s/.*\"$1\":\"\\([^\"]*\\)\".*/\\1/p"
}
