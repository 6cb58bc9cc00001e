#!/bin/bash
# Runs INSIDE a copy of the shared debootstrapped tree (chroot, own pid and mount
# namespaces), as root, from scripts/test-env. Installs mariadb-server/mariadb-client
# into the Debian bookworm minbase tree and turns it into an image that behaves like
# the official `mariadb` docker image.
# The files of this directory are available under /tmp/myaas-image.
set -euo pipefail
src=/tmp/myaas-image
export DEBIAN_FRONTEND=noninteractive

# --- packages -------------------------------------------------------------------
# no docs, man pages or translations (also keeps later apt installs small)
cat >/etc/dpkg/dpkg.cfg.d/01-myaas-nodoc <<'EOT'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/lintian/*
EOT
# never start services from package scripts inside the image
printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
chmod 0755 /usr/sbin/policy-rc.d
apt_get() {
	apt-get -q -o Acquire::Languages=none -o Acquire::Retries=3 \
		-o Dpkg::Options::=--force-unsafe-io -o Dpkg::Use-Pty=0 "$@"
}
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
for bin in mariadbd mariadb mariadb-admin mariadb-dump mariadb-install-db setpriv; do
	command -v "$bin" >/dev/null || { echo "missing $bin in image" >&2; exit 1; }
done

# --- trim ---------------------------------------------------------------------
find /usr/share/doc -mindepth 1 ! -name copyright ! -type d -delete 2>/dev/null || true
find /usr/share/doc -mindepth 1 -type d -empty -delete 2>/dev/null || true
rm -rf /usr/share/man/* /usr/share/info/* /usr/share/lintian /usr/share/linda /var/cache/man
find /usr/share/locale -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} + 2>/dev/null || true
rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*
rm -f /var/cache/debconf/*-old /var/lib/dpkg/*-old
find /var/log -type f -delete
rm -rf /var/tmp/* /root/.bash_history
# docker provides these at run time
: >/etc/resolv.conf
: >/etc/hostname
