#!/usr/bin/env bash
# make demo: runs Ward's main jobs end to end on generated sample data.
set -euo pipefail
echo "demo: not written yet"
