#!/bin/bash
# Runs INSIDE a copy of the shared debootstrapped tree (chroot, own pid and mount
# namespaces), as root, from scripts/test-env. Installs Debian bookworm's `postgresql`
# (PostgreSQL 15) and turns the tree into an image that behaves like the official
# `postgres:15` docker image (Debian variant). The files of this directory are
# available under /tmp/myaas-image.
set -euo pipefail
src=/tmp/myaas-image
# shellcheck source=../image-common.sh
source "$src/image-common.sh"
PG_MAJOR=${PG_MAJOR:?set by scripts/test-env}
export DEBIAN_FRONTEND=noninteractive

image_prepare # no docs, man pages or translations; no services started

# --- postgres user/group: uid/gid 999, created before the packages (as the official image does)
if other=$(getent passwd 999) && [[ ${other%%:*} != postgres ]]; then
	echo "uid 999 already taken by: $other" >&2
	exit 1
fi
if other=$(getent group 999) && [[ ${other%%:*} != postgres ]]; then
	echo "gid 999 already taken by: $other" >&2
	exit 1
fi
getent group postgres >/dev/null || groupadd -r postgres --gid=999
getent passwd postgres >/dev/null ||
	useradd -r -g postgres --uid=999 --home-dir=/var/lib/postgresql --shell=/bin/bash postgres
install -d -o postgres -g postgres -m 1777 /var/lib/postgresql

# --- packages -------------------------------------------------------------------
# No main cluster from the postinst (the official image sets the same in createcluster.conf;
# a drop-in does it without editing a ucf-managed file).
mkdir -p /etc/postgresql-common/createcluster.d
echo 'create_main_cluster = false' >/etc/postgresql-common/createcluster.d/00-myaas-no-main-cluster.conf
apt_get update
# locales for en_US.UTF-8, libnss-wrapper for --user with an unknown uid, xz/zstd for
# init files, less as psql's pager: as in the official image
apt_get install -y --no-install-recommends postgresql locales libnss-wrapper xz-utils zstd less
[[ -x /usr/lib/postgresql/$PG_MAJOR/bin/postgres ]] || {
	echo "postgresql did not bring PostgreSQL $PG_MAJOR: $(ls /usr/lib/postgresql)" >&2
	exit 1
}
if [[ -n $(ls -A /etc/postgresql 2>/dev/null) ]]; then
	echo "the postinst created a cluster despite create_main_cluster = false: $(ls -R /etc/postgresql)" >&2
	exit 1
fi
rm -rf /etc/postgresql /var/lib/postgresql/"$PG_MAJOR"

# the official image's LANG (initdb picks the cluster locale from it)
localedef -i en_US -c -f UTF-8 -A /usr/share/locale/locale.alias en_US.UTF-8

# --- configuration ------------------------------------------------------------
# initdb copies the sample: listen on all addresses, like the official image
sed -ri "s!^#?(listen_addresses)\s*=\s*\S+.*!\1 = '*'!" "/usr/share/postgresql/$PG_MAJOR/postgresql.conf.sample"
grep -qF "listen_addresses = '*'" "/usr/share/postgresql/$PG_MAJOR/postgresql.conf.sample"

# --- directories (modes as in the official image) -------------------------------
install -d -o postgres -g postgres -m 1777 /var/lib/postgresql
install -d -o postgres -g postgres -m 3777 /var/run/postgresql
# 1777 here, 0700 once the entrypoint has run (allows --user with other uids)
install -d -o postgres -g postgres -m 1777 /var/lib/postgresql/data
mkdir -p /docker-entrypoint-initdb.d

install -m 0755 "$src/docker-entrypoint.sh" /usr/local/bin/docker-entrypoint.sh

# the programs the project relies on must be there
export PATH=$PATH:/usr/lib/postgresql/$PG_MAJOR/bin
require_programs postgres initdb pg_ctl psql pg_dump pg_restore setpriv

# --- trim ---------------------------------------------------------------------
image_trim
