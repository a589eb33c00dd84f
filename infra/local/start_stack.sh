#!/usr/bin/env bash
# A one-machine copy of the lp_sweeps deployment stack for testing, each service a separate
# process on a loopback address:
#
#   PostgreSQL  127.0.0.1:$LP_STACK_PG_PORT (55432)         MLflow's backend store, database "mlflow"
#   MLflow      http://127.0.0.1:$LP_STACK_MLFLOW_PORT (55000)  infra/mlflow/start_server.sh, artifacts in the stack folder
#   Ray head    $LP_STACK_RAY_HEAD_IP:$LP_STACK_RAY_PORT (127.0.0.3:56379), $LP_STACK_RAY_CPUS (1) CPUs, resource node_head,
#               dashboard http://127.0.0.1:$LP_STACK_RAY_DASHBOARD_PORT (58265)
#   Ray worker  $LP_STACK_RAY_WORKER_IP (127.0.0.2), $LP_STACK_RAY_CPUS (1) CPUs, resource node_worker
#
# Everything is written under $LP_STACK_DIR (default: a new /tmp/lp-stack.XXXXXX). The addresses,
# credentials and process ids go to $LP_STACK_DIR/stack.env (mode 600), printed with secrets masked:
#
#   source "$LP_STACK_DIR/stack.env"
#   lp-sweep launch search_spaces/quickstart.yaml --address "$RAY_ADDRESS" --tracking-uri "$MLFLOW_TRACKING_URI"
#   infra/local/stop_stack.sh "$LP_STACK_DIR/stack.env"
#
# Other settings: LP_STACK_RAY_AUTH_MODE (token|disabled, default token), LP_STACK_MLFLOW_AUTH=1
# (MLflow basic auth; needs Flask-WTF, i.e. `pip install 'mlflow[auth]'`), LP_STACK_RAY_MEMORY /
# LP_STACK_RAY_OBJECT_STORE_MEMORY (bytes per node), LP_STACK_BIN (folder with ray and mlflow,
# default the repository's .venv/bin), LP_STACK_PG_BIN, LP_STACK_PG_OS_USER (see stack_lib.sh).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
# shellcheck source=infra/local/stack_lib.sh
source "$HERE/stack_lib.sh"

STARTED=0

settings() {
    STACK_DIR=${LP_STACK_DIR:-}
    PG_PORT=${LP_STACK_PG_PORT:-55432}
    MLFLOW_PORT=${LP_STACK_MLFLOW_PORT:-55000}
    RAY_PORT=${LP_STACK_RAY_PORT:-56379}
    DASHBOARD_PORT=${LP_STACK_RAY_DASHBOARD_PORT:-58265}
    CLIENT_PORT=${LP_STACK_RAY_CLIENT_PORT:-50001}
    HEAD_IP=${LP_STACK_RAY_HEAD_IP:-127.0.0.3}
    WORKER_IP=${LP_STACK_RAY_WORKER_IP:-127.0.0.2}
    RAY_CPUS=${LP_STACK_RAY_CPUS:-1}
    RAY_MEMORY=${LP_STACK_RAY_MEMORY:-2000000000}
    OBJECT_STORE=${LP_STACK_RAY_OBJECT_STORE_MEMORY:-200000000}
    RAY_AUTH=${LP_STACK_RAY_AUTH_MODE:-token}
    MLFLOW_AUTH=${LP_STACK_MLFLOW_AUTH:-0}
    if [[ -n ${LP_STACK_BIN:-} ]]; then
        BIN=$LP_STACK_BIN
    elif [[ -x $REPO/.venv/bin/ray ]]; then
        BIN=$REPO/.venv/bin
    elif command -v ray >/dev/null; then
        BIN=$(dirname "$(command -v ray)")
    else
        stack_die "ray not found: pip install -e . in a venv (or set LP_STACK_BIN)"
    fi
}

preflight() {
    [[ $RAY_AUTH == token || $RAY_AUTH == disabled ]] || stack_die "LP_STACK_RAY_AUTH_MODE must be token or disabled"
    local spec tool
    for spec in "127.0.0.1:$PG_PORT" "127.0.0.1:$MLFLOW_PORT" "$HEAD_IP:$RAY_PORT" "127.0.0.1:$RAY_PORT" \
        "127.0.0.1:$DASHBOARD_PORT" "127.0.0.1:$CLIENT_PORT"; do
        if stack_port_in_use "${spec%:*}" "${spec##*:}"; then
            stack_die "$spec is already in use; choose other LP_STACK_*_PORT values"
        fi
    done
    for tool in "$BIN/ray" "$BIN/mlflow" "$BIN/python"; do
        [[ -x $tool ]] || stack_die "$tool not found (set LP_STACK_BIN to the folder holding ray, mlflow, python)"
    done
    command -v curl >/dev/null || stack_die "curl is needed for the health checks"
    "$BIN/python" -c "import psycopg2" 2>/dev/null ||
        stack_die "MLflow needs a PostgreSQL driver: $BIN/python -m pip install psycopg2-binary"
    if [[ $MLFLOW_AUTH == 1 ]]; then
        "$BIN/python" -c "import flask_wtf" 2>/dev/null ||
            stack_die "MLflow basic auth needs Flask-WTF: $BIN/python -m pip install 'mlflow[auth]'"
    fi
}

