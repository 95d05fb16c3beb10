# shellcheck shell=bash
#
# Helpers shared by scripts/up, scripts/down and scripts/test. Source it from
# bash after `set -euo pipefail`.
#
# A stack lives in one directory VAR (var/ for scripts/up, a mktemp directory
# for scripts/test):
#   VAR/db/            MariaDB data directory
#   VAR/run/           sockets, pid files, mysqld.port
#   VAR/log/           mysqld.err, tenantd.log, nginx-error.log, nginx-access.log
#   VAR/nginx/         nginx prefix: nginx.conf (from nginx/dev.conf.in), tmp/
#   VAR/tenantd.conf   config for tenantd and tenantctl (write_config)
#   VAR/db-password, VAR/prov-password, VAR/jwt-secret, VAR/secrets.key
#                      generated once (mode 0600), reused on later runs
# Nothing here uses the system's MariaDB or nginx services, /etc/mysql or
# /var/lib/nginx: every daemon gets its own socket, pid file and a free port.

TD_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Debian's python3 (pytest, requests, lxml, jwt); a pyenv python3 on PATH has none of them.
TD_PY=/usr/bin/python3

TD_PACKAGES=(
	build-essential autoconf automake libtool pkg-config
	libmariadb-dev mariadb-server mariadb-client
	libxml2-dev libjansson-dev uuid-dev libssl-dev libcmocka-dev libcurl4-openssl-dev
	nginx-light
	clang
	python3 python3-pytest python3-requests python3-lxml python3-jwt python3-cryptography python3-yaml
	libxml2-utils iso-codes curl ca-certificates wrk spawn-fcgi
	# tests/e2e/test_servers.py: tenantd behind Apache (mod_proxy_fcgi, mod_fcgid,
	# mod_cgid) and lighttpd, each started project-locally on a free port
	apache2 libapache2-mod-fcgid lighttpd
)
# ./scripts/test --cluster only (tests/cluster/run): Galera, and rsync + socat for its SST.
TD_CLUSTER_PACKAGES=(galera-4 rsync socat)

# MariaDB programs read /etc/mysql/*.cnf unless told not to; --no-defaults keeps the
# project-local server and its clients independent of whatever the host configured.
TD_MARIADB_CLIENT=(mariadb --no-defaults --default-character-set=utf8mb4)

