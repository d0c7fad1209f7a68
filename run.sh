#!/usr/bin/env bash
# One entry point that sets itself up: creates .venv (Python 3.11+) and installs the project on
# first use, or again when pyproject.toml changes, then runs what you ask for.
#   ./run.sh demo [--port 7860 ...]   the Gradio demo on the bundled model
#   ./run.sh test [pytest args ...]   the whole test suite
#   ./run.sh [sketchrnn args ...]     the command line, e.g. ./run.sh data info ../shared/data/spg/pig.ndjson.gz
set -euo pipefail
cd "$(dirname "$0")"

python_bin="${PYTHON:-}"
if [ -z "$python_bin" ]; then
    for candidate in python3.11 python3.12 python3.13 python3; do
        if command -v "$candidate" >/dev/null 2>&1; then python_bin="$candidate"; break; fi
    done
fi
if [ -z "$python_bin" ]; then echo "run.sh: no python3 found; install Python 3.11" >&2; exit 1; fi

stamp=".venv/.installed-$(cksum pyproject.toml | cut -d' ' -f1)"
if [ ! -f "$stamp" ]; then
    echo "run.sh: setting up .venv with $($python_bin --version) (first run only; about a minute)" >&2
    [ -x .venv/bin/python ] || "$python_bin" -m venv .venv
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -e '.[test]'
    rm -f .venv/.installed-*
    touch "$stamp"
fi

# Offline by default: no analytics, telemetry or version checks; quiet TensorFlow start-up.
export GRADIO_ANALYTICS_ENABLED=False HF_HUB_OFFLINE=1 HF_HUB_DISABLE_TELEMETRY=1
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-1}"

command="${1:-demo}"
[ $# -gt 0 ] && shift
case "$command" in
    demo) exec .venv/bin/python app.py "$@" ;;
    test) exec .venv/bin/python -m pytest "$@" ;;
    *) exec .venv/bin/sketchrnn "$command" "$@" ;;
esac
