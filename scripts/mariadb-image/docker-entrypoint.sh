#!/bin/bash
# docker-entrypoint.sh of the myaas test image (scripts/mariadb-image/).
#
# Implements the contract of the OFFICIAL `mariadb` image's entrypoint
# (https://github.com/MariaDB/mariadb-docker), so that code tested against this
# image works against the official one; nothing here goes beyond it:
#   - first arg starting with '-': run `mariadbd <args>`
#   - as root: make the datadir/socket dir owned by mysql (999:999), re-exec as mysql
#   - as another uid (docker run --user ...): run as that uid
#   - datadir without mysql/: initialise it from the environment
#       MARIADB_ROOT_PASSWORD | MARIADB_ALLOW_EMPTY_ROOT_PASSWORD | MARIADB_RANDOM_ROOT_PASSWORD
#       MARIADB_ROOT_HOST (default %), MARIADB_DATABASE, MARIADB_USER + MARIADB_PASSWORD,
#       MARIADB_INITDB_SKIP_TZINFO, MYSQL_* aliases, *_FILE variants,
#       /docker-entrypoint-initdb.d/*.{sh,sql,sql.gz,sql.xz,sql.zst}
#   - datadir with mysql/: no initialisation, environment ignored
#   - then exec mariadbd "$@" (error log on stderr)
# Not implemented (not needed by myaas): *_PASSWORD_HASH, MARIADB_AUTO_UPGRADE,
# replication variables, healthcheck.sh.
set -eo pipefail
shopt -s nullglob

mysql_log() {
	local type=$1
	shift
	printf '%s 0 [%s] [Entrypoint]: %s\n' "$(date --rfc-3339=seconds)" "$type" "$*"
}
mysql_note() { mysql_log Note "$@"; }
mysql_warn() { mysql_log Warn "$@" >&2; }
mysql_error() {
	mysql_log ERROR "$@" >&2
	exit 1
}

# file_env VAR [DEFAULT]: VAR from $VAR or from the file named by $VAR_FILE
file_env() {
	local var=$1
	local fileVar="${var}_FILE"
	local def="${2:-}"
	if [ "${!var:-}" ] && [ "${!fileVar:-}" ]; then
		mysql_error "Both $var and $fileVar are set (but are exclusive)"
	fi
	local val="$def"
	if [ "${!var:-}" ]; then
		val="${!var}"
	elif [ "${!fileVar:-}" ]; then
		val="$(<"${!fileVar}")"
	fi
	export "$var"="$val"
	unset "$fileVar"
}

# MYSQL_X and MARIADB_X are aliases; MARIADB_X wins
_mariadb_file_env() {
	local var="$1"
	shift
	local maria="MARIADB_${var#MYSQL_}"
	file_env "$var" "$@"
	file_env "$maria" "${!var}"
	if [ "${!maria:-}" ]; then
		export "$var"="${!maria}"
	fi
}

# is the user asking for help/version only (then skip all setup)?
_mysql_want_help() {
	local arg
	for arg; do
		case "$arg" in
		-'?' | --help | --print-defaults | -V | --version)
			return 0
			;;
		esac
	done
	return 1
}

# value of a server option as mariadbd sees it (config files + args)
mysql_get_config() {
	local conf="$1"
	shift
	"$@" --verbose --help 2>/dev/null |
		awk -v conf="$conf" '$1 == conf && /^[^ \t]/ { sub(/^[^ \t]+[ \t]+/, ""); print; exit }'
}

mysql_check_config() {
	local toRun=("$@" --verbose --help --log-bin-index="$(mktemp -u)") errors
	if ! errors="$("${toRun[@]}" 2>&1 >/dev/null)"; then
		mysql_error $'mariadbd failed while attempting to check config\n\tcommand was: '"${toRun[*]}"$'\n\t'"$errors"
	fi
}

