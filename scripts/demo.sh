#!/usr/bin/env bash
# make demo: runs Ward's main jobs end to end on generated sample data, with embedded defaults.
# Each part is scripts/demo/NN-name.sh; they run in order and share one work directory.
set -euo pipefail
build="${1:-build}"
case "$build" in /*) ;; *) build="$PWD/$build" ;; esac
export WARD_DEMO_BUILD="$build"
export PATH="$build/bin:$PATH"
export WARD_DEMO_DIR="${WARD_DEMO_DIR:-$(mktemp -d /tmp/ward-demo.XXXXXX)}"
echo "Ward demo: binaries from $build/bin, work directory $WARD_DEMO_DIR"
for part in "$(dirname "$0")"/demo/[0-9]*.sh; do
	echo
	echo "== $(basename "$part" .sh | cut -d- -f2-) =="
	bash "$part"
done
echo
echo "Ward demo: all parts completed. Files are in $WARD_DEMO_DIR"
