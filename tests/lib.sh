# Shell helpers for the end-to-end tests (sourced). WARD_BUILD names the build.
set -u
BUILD="${WARD_BUILD:-build}"
case "$BUILD" in /*) ;; *) BUILD="$PWD/$BUILD" ;; esac
WARD="$BUILD/bin/ward"
C4GH="$BUILD/bin/crypt4gh"
KEYGEN="$BUILD/bin/crypt4gh-keygen"
DATA="${WARD_TEST_DATA:-$PWD/tests/data}"
SHARED="${WARD_SHARED:-$PWD/../shared}"
T="${WARD_TEST_TMP:-$(mktemp -d)}"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"

pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; }
skip() { echo "SKIPPED: $*"; }

# ok NAME CMD...: the command must succeed.
ok() {
	local name="$1"
	shift
	if "$@" >"$T/.out" 2>"$T/.err"; then pass "$name"; else
		fail "$name (exit $?: $(head -c 300 "$T/.err"))"
	fi
}

# fails_with NAME STATUS CMD...: the command must exit with STATUS and print one line on stderr.
fails_with() {
	local name="$1" want="$2"
	shift 2
	"$@" >"$T/.out" 2>"$T/.err"
	local rc=$?
	local lines
	lines=$(grep -v '^==' "$T/.err" | wc -l)
	if [ "$rc" -eq "$want" ] && [ "$lines" -ge 1 ]; then pass "$name"; else
		fail "$name (exit $rc, wanted $want: $(head -c 300 "$T/.err"))"
	fi
}

# same NAME FILE1 FILE2: the files must be byte-identical.
same() {
	if cmp -s "$2" "$3"; then pass "$1"; else fail "$1 ($2 and $3 differ)"; fi
}

sha256() { sha256sum "$1" | cut -d' ' -f1; }