docker_setup_env() {
	declare -g DATADIR SOCKET DATABASE_ALREADY_EXISTS
	DATADIR="$(mysql_get_config 'datadir' "$@")"
	SOCKET="$(mysql_get_config 'socket' "$@")"
	DATADIR="${DATADIR%/}"

	_mariadb_file_env 'MYSQL_ROOT_HOST' '%'
	_mariadb_file_env 'MYSQL_DATABASE'
	_mariadb_file_env 'MYSQL_USER'
	_mariadb_file_env 'MYSQL_PASSWORD'
	_mariadb_file_env 'MYSQL_ROOT_PASSWORD'

	: "${MARIADB_ALLOW_EMPTY_ROOT_PASSWORD:=${MYSQL_ALLOW_EMPTY_PASSWORD:-}}"
	export MYSQL_ALLOW_EMPTY_PASSWORD="$MARIADB_ALLOW_EMPTY_ROOT_PASSWORD" MARIADB_ALLOW_EMPTY_ROOT_PASSWORD
	: "${MARIADB_RANDOM_ROOT_PASSWORD:=${MYSQL_RANDOM_ROOT_PASSWORD:-}}"
	export MYSQL_RANDOM_ROOT_PASSWORD="$MARIADB_RANDOM_ROOT_PASSWORD" MARIADB_RANDOM_ROOT_PASSWORD
	: "${MARIADB_INITDB_SKIP_TZINFO:=${MYSQL_INITDB_SKIP_TZINFO:-}}"
	export MYSQL_INITDB_SKIP_TZINFO="$MARIADB_INITDB_SKIP_TZINFO" MARIADB_INITDB_SKIP_TZINFO

	DATABASE_ALREADY_EXISTS=
	if [ -d "$DATADIR/mysql" ]; then
		DATABASE_ALREADY_EXISTS='true'
	fi
}

docker_verify_minimum_env() {
	if [ -z "$MARIADB_ROOT_PASSWORD" ] && [ -z "$MARIADB_ALLOW_EMPTY_ROOT_PASSWORD" ] && [ -z "$MARIADB_RANDOM_ROOT_PASSWORD" ]; then
		mysql_error $'Database is uninitialized and password option is not specified\n\tYou need to specify one of MARIADB_ROOT_PASSWORD, MARIADB_ALLOW_EMPTY_ROOT_PASSWORD and MARIADB_RANDOM_ROOT_PASSWORD'
	fi
	if [ "$MARIADB_USER" = 'root' ]; then
		mysql_error $'MARIADB_USER="root", MARIADB_USER and MARIADB_PASSWORD are for configuring a regular user and cannot be used for the root user\n\tRemove MARIADB_USER="root" and use MARIADB_ROOT_PASSWORD, MARIADB_ALLOW_EMPTY_ROOT_PASSWORD or MARIADB_RANDOM_ROOT_PASSWORD to control the root user password'
	fi
	if [ -n "$MARIADB_USER" ] && [ -z "$MARIADB_PASSWORD" ]; then
		mysql_warn 'MARIADB_USER specified, but missing MARIADB_PASSWORD; MARIADB_USER will not be created'
	elif [ -z "$MARIADB_USER" ] && [ -n "$MARIADB_PASSWORD" ]; then
		mysql_warn 'MARIADB_PASSWORD specified, but missing MARIADB_USER; MARIADB_PASSWORD will be ignored'
	fi
}

# datadir and socket dir: created, and owned by mysql when we are root
docker_create_db_directories() {
	local dir
	dir="$(dirname "$SOCKET")"
	mkdir -p "$DATADIR" "$dir"
	if [ "$(id -u)" = "0" ]; then
		# only what is not owned by mysql yet (cheaper than chown -R on a big datadir)
		find "$DATADIR" "$dir" \! -user mysql -exec chown mysql: '{}' +
	fi
}

docker_init_database_dir() {
	mysql_note "Initializing database files"
	local installArgs=(--datadir="$DATADIR" --rpm --auth-root-authentication-method=normal)
	# "Other options are passed to mariadbd": pass the server arguments along
	local mariadbdArgs=() arg
	for arg in "${@:2}"; do
		if [[ "$arg" =~ [[:space:]] ]]; then
			mysql_warn "Not passing argument '$arg' to mariadb-install-db because mariadb-install-db does not support arguments with whitespace."
		else
			mariadbdArgs+=("$arg")
		fi
	done
	mariadb-install-db "${installArgs[@]}" "${mariadbdArgs[@]}" \
		--skip-test-db \
		--old-mode='UTF8_IS_UTF8MB3' \
		--default-time-zone=SYSTEM --enforce-storage-engine= \
		--skip-log-bin \
		--expire-logs-days=0 \
		--loose-innodb_buffer_pool_load_at_startup=0 \
		--loose-innodb_buffer_pool_dump_at_shutdown=0
	mysql_note "Database files initialized"
}

