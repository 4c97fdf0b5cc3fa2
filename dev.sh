#!/usr/bin/env bash
# One-stop set-up and launch. Creates .venv/ on first use, then:
#   ./dev.sh app [FILE] [args]   open the debugger (default: the bundled NaN example)
#   ./dev.sh test [pytest args]  run the test suite
#   ./dev.sh check FILE [args]   headless check
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}

setup() {
    if [ ! -x .venv/bin/python ]; then
        "$PY" -m venv .venv
        .venv/bin/python -m pip install -q --upgrade pip
    fi
    # torch first, pinned: on the project's machines this is a local CPU wheel; the package
    # itself accepts a range so an existing CUDA build is kept.
    if ! .venv/bin/python -c "import torch" 2>/dev/null; then
        .venv/bin/python -m pip install -q "torch==2.13.0"
    fi
    if ! .venv/bin/python -c "import torchlens_gui, pytestqt, transformers" 2>/dev/null \
        || [ pyproject.toml -nt .venv/.installed ]; then
        .venv/bin/python -m pip install -q -e ".[test]"
        touch .venv/.installed
    fi
}

cmd=${1:-app}
shift || true
setup
case "$cmd" in
    app)
        if [ $# -eq 0 ]; then set -- resources/examples/mlp_nan.py; fi
        exec .venv/bin/torchlens-gui "$@" ;;
    test)
        set +e
        QT_QPA_PLATFORM=offscreen .venv/bin/python -m pytest "$@"
        rc=$?
        # pytest exits 5 when it collected no tests: treat as failure only if tests exist.
        if [ $rc -eq 5 ]; then echo "no tests collected"; exit 1; fi
        exit $rc ;;
    check)
        exec .venv/bin/torchlens-gui check "$@" ;;
    *)
        echo "usage: ./dev.sh [app [FILE]|test|check FILE]" >&2; exit 2 ;;
esac
