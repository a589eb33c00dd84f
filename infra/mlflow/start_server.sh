#!/usr/bin/env bash
# Start an MLflow tracking server for lp_sweeps, configured only through the environment.
#
#   MLFLOW_BACKEND_STORE_URI      required: postgresql://USER:PASSWORD@HOST:5432/DB (or sqlite:///...)
#   MLFLOW_ARTIFACTS_DESTINATION  required: s3://bucket/prefix, or a local folder
#   MLFLOW_HOST                   interface to bind (default 127.0.0.1; 0.0.0.0 only behind a firewall/proxy)
#   MLFLOW_PORT                   port (default 5000)
#   MLFLOW_WORKERS                server worker processes (default 2)
#   MLFLOW_ALLOWED_HOSTS          Host headers to accept when clients use a DNS name or public IP
#   MLFLOW_AUTH_CONFIG_PATH       basic-auth config (see basic_auth.ini.example); when set, the server
#                                 runs with --app-name basic-auth and needs MLFLOW_FLASK_SERVER_SECRET_KEY
#                                 (and MLFLOW_AUTH_ADMIN_PASSWORD, at least 12 characters, on first start)
#   MLFLOW_BIN                    the mlflow executable (default: mlflow on PATH)
#   MLFLOW_DRY_RUN=1              print the command (password in the store URI masked) and exit
#
# Secrets stay in the environment: `mlflow server` reads MLFLOW_BACKEND_STORE_URI itself (it is the
# environment form of --backend-store-uri), so the database password never appears on a command
# line that `ps` shows to other users, and nothing here writes it to disk or to the log.
set -euo pipefail

die() {
    echo "start_server.sh: error: $*" >&2
    exit 2
}

# postgresql://user:secret@host/db -> postgresql://user:REDACTED@host/db (for printing only)
mask_uri() {
    printf '%s' "$1" | sed -E 's#^([A-Za-z][A-Za-z0-9+.-]*://[^:/@]+):[^@]*@#\1:REDACTED@#'
}

build_command() {
    [[ -n ${MLFLOW_BACKEND_STORE_URI:-} ]] ||
        die "set MLFLOW_BACKEND_STORE_URI, e.g. postgresql://mlflow:PASSWORD@127.0.0.1:5432/mlflow"
    [[ -n ${MLFLOW_ARTIFACTS_DESTINATION:-} ]] ||
        die "set MLFLOW_ARTIFACTS_DESTINATION, e.g. s3://mlflow-artifacts or /srv/mlflow/artifacts"
    local port=${MLFLOW_PORT:-5000}
    local workers=${MLFLOW_WORKERS:-2}
    [[ $port =~ ^[0-9]+$ ]] || die "MLFLOW_PORT must be a number, got '$port'"
    [[ $workers =~ ^[0-9]+$ ]] || die "MLFLOW_WORKERS must be a number, got '$workers'"
    export MLFLOW_BACKEND_STORE_URI
    COMMAND=("${MLFLOW_BIN:-mlflow}" server
        --artifacts-destination "$MLFLOW_ARTIFACTS_DESTINATION"
        --serve-artifacts
        --host "${MLFLOW_HOST:-127.0.0.1}"
        --port "$port"
        --workers "$workers")
    if [[ -n ${MLFLOW_ALLOWED_HOSTS:-} ]]; then
        COMMAND+=(--allowed-hosts "$MLFLOW_ALLOWED_HOSTS")
    fi
    if [[ -n ${MLFLOW_AUTH_CONFIG_PATH:-} ]]; then
        [[ -f $MLFLOW_AUTH_CONFIG_PATH ]] || die "MLFLOW_AUTH_CONFIG_PATH=$MLFLOW_AUTH_CONFIG_PATH is not a file"
        [[ -n ${MLFLOW_FLASK_SERVER_SECRET_KEY:-} ]] ||
            die "basic auth (MLFLOW_AUTH_CONFIG_PATH is set) needs MLFLOW_FLASK_SERVER_SECRET_KEY"
        COMMAND+=(--app-name basic-auth)
    fi
}

print_command() {
    printf 'MLFLOW_BACKEND_STORE_URI=%q ' "$(mask_uri "$MLFLOW_BACKEND_STORE_URI")"
    printf '%q ' "${COMMAND[@]}"
    printf '\n'
}

main() {
    build_command
    if [[ ${MLFLOW_DRY_RUN:-0} == 1 ]]; then
        print_command
        exit 0
    fi
    exec "${COMMAND[@]}"
}

main "$@"
