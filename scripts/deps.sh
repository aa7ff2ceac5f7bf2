#!/bin/sh
# Installs the Debian 12 packages Ward needs to build, test and run its demo.
# As root it installs what is missing; otherwise it prints the exact command.
# libcurl is the GnuTLS flavour because Debian's libhts-dev depends on it.
set -eu

PKGS="build-essential pkg-config clang libclang-rt-14-dev openssl
libsodium-dev libssl-dev libhts-dev libdeflate-dev libcurl4-gnutls-dev
libsqlite3-dev libyaml-dev libjson-c-dev libmicrohttpd-dev libgnutls28-dev
libavformat-dev libavcodec-dev libavutil-dev libswscale-dev libpng-dev
libhdf5-dev libopenblas-dev python3 python3-cryptography
bcftools samtools tabix ffmpeg curl xxd"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done

if [ -z "$missing" ]; then
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "ward: missing Debian packages; run as root:" >&2
	echo "  apt-get update && apt-get install -y --no-install-recommends$missing" >&2
	exit 1
fi

echo "ward: installing Debian packages:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
