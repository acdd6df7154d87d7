#!/bin/sh
# install-deps.sh - install everything postane needs to build, run and be
# tested, from Debian's packages only. Needs root (or sudo).
set -eu
PKGS="build-essential clang libclang-rt-14-dev pkg-config
      libsqlite3-dev sqlite3 zlib1g-dev libargon2-dev libssl-dev openssl libidn2-dev libinih-dev libc-ares-dev
      libcmocka-dev valgrind cppcheck
      python3 python3-pytest python3-pytest-xdist python3-aiosmtpd python3-dkim python3-dnslib opendkim-tools
      swaks mutt msmtp procps iproute2
      isync fetchmail
      postfix libsasl2-modules"
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
# Postfix is only a test peer (tests/e2e/postfix_peer.py runs its own
# instances from their own config directories): answer its debconf question
# with "No configuration" (no /etc/postfix/main.cf, nothing listens), and
# keep the maintainer scripts from starting the system instance with a
# policy-rc.d that refuses every start, for the install only.
new_postfix=0
case " $missing " in
*" postfix "*)
	new_postfix=1
	echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
	echo "postfix postfix/mailname string localhost" | $SUDO debconf-set-selections
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
		$SUDO chmod 755 /usr/sbin/policy-rc.d
		trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
	fi
	;;
esac
$SUDO apt-get update
# shellcheck disable=SC2086
$SUDO apt-get install -y --no-install-recommends \
	-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold $missing </dev/null
# If the system Postfix just installed got started anyway (an init system
# that ignores policy-rc.d), stop and disable it: port 25 stays free.
if [ "$new_postfix" -eq 1 ]; then
	if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
		$SUDO systemctl disable --now postfix.service >/dev/null 2>&1 || true
	elif [ -s /var/spool/postfix/pid/master.pid ] &&
		kill -0 "$(tr -d ' ' </var/spool/postfix/pid/master.pid)" 2>/dev/null; then
		$SUDO postfix stop >/dev/null 2>&1 || true
	fi
fi