# Append `export KEY=VALUE` (shell-quoted) to the env file.
record() {
    printf 'export %s=%q\n' "$1" "$2" >>"$ENV_FILE"
}

init_env_file() {
    if [[ -z $STACK_DIR ]]; then
        STACK_DIR=$(mktemp -d /tmp/lp-stack.XXXXXX)
    fi
    [[ ! -e $STACK_DIR/stack.env ]] || stack_die "$STACK_DIR already holds a stack (stack.env): stop it, or use another LP_STACK_DIR"
    mkdir -p "$STACK_DIR"
    ENV_FILE=$STACK_DIR/stack.env
    chmod 711 "$STACK_DIR" # the PostgreSQL account must be able to reach its folder inside
    (umask 077 && : >"$ENV_FILE")
    {
        echo "# lp_sweeps local stack, started $(date -Iseconds) by start_stack.sh"
        echo "# stop it with: $HERE/stop_stack.sh $ENV_FILE"
    } >>"$ENV_FILE"
    record LP_STACK_DIR "$STACK_DIR"
    record LP_STACK_BIN "$BIN"
}

start_postgres() {
    local bin user dir password
    bin=$(stack_find_pg_bin)
    user=$(stack_pg_os_user)
    dir=$STACK_DIR/postgres
    mkdir -p "$dir/run"
    password=$(stack_random_hex)
    (umask 077 && printf '%s\n' "$password" >"$dir/pwfile")
    [[ $user == "$(id -un)" ]] || chown -R "$user" "$dir"
    record LP_STACK_PG_BIN "$bin"
    record LP_STACK_PG_OS_USER "$user"
    record LP_STACK_PG_DATA "$dir/data"
    stack_log "PostgreSQL: initdb as OS user '$user' ($bin)"
    if ! stack_as_pg_user "$user" "$bin/initdb" -D "$dir/data" -U mlflow --pwfile="$dir/pwfile" \
        --auth=scram-sha-256 -E UTF8 --locale=C >"$dir/initdb.log" 2>&1; then
        tail -n 20 "$dir/initdb.log" >&2
        stack_die "initdb failed (log: $dir/initdb.log)"
    fi
    rm -f "$dir/pwfile"
    stack_as_pg_user "$user" "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 start \
        -o "-k $dir/run -h 127.0.0.1 -p $PG_PORT" >/dev/null ||
        stack_die "PostgreSQL did not start (log: $dir/postgres.log)"
    record LP_STACK_PG_PID "$(head -n 1 "$dir/data/postmaster.pid")"
    PGPASSWORD=$password "$bin/createdb" -h 127.0.0.1 -p "$PG_PORT" -U mlflow mlflow
    record PGHOST 127.0.0.1
    record PGPORT "$PG_PORT"
    record PGUSER mlflow
    record PGDATABASE mlflow
    record PGPASSWORD "$password"
    BACKEND_URI="postgresql+psycopg2://mlflow:$password@127.0.0.1:$PG_PORT/mlflow"
}

# Basic-auth settings for the server (ini file, admin account, CSRF key) and the clients'
# credentials. The admin password only exists in process environments and the env file.
mlflow_auth_env() {
    local ini=$STACK_DIR/mlflow_basic_auth.ini password
    password=$(stack_random_hex)
    sed -e "s#^database_uri = .*#database_uri = sqlite:///$STACK_DIR/mlflow_auth.db#" \
        -e "s#^admin_username = .*#admin_username = admin#" \
        "$REPO/infra/mlflow/basic_auth.ini.example" >"$ini"
    AUTH_ENV=(MLFLOW_AUTH_CONFIG_PATH="$ini" MLFLOW_AUTH_ADMIN_USERNAME=admin
        MLFLOW_AUTH_ADMIN_PASSWORD="$password" MLFLOW_FLASK_SERVER_SECRET_KEY="$(stack_random_hex)")
    record MLFLOW_TRACKING_USERNAME admin
    record MLFLOW_TRACKING_PASSWORD "$password"
    # The Ray nodes started later inherit these, and so do the trials, which log from the nodes.
    export MLFLOW_TRACKING_USERNAME=admin MLFLOW_TRACKING_PASSWORD=$password
}

