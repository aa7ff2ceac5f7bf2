#!/usr/bin/env bash
# make install: binaries, modules, libward (.so/.a), headers, pkg-config file, man pages;
# a program built against the installed library through pkg-config works.
. "$(dirname "$0")/lib.sh"
case "$BUILD" in */asan*) skip "install test runs on the normal build only"; exit 0 ;; esac
P="$T/prefix"
make --no-print-directory -s BUILD="$BUILD" PREFIX="$P" install >"$T/install.log" 2>&1 &&
	pass "make install PREFIX=$P" || { fail "make install: $(tail -3 "$T/install.log")"; exit 0; }
for f in bin/ward bin/crypt4gh bin/crypt4gh-keygen lib/libward.a lib/libward.so.0 lib/pkgconfig/ward.pc \
	include/ward/crypt4gh.h share/man/man1/crypt4gh.1 share/man/man1/crypt4gh-keygen.1 lib/ward/echo.so \
	lib/ward/cas.so; do
	[ -e "$P/$f" ] && pass "installed $f" || fail "missing $f"
done
"$P/bin/crypt4gh" --version | grep -q ward && pass "installed crypt4gh runs" || fail "installed crypt4gh"
"$P/bin/ward" echo --help >/dev/null 2>&1 && pass "installed ward finds its modules" || fail "modules not found"
extra=$(nm -D --defined-only "$P/lib/libward.so.0" | awk '{print $3}' | grep -v '^ward_' | grep -v '^_' | head -3)
[ -z "$extra" ] && pass "libward.so exports only ward_* symbols" || fail "unexpected exports: $extra"
export PKG_CONFIG_PATH="$P/lib/pkgconfig"
if cc -std=c17 -o "$T/example" tests/tools/api_example.c $(pkg-config --cflags --libs ward) 2>"$T/cc.err"; then
	pass "example program builds with pkg-config ward"
	LD_LIBRARY_PATH="$P/lib" "$T/example" "$T/example.c4gh" | grep -q "round trip ok" &&
		pass "example program: encrypt and decrypt through the shared library" || fail "example program failed"
else
	fail "example program does not build: $(head -3 "$T/cc.err")"
fi
