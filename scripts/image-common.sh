# Sourced by each scripts/*-image/customize.sh inside its chroot (test-env copies it next to
# them as /tmp/myaas-image/image-common.sh): what every locally built image does alike.

# No docs, man pages or translations from packages, and no services started by their scripts.
image_prepare() {
	cat >/etc/dpkg/dpkg.cfg.d/01-myaas-nodoc <<'EOT'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/lintian/*
EOT
	printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
	chmod 0755 /usr/sbin/policy-rc.d
}

apt_get() {
	apt-get -q -o Acquire::Languages=none -o Acquire::Retries=3 \
		-o Dpkg::Options::=--force-unsafe-io -o Dpkg::Use-Pty=0 "$@"
}

# Fails the build when a program the project relies on is missing from the image.
require_programs() {
	local bin
	for bin in "$@"; do
		command -v "$bin" >/dev/null || {
			echo "missing $bin in image" >&2
			exit 1
		}
	done
}

# Leftovers of the build out, and what docker provides at run time emptied.
image_trim() {
	find /usr/share/doc -mindepth 1 ! -name copyright ! -type d -delete 2>/dev/null || true
	find /usr/share/doc -mindepth 1 -type d -empty -delete 2>/dev/null || true
	rm -rf /usr/share/man/* /usr/share/info/* /usr/share/lintian /usr/share/linda /var/cache/man
	find /usr/share/locale -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} + 2>/dev/null || true
	rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*
	rm -f /var/cache/debconf/*-old /var/lib/dpkg/*-old
	find /var/log -type f -delete
	rm -rf /var/tmp/* /root/.bash_history
	: >/etc/resolv.conf
	: >/etc/hostname
}