start_mlflow() {
    AUTH_ENV=()
    if [[ $MLFLOW_AUTH == 1 ]]; then
        mlflow_auth_env
    fi
    mkdir -p "$STACK_DIR/mlartifacts"
    stack_log "MLflow: starting on 127.0.0.1:$MLFLOW_PORT (log: $STACK_DIR/mlflow.log)"
    env MLFLOW_BACKEND_STORE_URI="$BACKEND_URI" MLFLOW_ARTIFACTS_DESTINATION="$STACK_DIR/mlartifacts" \
        MLFLOW_HOST=127.0.0.1 MLFLOW_PORT="$MLFLOW_PORT" MLFLOW_WORKERS=1 MLFLOW_BIN="$BIN/mlflow" \
        "${AUTH_ENV[@]}" setsid "$REPO/infra/mlflow/start_server.sh" >"$STACK_DIR/mlflow.log" 2>&1 &
    local pid=$! waited=0
    record LP_STACK_MLFLOW_PGID "$pid"
    record MLFLOW_TRACKING_URI "http://127.0.0.1:$MLFLOW_PORT"
    until curl -fsS "http://127.0.0.1:$MLFLOW_PORT/health" >/dev/null 2>&1; do
        kill -0 "$pid" 2>/dev/null || { tail -n 20 "$STACK_DIR/mlflow.log" >&2; stack_die "MLflow server exited"; }
        waited=$((waited + 2))
        ((waited <= 180)) || stack_die "MLflow not healthy after 180 s (log: $STACK_DIR/mlflow.log)"
        sleep 2
    done
    stack_log "MLflow: healthy after about ${waited}s"
}

ray_env() {
    export RAY_USAGE_STATS_ENABLED=0 RAY_AUTH_MODE=$RAY_AUTH
    record RAY_USAGE_STATS_ENABLED 0
    record RAY_AUTH_MODE "$RAY_AUTH"
    if [[ $RAY_AUTH == token ]]; then
        export RAY_AUTH_TOKEN_PATH=$STACK_DIR/ray_auth_token
        (umask 077 && stack_random_hex >"$RAY_AUTH_TOKEN_PATH")
        record RAY_AUTH_TOKEN_PATH "$RAY_AUTH_TOKEN_PATH"
    fi
}

# Run `ray start --block ARGS...` in a new session and wait until it reports the node started.
# The blocking process is the leader of one process group holding every process of the node:
# stop_stack.sh sends it SIGTERM (Ray then drains the node and stops its processes) and cleans up
# the group. The group id is recorded under the name $1.
ray_start() {
    local name=$1 log=$2
    shift 2
    setsid "$BIN/ray" start "$@" --block --temp-dir="$STACK_DIR/ray" --disable-usage-stats >"$log" 2>&1 &
    local pid=$! waited=0
    record "$name" "$pid"
    until grep -q "Ray runtime started" "$log"; do
        kill -0 "$pid" 2>/dev/null || { tail -n 20 "$log" >&2; stack_die "ray start failed (log: $log)"; }
        waited=$((waited + 1))
        ((waited <= 180)) || stack_die "ray start did not finish within 180 s (log: $log)"
        sleep 1
    done
}

start_ray() {
    ray_env
    local common=(--num-cpus="$RAY_CPUS" --memory="$RAY_MEMORY" --object-store-memory="$OBJECT_STORE")
    stack_log "Ray: head on $HEAD_IP:$RAY_PORT"
    ray_start LP_STACK_RAY_HEAD_PGID "$STACK_DIR/ray_head.log" --head --node-ip-address="$HEAD_IP" \
        --port="$RAY_PORT" --ray-client-server-port="$CLIENT_PORT" "${common[@]}" --resources='{"node_head": 1}' \
        --include-dashboard=true --dashboard-host=127.0.0.1 --dashboard-port="$DASHBOARD_PORT"
    record RAY_ADDRESS "$HEAD_IP:$RAY_PORT"
    record LP_STACK_RAY_DASHBOARD_URL "http://127.0.0.1:$DASHBOARD_PORT"
    stack_log "Ray: worker node on $WORKER_IP"
    ray_start LP_STACK_RAY_WORKER_PGID "$STACK_DIR/ray_worker.log" --address="$HEAD_IP:$RAY_PORT" \
        --node-ip-address="$WORKER_IP" "${common[@]}" --resources='{"node_worker": 1}'
    local waited=0 nodes=0
    while ((nodes < 2)); do
        nodes=$("$BIN/ray" status --address="$HEAD_IP:$RAY_PORT" 2>/dev/null | grep -cE '^ +1 node_' || true)
        ((nodes >= 2)) && break
        waited=$((waited + 2))
        ((waited <= 60)) || stack_die "the Ray cluster has $nodes node(s) after 60 s"
        sleep 2
    done
    stack_log "Ray: $nodes nodes up"
}

print_env_file() {
    echo "# ---- $ENV_FILE (secrets masked here; the file has them) ----"
    sed -E 's/^(export [A-Z_]*PASSWORD)=.*/\1=<in the file>/' "$ENV_FILE"
}

on_exit() {
    local status=$?
    if [[ $STARTED != 1 && -n ${ENV_FILE:-} && -f $ENV_FILE ]]; then
        stack_log "start failed: stopping what was started"
        "$HERE/stop_stack.sh" "$ENV_FILE" || true
    fi
    exit "$status"
}

main() {
    settings
    preflight
    init_env_file
    trap on_exit EXIT
    start_postgres
    start_mlflow
    start_ray
    STARTED=1
    print_env_file
}

main "$@"
