# shellcheck shell=bash
# Helpers shared by start_stack.sh and stop_stack.sh (sourced, not run).

stack_log() {
    echo "[lp-stack] $*" >&2
}

stack_die() {
    echo "[lp-stack] error: $*" >&2
    exit 2
}

# 48 hex characters from the kernel's random source (passwords, tokens, secret keys).
stack_random_hex() {
    head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n'
}

# True when something already listens on HOST:PORT.
stack_port_in_use() {
    (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

# The folder with initdb/pg_ctl/createdb: $LP_STACK_PG_BIN, else the newest Debian
# /usr/lib/postgresql/<version>/bin, else the folder of `initdb` on PATH.
stack_find_pg_bin() {
    if [[ -n ${LP_STACK_PG_BIN:-} ]]; then
        [[ -x $LP_STACK_PG_BIN/initdb ]] || stack_die "LP_STACK_PG_BIN=$LP_STACK_PG_BIN has no initdb"
        printf '%s\n' "$LP_STACK_PG_BIN"
        return
    fi
    local dir
    dir=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1)
    if [[ -n $dir && -x $dir/initdb ]]; then
        printf '%s\n' "$dir"
        return
    fi
    if command -v initdb >/dev/null 2>&1; then
        dirname "$(readlink -f "$(command -v initdb)")"
        return
    fi
    stack_die "PostgreSQL server binaries not found: apt-get install -y postgresql (or set LP_STACK_PG_BIN)"
}

# PostgreSQL refuses to run as root, so as root the server commands run as $LP_STACK_PG_OS_USER
# (default: the Debian package's `postgres` account); as any other user they run as that user.
stack_pg_os_user() {
    if [[ $EUID -ne 0 ]]; then
        id -un
        return
    fi
    local user=${LP_STACK_PG_OS_USER:-postgres}
    id "$user" >/dev/null 2>&1 || stack_die "running as root needs an OS account for PostgreSQL: no user '$user'"
    printf '%s\n' "$user"
}

stack_as_pg_user() {
    local user=$1
    shift
    if [[ $user == "$(id -un)" ]]; then
        "$@"
    else
        runuser -u "$user" -- "$@"
    fi
}

# Print the live (not zombie) process ids of process group $1, one per line.
stack_group_pids() {
    ps -eo pid=,pgid=,stat= | awk -v g="$1" '$2 == g && $3 !~ /^Z/ { print $1 }'
}

# True when some process of group $1 has the stack folder $2 in its command line: guards
# against signalling a group whose id was reused by someone else's processes.
stack_group_is_ours() {
    local pid
    for pid in $(stack_group_pids "$1"); do
        if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$2"; then
            return 0
        fi
    done
    return 1
}

# Stop process group $1: SIGTERM to its leader (process id $1) while it lives, else to the whole
# group; after $2 seconds SIGKILL to whatever of the group is left.
stack_stop_group() {
    local pgid=$1 grace=$2 waited=0
    [[ -n $(stack_group_pids "$pgid") ]] || return 0
    if kill -0 "$pgid" 2>/dev/null; then
        kill -TERM "$pgid" 2>/dev/null || true
    else
        kill -TERM -- "-$pgid" 2>/dev/null || true
    fi
    while [[ -n $(stack_group_pids "$pgid") && $waited -lt $grace ]]; do
        sleep 1
        waited=$((waited + 1))
    done
    if [[ -n $(stack_group_pids "$pgid") ]]; then
        stack_log "process group $pgid still running after ${grace}s: SIGKILL"
        kill -KILL -- "-$pgid" 2>/dev/null || true
        sleep 1
    fi
}