# SQL on the temporary server's socket, as root; with --dont-use-mysql-root-password
# before the root password is set. Uses MARIADB_DATABASE as default database if set.
docker_process_sql() {
	local pw="$MARIADB_ROOT_PASSWORD"
	if [ '--dont-use-mysql-root-password' = "${1:-}" ]; then
		shift
		pw=
	fi
	if [ -n "$MARIADB_DATABASE" ]; then
		set -- --database="$MARIADB_DATABASE" "$@"
	fi
	MYSQL_PWD="$pw" mariadb --protocol=socket -uroot -hlocalhost --socket="${SOCKET}" "$@"
}

docker_temp_server_start() {
	"$@" --skip-networking --default-time-zone=SYSTEM --socket="${SOCKET}" --wsrep_on=OFF \
		--expire-logs-days=0 \
		--skip-slave-start \
		--loose-innodb_buffer_pool_load_at_startup=0 \
		--skip-ssl &
	declare -g MARIADB_PID
	MARIADB_PID=$!
	mysql_note "Waiting for server startup"
	local i
	for i in {120..0}; do
		if docker_process_sql --dont-use-mysql-root-password --database=mysql <<<'SELECT 1' &>/dev/null; then
			break
		fi
		if ! kill -0 "$MARIADB_PID" 2>/dev/null; then
			mysql_error "Unable to start server (temporary server exited)."
		fi
		sleep 0.5
	done
	if [ "$i" = 0 ]; then
		mysql_error "Unable to start server."
	fi
}

docker_temp_server_stop() {
	kill "$MARIADB_PID"
	wait "$MARIADB_PID"
}

