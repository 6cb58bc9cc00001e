#!/bin/bash
# Runs INSIDE a copy of the shared debootstrapped tree (chroot, own pid and mount
# namespaces), as root, from scripts/test-env. Installs mariadb-server/mariadb-client
# into the Debian bookworm minbase tree and turns it into an image that behaves like
# the official `mariadb` docker image.
# The files of this directory are available under /tmp/myaas-image.
set -euo pipefail
src=/tmp/myaas-image
# shellcheck source=../image-common.sh
source "$src/image-common.sh"
export DEBIAN_FRONTEND=noninteractive

# --- packages -------------------------------------------------------------------
image_prepare # no docs, man pages or translations; no services started
apt_get update
# what debootstrap --include gave before: Depends only, no Recommends
apt_get install -y --no-install-recommends mariadb-server mariadb-client

# --- mysql user/group: uid/gid 999, like the official image -----------------
old_uid=$(id -u mysql)
old_gid=$(getent group mysql | cut -d: -f3)
if [[ $old_uid != 999 || $old_gid != 999 ]]; then
	if other=$(getent passwd 999) && [[ ${other%%:*} != mysql ]]; then
		echo "uid 999 already taken by: $other" >&2
		exit 1
	fi
	if other=$(getent group 999) && [[ ${other%%:*} != mysql ]]; then
		echo "gid 999 already taken by: $other" >&2
		exit 1
	fi
	groupmod -g 999 mysql
	usermod -u 999 -g 999 mysql
	# re-own what belonged to the old ids
	find / -xdev \( -uid "$old_uid" -o -gid "$old_gid" \) -print0 |
		while IFS= read -r -d '' f; do
			u=$(stat -c %u "$f") g=$(stat -c %g "$f")
			[[ $u == "$old_uid" ]] && u=999
			[[ $g == "$old_gid" ]] && g=999
			chown -h "$u:$g" "$f"
		done
fi

# --- configuration ------------------------------------------------------------
# Like the official image: comment out settings that make no sense in a
# container (bind-address=127.0.0.1, file logging, user=).
find /etc/mysql/my.cnf /etc/mysql/mariadb.cnf /etc/mysql/mariadb.conf.d/ -name '*.cnf' -type f -print0 2>/dev/null |
	xargs -0 -r sed -Ei 's/^(bind-address|log|user\s)/#&/'
install -m 0644 "$src/my.cnf" /etc/mysql/my.cnf
install -m 0644 "$src/05-myaas-docker.cnf" /etc/mysql/mariadb.conf.d/05-myaas-docker.cnf
mkdir -p /etc/mysql/conf.d

# --- directories ----------------------------------------------------------------
# Debian's postinst initialised /var/lib/mysql: the entrypoint must start from empty.
rm -rf /var/lib/mysql
mkdir -p /var/lib/mysql /run/mysqld /docker-entrypoint-initdb.d
chown mysql:mysql /var/lib/mysql /run/mysqld
# writable whatever uid mariadbd ends up running as (docker run --user ...)
chmod 1777 /run/mysqld

install -m 0755 "$src/docker-entrypoint.sh" /usr/local/bin/docker-entrypoint.sh

# the clients the project relies on must be there
require_programs mariadbd mariadb mariadb-admin mariadb-dump mariadb-install-db setpriv

# --- trim ---------------------------------------------------------------------
image_trim
