#!/bin/sh
# install-deps.sh - install everything postane needs to build, run and be
# tested, from Debian's packages only. Needs root (or sudo).
set -eu
PKGS="build-essential clang libclang-rt-14-dev pkg-config
      libsqlite3-dev sqlite3 zlib1g-dev libargon2-dev libssl-dev openssl libidn2-dev libinih-dev libc-ares-dev
      libcmocka-dev
      python3 python3-pytest python3-pytest-xdist python3-aiosmtpd python3-dkim python3-dnslib opendkim-tools
      swaks mutt msmtp procps iproute2
      isync fetchmail"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	SUDO="sudo"
fi
# Skip apt entirely when every package is already there (fast re-runs).
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -z "$missing" ]; then
	echo "install-deps: all packages present"
	exit 0
fi
echo "install-deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
# shellcheck disable=SC2086
$SUDO apt-get install -y --no-install-recommends $missing