docker_sql_escape_string_literal() {
	local newline=$'\n'
	local escaped=${1//\\/\\\\}
	escaped="${escaped//$newline/\\n}"
	echo "${escaped//\'/\\\'}"
}

docker_setup_db() {
	# time zone tables, as in the official image
	if [ -z "$MARIADB_INITDB_SKIP_TZINFO" ] && [ -d /usr/share/zoneinfo ]; then
		{
			echo "SET @@SESSION.SQL_LOG_BIN=0;"
			mariadb-tzinfo-to-sql /usr/share/zoneinfo 2>/dev/null
		} | docker_process_sql --dont-use-mysql-root-password --database=mysql
	fi

	if [ -n "$MARIADB_RANDOM_ROOT_PASSWORD" ]; then
		MARIADB_ROOT_PASSWORD="$(head -c 24 /dev/urandom | base64 | tr '+/' '.,')"
		export MARIADB_ROOT_PASSWORD MYSQL_ROOT_PASSWORD="$MARIADB_ROOT_PASSWORD"
		mysql_note "GENERATED ROOT PASSWORD: $MARIADB_ROOT_PASSWORD"
	fi

	local rootPasswordEscaped=
	if [ -n "$MARIADB_ROOT_PASSWORD" ]; then
		rootPasswordEscaped="$(docker_sql_escape_string_literal "${MARIADB_ROOT_PASSWORD}")"
	fi

	# root from other hosts (default '%': anywhere)
	local rootCreate=
	if [ -n "$MARIADB_ROOT_HOST" ] && [ "$MARIADB_ROOT_HOST" != 'localhost' ]; then
		rootCreate="CREATE USER 'root'@'${MARIADB_ROOT_HOST}' IDENTIFIED BY '${rootPasswordEscaped}';
GRANT ALL ON *.* TO 'root'@'${MARIADB_ROOT_HOST}' WITH GRANT OPTION;
GRANT PROXY ON ''@'%' TO 'root'@'${MARIADB_ROOT_HOST}' WITH GRANT OPTION;"
	fi

	local createDatabase=
	if [ -n "$MARIADB_DATABASE" ]; then
		mysql_note "Creating database ${MARIADB_DATABASE}"
		createDatabase="CREATE DATABASE IF NOT EXISTS \`${MARIADB_DATABASE//\`/\`\`}\`;"
	fi

	local createUser='' userGrants=''
	if [ -n "$MARIADB_USER" ] && [ -n "$MARIADB_PASSWORD" ]; then
		mysql_note "Creating user ${MARIADB_USER}"
		local userPasswordEscaped
		userPasswordEscaped="$(docker_sql_escape_string_literal "${MARIADB_PASSWORD}")"
		createUser="CREATE USER '${MARIADB_USER}'@'%' IDENTIFIED BY '${userPasswordEscaped}';"
		if [ -n "$MARIADB_DATABASE" ]; then
			mysql_note "Giving user ${MARIADB_USER} access to schema ${MARIADB_DATABASE}"
			local db="${MARIADB_DATABASE//\`/\`\`}"
			userGrants="GRANT ALL ON \`${db//_/\\_}\`.* TO '${MARIADB_USER}'@'%';"
		fi
	fi

	mysql_note "Securing system users"
	# the explicit --database=mysql wins over MARIADB_DATABASE (which does not exist yet)
	docker_process_sql --dont-use-mysql-root-password --database=mysql --binary-mode <<-EOSQL
		-- Securing system users shouldn't be replicated
		SET @orig_sql_log_bin= @@SESSION.SQL_LOG_BIN;
		SET @@SESSION.SQL_LOG_BIN=0;
		-- we need the SQL_MODE NO_BACKSLASH_ESCAPES mode to be clear for the password to be set
		SET @@SESSION.SQL_MODE=REPLACE(@@SESSION.SQL_MODE, 'NO_BACKSLASH_ESCAPES', '');

		DROP USER IF EXISTS root@'127.0.0.1', root@'::1';
		EXECUTE IMMEDIATE CONCAT('DROP USER IF EXISTS root@\'', @@hostname,'\'');

		SET PASSWORD FOR 'root'@'localhost'= PASSWORD('${rootPasswordEscaped}');
		${rootCreate}
		${createDatabase}
		${createUser}
		${userGrants}
		SET @@SESSION.SQL_LOG_BIN=@orig_sql_log_bin;
	EOSQL
}

# run /docker-entrypoint-initdb.d/* (same rules as the official image)
docker_process_init_files() {
	echo
	local f
	for f; do
		case "$f" in
		*.sh)
			if [ -x "$f" ]; then
				mysql_note "$0: running $f"
				"$f"
			else
				mysql_note "$0: sourcing $f"
				# shellcheck disable=SC1090
				. "$f"
			fi
			;;
		*.sql)
			mysql_note "$0: running $f"
			docker_process_sql <"$f"
			echo
			;;
		*.sql.gz)
			mysql_note "$0: running $f"
			gunzip -c "$f" | docker_process_sql
			echo
			;;
		*.sql.xz)
			mysql_note "$0: running $f"
			xzcat "$f" | docker_process_sql
			echo
			;;
		*.sql.zst)
			mysql_note "$0: running $f"
			zstd -dc "$f" | docker_process_sql
			echo
			;;
		*) mysql_warn "$0: ignoring $f" ;;
		esac
	done
}

docker_mariadb_init() {
	docker_init_database_dir "$@"

	mysql_note "Starting temporary server"
	docker_temp_server_start "$@"
	mysql_note "Temporary server started."

	docker_setup_db
	docker_process_init_files /docker-entrypoint-initdb.d/*

	mysql_note "Stopping temporary server"
	docker_temp_server_stop
	mysql_note "Temporary server stopped"
	echo
	mysql_note "MariaDB init process done. Ready for start up."
	echo
}

_main() {
	# if command starts with an option, prepend mariadbd
	if [ "${1:0:1}" = '-' ]; then
		set -- mariadbd "$@"
	fi

	if { [ "$1" = 'mariadbd' ] || [ "$1" = 'mysqld' ]; } && ! _mysql_want_help "$@"; then
		mysql_note "Entrypoint script for MariaDB Server started."

		mysql_check_config "$@"
		docker_setup_env "$@"
		docker_create_db_directories

		# as root: restart this script as the mysql user (uid 999)
		if [ "$(id -u)" = "0" ]; then
			mysql_note "Switching to dedicated user 'mysql'"
			HOME="$(getent passwd mysql | cut -d: -f6)"
			export HOME
			exec setpriv --reuid=mysql --regid=mysql --init-groups "${BASH_SOURCE[0]}" "$@"
		fi

		if [ -z "$DATABASE_ALREADY_EXISTS" ]; then
			docker_verify_minimum_env
			docker_mariadb_init "$@"
		else
			mysql_note "Database directory $DATADIR already initialized: skipping initialization"
		fi
	fi
	exec "$@"
}

_main "$@"
