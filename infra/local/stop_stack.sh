#!/usr/bin/env bash
# Stop what infra/local/start_stack.sh started, using the process ids it recorded:
#
#   infra/local/stop_stack.sh /tmp/lp-stack.XXXXXX/stack.env [--purge]
#
# The Ray worker node, then the head, then the MLflow server are stopped by process group
# (SIGTERM to the group's leader, SIGKILL to what is left after LP_STACK_GRACE_S seconds,
# default 16 as for `ray stop`), and PostgreSQL with `pg_ctl stop -m fast`. `ray stop` is deliberately not used: it stops every Ray process of the
# user on the machine, including other people's clusters. --purge also deletes the stack folder.
# Exits 1 if anything of the stack is still running at the end.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=infra/local/stack_lib.sh
source "$HERE/stack_lib.sh"

GRACE=${LP_STACK_GRACE_S:-16}

stop_group() {
    local label=$1 pgid=${2:-}
    [[ -n $pgid ]] || return 0
    if [[ -z $(stack_group_pids "$pgid") ]]; then
        stack_log "$label: not running"
    elif stack_group_is_ours "$pgid" "$LP_STACK_DIR"; then
        stack_log "$label: stopping process group $pgid"
        stack_stop_group "$pgid" "$GRACE"
    else
        stack_log "$label: process group $pgid does not belong to $LP_STACK_DIR, left alone"
    fi
}

stop_postgres() {
    [[ -n ${LP_STACK_PG_DATA:-} && -f $LP_STACK_PG_DATA/postmaster.pid ]] || {
        stack_log "PostgreSQL: not running"
        return 0
    }
    stack_log "PostgreSQL: pg_ctl stop"
    stack_as_pg_user "$LP_STACK_PG_OS_USER" "$LP_STACK_PG_BIN/pg_ctl" -D "$LP_STACK_PG_DATA" -m fast -w stop >/dev/null ||
        stack_log "PostgreSQL: pg_ctl stop failed"
    local waited=0
    while postgres_alive && ((waited < GRACE)); do
        sleep 1
        waited=$((waited + 1))
    done
}

# True while the recorded postmaster process exists (zombies excluded).
postgres_alive() {
    [[ -n ${LP_STACK_PG_PID:-} ]] || return 1
    local stat
    stat=$(ps -o stat= -p "$LP_STACK_PG_PID" 2>/dev/null) || return 1
    [[ -n $stat && $stat != Z* ]]
}

# Print what of the stack is still alive; nothing when everything is stopped.
leftovers() {
    local pgid
    for pgid in ${LP_STACK_RAY_WORKER_PGID:-} ${LP_STACK_RAY_HEAD_PGID:-} ${LP_STACK_MLFLOW_PGID:-}; do
        stack_group_pids "$pgid"
    done
    if postgres_alive; then
        echo "$LP_STACK_PG_PID"
    fi
}

main() {
    local env_file=${1:-} purge=${2:-}
    [[ -n $env_file && -f $env_file ]] || stack_die "usage: stop_stack.sh STACK_DIR/stack.env [--purge]"
    # shellcheck source=/dev/null
    source "$env_file"
    [[ -n ${LP_STACK_DIR:-} ]] || stack_die "$env_file has no LP_STACK_DIR: not written by start_stack.sh"
    stop_group "Ray worker" "${LP_STACK_RAY_WORKER_PGID:-}"
    stop_group "Ray head" "${LP_STACK_RAY_HEAD_PGID:-}"
    stop_group "MLflow" "${LP_STACK_MLFLOW_PGID:-}"
    stop_postgres
    local left
    left=$(leftovers | tr '\n' ' ')
    if [[ -n ${left// /} ]]; then
        stack_log "still running: $left"
        exit 1
    fi
    stack_log "stopped; nothing of $LP_STACK_DIR is running"
    if [[ $purge == --purge ]]; then
        rm -rf -- "$LP_STACK_DIR"
        stack_log "deleted $LP_STACK_DIR"
    fi
}

main "$@"
