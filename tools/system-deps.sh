#!/bin/sh
# Install the Debian packages the integration tests drive for real: nmap, nginx,
# OpenSSH's sshd, headless Chromium, librpm and rpmbuild, the openssl command
# (s_server, dhparam) and the STARTTLS servers (Dovecot, vsftpd, slapd,
# PostgreSQL). As root it installs what is missing; otherwise it names what to
# install and the tests that need it skip locally (under CI=true they fail instead).
set -eu
missing=""
need() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || missing="$missing $2"; }
need nmap nmap
need nginx nginx-light
need sshd openssh-server
need ssh-keygen openssh-client
need chromium chromium
need rpm rpm
need rpmbuild rpm
need openssl openssl
need dovecot dovecot-imapd
[ -x /usr/lib/dovecot/pop3 ] || missing="$missing dovecot-pop3d"
need vsftpd vsftpd
need slapd slapd
need pg_ctlcluster postgresql
need runuser util-linux
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$missing postgresql"
need redis-server redis-server
[ -n "$missing" ] || exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
else
    echo "note: these Debian packages are missing:$missing"
    echo "      (sudo apt-get install$missing); tests that need them will skip"
fi