log() { printf '==> %s\n' "$*" >&2; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Prints the last lines of a log file, indented, to stderr (for error messages).
show_tail() {
	local file=$1 n=${2:-30}
	if [[ -s $file ]]; then
		printf -- '--- last %s lines of %s ---\n' "$n" "$file" >&2
		tail -n "$n" "$file" | sed 's/^/    /' >&2
		printf -- '---\n' >&2
	else
		printf -- '(%s is empty or missing)\n' "$file" >&2
	fi
}

random_hex() { od -An -tx1 -N"${1:-24}" /dev/urandom | tr -d ' \n'; }

# Reads FILE, creating it first with a random value (kept so re-runs reuse it).
secret_file() {
	local file=$1 bytes=${2:-24}
	if [[ ! -s $file ]]; then
		(umask 077 && random_hex "$bytes" >"$file")
	fi
	cat "$file"
}

#
# Packages
#

# install_deps [PACKAGE...]: those (default TD_PACKAGES) that are missing.
install_deps() {
	local p st missing=() sudo=()
	(($#)) || set -- "${TD_PACKAGES[@]}"
	for p in "$@"; do
		st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
		[[ $st == "install ok installed" ]] || missing+=("$p")
	done
	((${#missing[@]} == 0)) && return 0
	if [[ $(id -u) -ne 0 ]]; then
		command -v sudo >/dev/null || die "missing packages (${missing[*]}) and not root: install them or run as root"
		sudo=(sudo)
	fi
	log "installing packages: ${missing[*]}"
	"${sudo[@]}" apt-get update -qq || die "apt-get update failed"
	# Installing mariadb-server or nginx may start the system services (port
	# 3306 / 80); that is harmless here: the stack never uses them.
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" ||
		die "apt-get install failed for: ${missing[*]}"
}

# @redocly/cli for `redocly lint docs/openapi.yaml` (tests/e2e/test_docs.py). Pinned to
# 1.x, which runs on Debian 12's nodejs 18 as well as on newer ones.
TD_REDOCLY_VERSION=1.34.20

# redocly_install: installs @redocly/cli once into build/npm (reused while it is the
# pinned version) and prints the path of its redocly program. Installs Debian's
# nodejs and npm first when npm is missing (a node from elsewhere that brings its
# own npm is used as it is).
redocly_install() {
	local dir=$TD_ROOT/build/npm sudo=()
	local bin=$dir/node_modules/.bin/redocly pkg=$dir/node_modules/@redocly/cli/package.json
	if [[ -x $bin ]] && grep -q "\"version\": *\"$TD_REDOCLY_VERSION\"" "$pkg" 2>/dev/null; then
		printf '%s\n' "$bin"
		return 0
	fi
	if ! command -v npm >/dev/null; then
		if [[ $(id -u) -ne 0 ]]; then
			command -v sudo >/dev/null || die "npm is missing and not root: install nodejs and npm"
			sudo=(sudo)
		fi
		log "installing packages: nodejs npm"
		"${sudo[@]}" apt-get update -qq || die "apt-get update failed"
		"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nodejs npm ||
			die "apt-get install failed for: nodejs npm"
	fi
	mkdir -p "$dir"
	log "installing @redocly/cli@$TD_REDOCLY_VERSION into build/npm (once; log build/npm/install.log)"
	npm install --prefix "$dir" --save-exact --no-audit --no-fund --update-notifier=false \
		"@redocly/cli@$TD_REDOCLY_VERSION" >"$dir/install.log" 2>&1 || {
		show_tail "$dir/install.log" 20
		die "npm install @redocly/cli@$TD_REDOCLY_VERSION failed (log: $dir/install.log)"
	}
	[[ -x $bin ]] || die "npm installed @redocly/cli but $bin is missing"
	printf '%s\n' "$bin"
}

#
# Build
#

# build VARIANT [configure args...]: a VPATH build in $TD_ROOT/build/VARIANT.
# Prints the build directory on stdout.
build() {
	local variant=$1; shift
	local src=$TD_ROOT bdir=$TD_ROOT/build/$variant args_file
	[[ -f $src/configure.ac ]] || die "no configure.ac in $src"
	if [[ -f $src/config.status ]]; then
		log "the source tree was configured in-tree: running make distclean there"
		(cd "$src" && make distclean) >"$TD_ROOT/build-distclean.log" 2>&1 || {
			show_tail "$TD_ROOT/build-distclean.log"
			die "make distclean in $src failed; remove config.status there by hand"
		}
		rm -f "$TD_ROOT/build-distclean.log"
	fi
	mkdir -p "$bdir"
	if [[ ! -x $src/configure || $src/configure -ot $src/configure.ac ||
		( -f $src/Makefile.am && $src/configure -ot $src/Makefile.am ) ]]; then
		log "autogen.sh"
		(cd "$src" && ./autogen.sh) >"$bdir/autogen.log" 2>&1 || {
			show_tail "$bdir/autogen.log" 40
			die "./autogen.sh failed (full log: $bdir/autogen.log)"
		}
	fi
	args_file=$bdir/.configure-args
	if [[ ! -f $bdir/config.status || ! -f $bdir/Makefile || $bdir/config.status -ot $src/configure ||
		"$(cat "$args_file" 2>/dev/null)" != "$*" ]]; then
		log "configure $* (in build/$variant)"
		(cd "$bdir" && "$src/configure" "$@") >"$bdir/configure.log" 2>&1 || {
			show_tail "$bdir/configure.log" 40
			die "configure failed (full log: $bdir/configure.log, details: $bdir/config.log)"
		}
		printf '%s' "$*" >"$args_file"
	fi
	log "make (build/$variant)"
	make -C "$bdir" -j"$(nproc)" >&2 || die "make failed in $bdir"
	[[ -x $bdir/tenantd && -x $bdir/tenantctl ]] || die "make succeeded but $bdir has no tenantd/tenantctl"
	printf '%s\n' "$bdir"
}

#
# Processes and ports
#

# alive PID: the process exists and is not a zombie.
alive() {
	local pid=$1 state
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	kill -0 "$pid" 2>/dev/null || return 1
	state=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$pid/status" 2>/dev/null || true)
	[[ -n $state && $state != Z && $state != X ]]
}

# pid_from_file PIDFILE NAME: prints the pid when it is alive and runs NAME.
pid_from_file() {
	local file=$1 name=$2 pid
	[[ -s $file ]] || return 1
	pid=$(tr -dc '0-9' <"$file")
	alive "$pid" || return 1
	tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$name" || return 1
	printf '%s\n' "$pid"
}

# Daemons that needed SIGKILL (scripts/test reports them).
TD_KILLED=()

# stop_pidfile NAME PIDFILE: SIGTERM, up to 10 s, then SIGKILL (the whole
# process group when the daemon leads one, so pre-forked workers go too).
stop_pidfile() {
	local name=$1 file=$2 pid pgid stat i
	if pid=$(pid_from_file "$file" "$name"); then
		stat=$(cat "/proc/$pid/stat" 2>/dev/null || true)
		stat=${stat##*) }
		# shellcheck disable=SC2086
		pgid=$(set -- $stat && printf '%s' "${3:-}")
		kill -TERM "$pid" 2>/dev/null || true
		for ((i = 0; i < 100; i++)); do
			alive "$pid" || break
			sleep 0.1
		done
		if alive "$pid"; then
			warn "$name (pid $pid) did not stop within 10 s of SIGTERM: SIGKILL"
			TD_KILLED+=("$name")
			if [[ $pgid == "$pid" ]]; then
				kill -KILL -- "-$pid" 2>/dev/null || true
			else
				kill -KILL "$pid" 2>/dev/null || true
			fi
			sleep 0.2
		fi
		# Reap it when it is our child (scripts/test), so it does not linger as a zombie.
		wait "$pid" 2>/dev/null || true
	fi
	rm -f "$file"
}

# free_ports N: N distinct free TCP ports on 127.0.0.1, space-separated.
free_ports() {
	"$TD_PY" - "${1:-1}" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
}

# port_free PORT: nothing listens on 127.0.0.1:PORT (or on a wildcard address).
port_free() {
	"$TD_PY" - "$1" <<'PY'
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
PY
}

# Who listens on PORT, for error messages.
port_owner() {
	local out
	out=$(ss -Hltnp "sport = :$1" 2>/dev/null || true)
	printf '%s\n' "${out:-(unknown program; ss from iproute2 would name it)}"
}

# wait_for SECONDS COMMAND...: polls COMMAND every 0.1 s until it succeeds.
wait_for() {
	local secs=$1 i; shift
	for ((i = 0; i < secs * 10; i++)); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

#
# MariaDB
#

db_socket() { printf '%s/run/mysqld.sock' "$1"; }

db_root() {
	local var=$1; shift
	"${TD_MARIADB_CLIENT[@]}" --socket="$(db_socket "$var")" -uroot "$@"
}

db_ping() {
	mariadb-admin --no-defaults --socket="$(db_socket "$1")" -uroot --connect-timeout=2 ping >/dev/null 2>&1
}

# db_start VAR [PORT]: a project-local MariaDB on VAR/run/mysqld.sock (and
# 127.0.0.1:PORT, a free one by default), with database and user tenantd,
# and the provisioning user tenantd_prov, which may only touch databases
# named tenant_* (the tenants' own; provision.db_name_pattern).
db_start() {
	local var=$1 port=${2:-} pidf=$1/run/mysqld.pid pid i pw prov
	mkdir -p "$var/db" "$var/run" "$var/log"
	if pid=$(pid_from_file "$pidf" mariadbd) && wait_for 30 db_ping "$var"; then
		log "MariaDB already running (pid $pid, socket $(db_socket "$var"))"
	else
		[[ -z ${pid:-} ]] || stop_pidfile mariadbd "$pidf"
		rm -f "$pidf" "$(db_socket "$var")"
		if [[ ! -d $var/db/mysql ]]; then
			log "initialising MariaDB data directory $var/db"
			mariadb-install-db --no-defaults --user=root --datadir="$var/db" \
				--auth-root-authentication-method=normal --skip-test-db \
				>"$var/log/mariadb-install-db.log" 2>&1 || {
				show_tail "$var/log/mariadb-install-db.log"
				rm -rf "$var/db"
				die "mariadb-install-db failed"
			}
		fi
		[[ -n $port ]] || port=$(free_ports 1)
		port_free "$port" || die "MariaDB port 127.0.0.1:$port is taken: $(port_owner "$port")"
		log "starting MariaDB (socket $(db_socket "$var"), port $port)"
		# A temporary directory of its own: another MariaDB of this machine
		# sharing /tmp may remove its temporary tables mid-statement.
		mkdir -p "$var/tmp"
		setsid mariadbd --no-defaults --user=root --datadir="$var/db" --tmpdir="$var/tmp" \
			--socket="$(db_socket "$var")" --port="$port" --bind-address=127.0.0.1 \
			--pid-file="$pidf" --log-error="$var/log/mysqld.err" \
			--innodb-buffer-pool-size=256M --skip-name-resolve \
			--character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci \
			</dev/null >>"$var/log/mysqld.out" 2>&1 3>&- 4>&- &
		pid=$!
		for ((i = 0; i < 600; i++)); do
			db_ping "$var" && break
			if ! alive "$pid"; then
				show_tail "$var/log/mysqld.err" 40
				die "mariadbd exited during start-up (log: $var/log/mysqld.err)"
			fi
			sleep 0.1
		done
		if ! db_ping "$var"; then
			show_tail "$var/log/mysqld.err" 40
			die "MariaDB did not answer a ping within 60 s (log: $var/log/mysqld.err)"
		fi
		[[ -s $pidf ]] || printf '%s\n' "$pid" >"$pidf"
		printf '%s\n' "$port" >"$var/run/mysqld.port"
	fi
	pw=$(secret_file "$var/db-password")
	db_root "$var" <<SQL || die "creating database/user tenantd failed"
CREATE DATABASE IF NOT EXISTS tenantd CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE USER IF NOT EXISTS 'tenantd'@'localhost' IDENTIFIED BY '$pw';
ALTER USER 'tenantd'@'localhost' IDENTIFIED BY '$pw';
CREATE USER IF NOT EXISTS 'tenantd'@'127.0.0.1' IDENTIFIED BY '$pw';
ALTER USER 'tenantd'@'127.0.0.1' IDENTIFIED BY '$pw';
GRANT ALL ON tenantd.* TO 'tenantd'@'localhost';
GRANT ALL ON tenantd.* TO 'tenantd'@'127.0.0.1';
SQL
	prov=$(secret_file "$var/prov-password")
	db_root "$var" <<SQL || die "creating the provisioning user tenantd_prov failed"
CREATE USER IF NOT EXISTS 'tenantd_prov'@'localhost' IDENTIFIED BY '$prov';
ALTER USER 'tenantd_prov'@'localhost' IDENTIFIED BY '$prov';
CREATE USER IF NOT EXISTS 'tenantd_prov'@'127.0.0.1' IDENTIFIED BY '$prov';
ALTER USER 'tenantd_prov'@'127.0.0.1' IDENTIFIED BY '$prov';
GRANT ALL ON \`tenant\\_%\`.* TO 'tenantd_prov'@'localhost';
GRANT ALL ON \`tenant\\_%\`.* TO 'tenantd_prov'@'127.0.0.1';
SQL
}

#
# tenantd
#

# write_config VAR LISTEN [WORKERS]: VAR/tenantd.conf for tenantd and tenantctl.
write_config() {
	local var=$1 listen=$2 workers=${3:-$(nproc)} pw secret prov ports=3306
	pw=$(secret_file "$var/db-password")
	secret=$(secret_file "$var/jwt-secret" 32)
	prov=$(secret_file "$var/prov-password")
	# The key that seals connection strings at rest: 32 random bytes, hex.
	secret_file "$var/secrets.key" 32 >/dev/null
	chmod 600 "$var/secrets.key"
	[[ ! -s $var/run/mysqld.port ]] || ports="3306,$(cat "$var/run/mysqld.port")"
	(umask 077 && cat >"$var/tenantd.conf") <<EOF
# Generated by scripts/lib.sh (write_config); rewritten on every start.
# Any scalar key can be overridden by TENANTD_<KEY> in the environment,
# e.g. TENANTD_RATE_LIMIT_PER_MINUTE=0.
listen = $listen
workers = $workers
socket_mode = 0666
mount_prefix =
body_limit = 1048576
db.socket = $(db_socket "$var")
db.user = tenantd
db.password = $pw
db.name = tenantd
rate_limit.per_minute = 60
log.requests = 1
jwt.dev.iss = https://dev.tenantd.local
jwt.dev.audience = tenantd
jwt.dev.alg = HS256
jwt.dev.secret = $secret
# Tenants' own databases: created on these hosts and ports only, named
# tenant_*, by tenantd_prov (never with a connection string's credentials).
provision.db_hosts = localhost,127.0.0.1
provision.db_ports = $ports
provision.db_name_pattern = tenant_%
provision.db_user = tenantd_prov
provision.db_password = $prov
provision.sql_dir = $TD_ROOT/sql/tenant
secrets.key_file = $var/secrets.key
# Webhooks to the e2e tests' local receivers (plain http on 127.0.0.1),
# retried after 1 s, 2 s, ... so a test sees its retries in seconds.
webhooks.allow_http_hosts = 127.0.0.1
webhooks.allow_private_hosts = 127.0.0.1
webhooks.retry_base = 1
webhooks.retry_max = 4
EOF
}

# add_test_jwt_issuers VAR: for the test stack only (scripts/test, after
# write_config). Generates key pairs into VAR/jwt/ and appends two issuers to
# VAR/tenantd.conf: jwt.rs (RS256, two keys, kids r1 and r2, for rotation)
# and jwt.es (ES256, one P-256 key). Exports the private keys' paths (and
# the public ones) with each issuer's iss and audience for the e2e tests.
add_test_jwt_issuers() {
	local var=$1 dir=$1/jwt
	mkdir -p "$dir"
	"$TD_PY" - "$dir" <<'PY' || die "generating the test JWT key pairs failed"
import os, sys
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
d = sys.argv[1]
keys = {
    "rs-r1": rsa.generate_private_key(public_exponent=65537, key_size=2048),
    "rs-r2": rsa.generate_private_key(public_exponent=65537, key_size=2048),
    "es": ec.generate_private_key(ec.SECP256R1()),
}
for name, k in keys.items():
    priv = k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                           serialization.NoEncryption())
    pub = k.public_key().public_bytes(serialization.Encoding.PEM,
                                      serialization.PublicFormat.SubjectPublicKeyInfo)
    fd = os.open(os.path.join(d, name + ".key.pem"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(priv)
    with open(os.path.join(d, name + ".pub.pem"), "wb") as f:
        f.write(pub)
PY
	cat >>"$var/tenantd.conf" <<EOF
# Test-only issuers (scripts/lib.sh, add_test_jwt_issuers); keys in $dir.
jwt.rs.iss = https://rs.test.tenantd.local
jwt.rs.audience = tenantd-rs
jwt.rs.alg = RS256
jwt.rs.key.r1 = $dir/rs-r1.pub.pem
jwt.rs.key.r2 = $dir/rs-r2.pub.pem
jwt.es.iss = https://es.test.tenantd.local
jwt.es.audience = tenantd-es
jwt.es.alg = ES256
jwt.es.key = $dir/es.pub.pem
EOF
	export TENANTD_JWT_RS_ISSUER=https://rs.test.tenantd.local TENANTD_JWT_RS_AUDIENCE=tenantd-rs
	export TENANTD_JWT_RS_KEY_R1=$dir/rs-r1.key.pem TENANTD_JWT_RS_KEY_R2=$dir/rs-r2.key.pem
	export TENANTD_JWT_RS_PUBLIC_R1=$dir/rs-r1.pub.pem TENANTD_JWT_RS_PUBLIC_R2=$dir/rs-r2.pub.pem
	export TENANTD_JWT_ES_ISSUER=https://es.test.tenantd.local TENANTD_JWT_ES_AUDIENCE=tenantd-es
	export TENANTD_JWT_ES_KEY=$dir/es.key.pem TENANTD_JWT_ES_PUBLIC=$dir/es.pub.pem
}

# tenantctl VAR BUILD ARGS...
tenantctl() {
	local var=$1 bdir=$2; shift 2
	"$bdir/tenantctl" --config "$var/tenantd.conf" "$@"
}

migrate() {
	local var=$1 bdir=$2
	log "applying migrations from sql/"
	tenantctl "$var" "$bdir" migrate --dir "$TD_ROOT/sql" >&2 || die "tenantctl migrate failed"
}

tenantd_socket() { printf '%s/run/tenantd.sock' "$1"; }

# tenantd_start VAR BUILD: (re)starts tenantd from BUILD in the background;
# its stderr goes to VAR/log/tenantd.log. The caller's environment passes
# through (TENANTD_* overrides, ASAN_OPTIONS, ...).
tenantd_start() {
	local var=$1 bdir=$2 pidf=$1/run/tenantd.pid sock pid i
	sock=$(tenantd_socket "$var")
	[[ -x $bdir/tenantd ]] || die "$bdir/tenantd is missing (build first)"
	stop_pidfile tenantd "$pidf"
	rm -f "$sock"
	log "starting tenantd ($bdir/tenantd, log $var/log/tenantd.log)"
	setsid "$bdir/tenantd" --config "$var/tenantd.conf" --pidfile "$pidf" \
		</dev/null >>"$var/log/tenantd.log" 2>&1 3>&- 4>&- &
	pid=$!
	for ((i = 0; i < 300; i++)); do
		[[ -S $sock ]] && break
		if ! alive "$pid"; then
			show_tail "$var/log/tenantd.log"
			die "tenantd exited during start-up (log: $var/log/tenantd.log)"
		fi
		sleep 0.1
	done
	if [[ ! -S $sock ]]; then
		show_tail "$var/log/tenantd.log"
		kill -TERM "$pid" 2>/dev/null || true
		die "tenantd did not create $sock within 30 s"
	fi
	wait_for 5 test -s "$pidf" || printf '%s\n' "$pid" >"$pidf"
}

#
# nginx
#

nginx_args() { printf '%s\n' -p "$1/nginx/" -c "$1/nginx/nginx.conf" -e "$1/log/nginx-error.log"; }

# nginx_is_ours VAR: the nginx whose pid file is in VAR runs.
nginx_is_ours() { pid_from_file "$1/run/nginx.pid" nginx >/dev/null; }

# nginx_start VAR PORT: (re)starts nginx on 127.0.0.1:PORT in front of tenantd's socket.
nginx_start() {
	local var=$1 port=$2 args i
	mkdir -p "$var/nginx/tmp" "$var/log" "$var/run"
	sed -e "s|@VAR@|$var|g" -e "s|@PORT@|$port|g" -e "s|@SOCKET@|$(tenantd_socket "$var")|g" \
		"$TD_ROOT/nginx/dev.conf.in" >"$var/nginx/nginx.conf"
	mapfile -t args < <(nginx_args "$var")
	nginx -t -q "${args[@]}" || die "nginx rejects $var/nginx/nginx.conf (from nginx/dev.conf.in)"
	stop_pidfile nginx "$var/run/nginx.pid"
	port_free "$port" || die "127.0.0.1:$port is in use by another program: $(port_owner "$port")"
	log "starting nginx on http://127.0.0.1:$port (log $var/log/nginx-error.log)"
	nginx "${args[@]}" 3>&- 4>&- || {
		show_tail "$var/log/nginx-error.log"
		die "nginx failed to start"
	}
	for ((i = 0; i < 100; i++)); do
		[[ -s $var/run/nginx.pid ]] && ! port_free "$port" && return 0
		sleep 0.1
	done
	show_tail "$var/log/nginx-error.log"
	die "nginx did not start listening on 127.0.0.1:$port"
}

# stop_all VAR: nginx, tenantd, MariaDB, by their pid files only.
stop_all() {
	local var=$1
	[[ -d $var/run ]] || return 0
	stop_pidfile nginx "$var/run/nginx.pid"
	stop_pidfile tenantd "$var/run/tenantd.pid"
	rm -f "$(tenantd_socket "$var")"
	stop_pidfile mariadbd "$var/run/mysqld.pid"
}

# http_status URL [curl args...]: prints the HTTP status code (000 when unreachable).
http_status() {
	local url=$1; shift
	curl -s -o /dev/null -w '%{http_code}' --max-time 30 "$@" "$url" || true
}
