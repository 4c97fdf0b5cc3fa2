#!/usr/bin/env bash
# Build every installer of torchlens-gui from this checkout, then test each installed form.
#
#   packaging/build.sh
#
# Leaves in dist/: the sdist and the wheel, the one-folder bundle dist/torchlens-gui/
# (launcher dist/torchlens-gui/torchlens-gui), torchlens-gui-VERSION-linux-ARCH-FLAVOUR.tar.gz
# (bundle + per-user install.sh + desktop entry + icons) and torchlens-gui_VERSION_ARCH.deb.
# The tests run `--self-test` (and `check`) on the bundle, on the .deb unpacked into a throw-away
# root, on the .tar.gz installed into a throw-away home, and on the wheel installed into a fresh
# virtual environment; the lines they print are collected in dist/self-test.txt.
#
# Environment:
#   PYTHON          interpreter for the build environment (default python3, 3.10 or newer)
#   BUILD_VENV      the build environment (default build/packaging/venv). The torch installed
#                   there is the torch the bundle carries, and it is kept (pip constraints):
#                   put a CUDA build of torch there first to make a CUDA bundle.
#   TORCH_SPEC      what to install when BUILD_VENV has no torch yet (default torch==2.13.0)
#   TORCH_PIP_ARGS  extra pip arguments for installing torch (e.g. an --index-url)
#   DEB_COMPRESSION zstd (default) or xz (slow, for dpkg older than 1.21.18)
#   SKIP_TESTS=1    build only
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
PYTHON=${PYTHON:-python3}
WORK=$ROOT/build/packaging
BUILD_VENV=${BUILD_VENV:-$WORK/venv}
DIST=$ROOT/dist
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0}
TORCH_PIP_ARGS=${TORCH_PIP_ARGS:-}
REPORT=$DIST/self-test.txt
T0=$SECONDS

step() { printf '\n== %s   [%dm%02ds]\n' "$*" $(((SECONDS - T0) / 60)) $(((SECONDS - T0) % 60)); }
size() { du -sh "$1" | cut -f1; }
pip_quiet() { "$@" 2>&1 | grep -v "is ignored: it is neither" || true; }
# What the issue calls a clean environment: nothing of ours leaks in (no PYTHONPATH, no venv).
clean_run() {
    env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$TEST_HOME" LANG=C.UTF-8 \
        QT_QPA_PLATFORM=offscreen "$@"
}
# self_test LABEL COMMAND...: run COMMAND --self-test in a clean environment, keep its line.
self_test() {
    local label=$1 line
    shift
    line=$(clean_run "$@" --self-test) || { echo "$label: $line"; echo "SELF-TEST FAILED"; exit 1; }
    echo "$label: $line" | tee -a "$REPORT"
}
# check_example LABEL COMMAND EXAMPLE: `check --json` finds the example's NaN (exit status 1).
check_example() {
    local label=$1 command=$2 example=$3 rc=0
    clean_run "$command" check --json "$example" > "$WORK/check.json" 2> "$WORK/check.err" || rc=$?
    if [ "$rc" != 1 ] || ! "$VPY" -c 'import json, sys
report = json.load(open(sys.argv[1]))
codes = [d["code"] for d in report["diagnostics"]]
assert "non-finite" in codes, codes
print("check:", report["status"], codes)' "$WORK/check.json"; then
        echo "$label: check failed (exit $rc)"; cat "$WORK/check.err"; exit 1
    fi
    echo "$label: check --json exit $rc, found the NaN" | tee -a "$REPORT"
}

# run_example LABEL COMMAND SCRIPT: `run --headless --json` of the diverging training script.
run_example() {
    local label=$1 command=$2 script=$3 rc=0
    clean_run "$command" run --headless --json "$script" > "$WORK/run.json" 2> "$WORK/run.err" || rc=$?
    if [ "$rc" != 1 ] || ! "$VPY" -c 'import json, sys
report = json.load(open(sys.argv[1]))
codes = [d["code"] for d in report["diagnostics"]]
assert "diverging-loss" in codes, codes
print("run:", report["status"], codes)' "$WORK/run.json"; then
        echo "$label: run failed (exit $rc)"; tail -20 "$WORK/run.err"; exit 1
    fi
    echo "$label: run --headless --json exit $rc, found the diverging loss" | tee -a "$REPORT"
}

step "build environment: $BUILD_VENV"
mkdir -p "$WORK" "$DIST"
[ -x "$BUILD_VENV/bin/python" ] || "$PYTHON" -m venv "$BUILD_VENV"
VPY=$BUILD_VENV/bin/python
if ! "$VPY" -c "import torch" 2>/dev/null; then
    # shellcheck disable=SC2086  # TORCH_PIP_ARGS is a list of words
    pip_quiet "$VPY" -m pip install -q $TORCH_PIP_ARGS "$TORCH_SPEC"
fi
TORCH_VERSION=$("$VPY" -c "import torch; print(torch.__version__)" 2>/dev/null)
FLAVOUR=$("$VPY" -c "import torch; print('cu' + torch.version.cuda.replace('.', '') if torch.version.cuda else 'cpu')" 2>/dev/null)
# Keeps the torch above whatever else pip installs (a CUDA build is never swapped for another).
echo "torch==$TORCH_VERSION" > "$WORK/constraints.txt"
pip_quiet "$VPY" -m pip install -q -c "$WORK/constraints.txt" -r packaging/requirements-build.txt
VERSION=$("$VPY" -c "import torchlens_gui; print(torchlens_gui.__version__)")
ARCH=$(uname -m)
DEB_ARCH=$(dpkg --print-architecture 2>/dev/null || echo "$ARCH")
echo "torchlens-gui $VERSION, torch $TORCH_VERSION ($FLAVOUR), $ARCH"
rm -rf "$DIST/torchlens-gui" "$DIST"/torchlens_gui-"$VERSION"* "$DIST"/torchlens-gui-"$VERSION"-* \
    "$DIST"/torchlens-gui_"$VERSION"_*.deb "$REPORT"

step "sdist and wheel (the wheel is built from the sdist)"
rm -rf "$ROOT/build/lib" "$ROOT/build/bdist."*
"$VPY" -m build --no-isolation --outdir "$DIST" . > "$WORK/build-wheel.log" 2>&1 \
    || { tail -30 "$WORK/build-wheel.log"; exit 1; }
WHEEL=$DIST/torchlens_gui-$VERSION-py3-none-any.whl
SDIST=$DIST/torchlens_gui-$VERSION.tar.gz
ls -l "$SDIST" "$WHEEL"

step "bundle (PyInstaller)"
pip_quiet "$VPY" -m pip install -q -c "$WORK/constraints.txt" "$WHEEL"
pip_quiet "$VPY" -m pip install -q --no-deps --force-reinstall "$WHEEL"  # this build's code
# From the work folder, so the installed package is bundled, not the checkout beside it.
(cd "$WORK" && "$BUILD_VENV/bin/pyinstaller" --noconfirm --clean --log-level WARN \
    --distpath "$DIST" --workpath "$WORK/pyinstaller" "$ROOT/packaging/torchlens-gui.spec")
BUNDLE=$DIST/torchlens-gui
echo "bundle after trimming: $(size "$BUNDLE")"
if command -v strip >/dev/null; then
    # torch's own libraries ship their symbol tables (~90 MB); the dynamic symbols stay.
    strip --strip-unneeded "$BUNDLE"/_internal/torch/lib/lib*.so*
    echo "bundle after stripping torch's libraries: $(size "$BUNDLE")"
fi
EXAMPLE=$BUNDLE/_internal/torchlens_gui/_resources/examples/mlp_nan.py
ICONS=$ROOT/resources/icons

step ".tar.gz (bundle + per-user install script + desktop entry + icons)"
TOP=torchlens-gui-$VERSION
STAGE=$WORK/tar/$TOP
rm -rf "$WORK/tar" && mkdir -p "$STAGE/share/applications" "$STAGE/share/icons/hicolor/scalable/apps"
install -m 755 packaging/install.sh "$STAGE/install.sh"
cp resources/torchlens-gui.desktop "$STAGE/share/applications/"
cp -R "$ICONS/hicolor/." "$STAGE/share/icons/hicolor/"
cp "$ICONS/torchlens-gui.svg" "$STAGE/share/icons/hicolor/scalable/apps/"
# Hard links: the bundle is not copied (falls back to a copy across file systems).
cp -al "$BUNDLE" "$STAGE/torchlens-gui" 2>/dev/null || cp -a "$BUNDLE" "$STAGE/torchlens-gui"
TARBALL=$DIST/torchlens-gui-$VERSION-linux-$ARCH-$FLAVOUR.tar.gz
GZIP_CMD=$(command -v pigz || echo gzip)
# Compressed in the background while the .deb is made and the bundle tested (two cores).
tar --owner=0 --group=0 -I "$GZIP_CMD" -cf "$TARBALL" -C "$WORK/tar" "$TOP" &
TAR_PID=$!

step ".deb (/opt/torchlens-gui, /usr/bin/torchlens-gui)"
DEBROOT=$WORK/deb
rm -rf "$DEBROOT" && mkdir -p "$DEBROOT/DEBIAN" "$DEBROOT/opt" "$DEBROOT/usr/bin" \
    "$DEBROOT/usr/share/applications" "$DEBROOT/usr/share/icons/hicolor/scalable/apps"
cp -al "$BUNDLE" "$DEBROOT/opt/torchlens-gui" 2>/dev/null || cp -a "$BUNDLE" "$DEBROOT/opt/torchlens-gui"
install -m 755 packaging/deb-launcher.sh "$DEBROOT/usr/bin/torchlens-gui"
install -m 644 resources/torchlens-gui.desktop "$DEBROOT/usr/share/applications/"
cp -R "$ICONS/hicolor/." "$DEBROOT/usr/share/icons/hicolor/"
cp "$ICONS/torchlens-gui.svg" "$DEBROOT/usr/share/icons/hicolor/scalable/apps/"
chmod -R u+rwX,go+rX,go-w "$DEBROOT"
# The system libraries Qt's window needs: the same table the app's start-up check reads.
DEPENDS=$("$VPY" -c "from torchlens_gui.gui.display_check import GUI_LIBRARIES, XCB_LIBRARIES as X
print(', '.join(sorted({package for _, package in GUI_LIBRARIES + X})))")
RECOMMENDS=$("$VPY" -c "from torchlens_gui.gui.display_check import WAYLAND_LIBRARIES as W
print(', '.join(sorted({package for _, package in W})))")
cat > "$DEBROOT/DEBIAN/control" <<EOF
Package: torchlens-gui
Version: $VERSION
Section: devel
Priority: optional
Architecture: $DEB_ARCH
Maintainer: torchlens-gui developers <torchlens-gui@users.noreply.invalid>
Installed-Size: $(du -sk --exclude=DEBIAN "$DEBROOT" | cut -f1)
Depends: $DEPENDS
Recommends: $RECOMMENDS
Description: step-through debugger for PyTorch models
 A desktop window that steps through a PyTorch model's forward and backward
 module by module, shows shapes, dtypes, NaN/Inf and gradients live, and says
 where each problem was born (module, op, source line) and how to fix it.
 .
 Self-contained: carries Python, torch $TORCH_VERSION ($FLAVOUR) and Qt in
 /opt/torchlens-gui.
EOF
DEB=$DIST/torchlens-gui_${VERSION}_$DEB_ARCH.deb
# zstd: xz takes over five minutes on two cores for this size; dpkg reads zstd since 1.21.18
# (Debian 12, Ubuntu 21.10). DEB_COMPRESSION=xz for older systems.
dpkg-deb --root-owner-group -Z"${DEB_COMPRESSION:-zstd}" --build "$DEBROOT" "$DEB" > /dev/null
ls -l "$DEB"
dpkg-deb --field "$DEB" Depends

if [ "${SKIP_TESTS:-0}" = 1 ]; then
    wait "$TAR_PID"
    step "done (tests skipped)"
    exit 0
fi
TEST_HOME=$WORK/home
rm -rf "$TEST_HOME" && mkdir -p "$TEST_HOME"

step "test: the bundle in a clean environment"
self_test "bundle" "$BUNDLE/torchlens-gui"
check_example "bundle" "$BUNDLE/torchlens-gui" "$EXAMPLE"
run_example "bundle" "$BUNDLE/torchlens-gui" "$(dirname "$EXAMPLE")/diverging_training.py"

step "test: the .deb unpacked into a throw-away root (dpkg -x)"
DEBTEST=$WORK/deb-root
rm -rf "$DEBTEST" && dpkg -x "$DEB" "$DEBTEST"
self_test "deb" "$DEBTEST/usr/bin/torchlens-gui"
check_example "deb" "$DEBTEST/usr/bin/torchlens-gui" \
    "$DEBTEST/opt/torchlens-gui/_internal/torchlens_gui/_resources/examples/mlp_nan.py"

step "test: the .tar.gz installed for a throw-away user"
wait "$TAR_PID"
ls -l "$TARBALL"
TARTEST=$WORK/tar-test
rm -rf "$TARTEST" && mkdir -p "$TARTEST"
tar -xzf "$TARBALL" -C "$TARTEST"
clean_run "$TARTEST/$TOP/install.sh"
grep -q "^Exec=$TEST_HOME/.local/bin/torchlens-gui %f" \
    "$TEST_HOME/.local/share/applications/torchlens-gui.desktop"
test -f "$TEST_HOME/.local/share/icons/hicolor/256x256/apps/torchlens-gui.png"
self_test "tar.gz" "$TEST_HOME/.local/bin/torchlens-gui"
clean_run "$TARTEST/$TOP/install.sh" --uninstall
test ! -e "$TEST_HOME/.local/bin/torchlens-gui"

step "test: the wheel in a fresh virtual environment"
WHEELTEST=$WORK/wheel-venv
rm -rf "$WHEELTEST" && "$PYTHON" -m venv "$WHEELTEST"
# shellcheck disable=SC2086
pip_quiet "$WHEELTEST/bin/python" -m pip install -q $TORCH_PIP_ARGS -c "$WORK/constraints.txt" \
    "torch==$TORCH_VERSION"
pip_quiet "$WHEELTEST/bin/python" -m pip install -q -c "$WORK/constraints.txt" "$WHEEL"
WHEEL_EXAMPLE=$("$WHEELTEST/bin/python" -c "from torchlens_gui.bundled import example_path, icon_path
import os
assert os.path.isfile(icon_path(48)) and os.path.isfile(icon_path()), 'icons missing'
print(example_path('mlp_nan.py'))")
case "$WHEEL_EXAMPLE" in "$WHEELTEST"/*) ;; *) echo "example not from the wheel: $WHEEL_EXAMPLE"; exit 1 ;; esac
self_test "wheel" "$WHEELTEST/bin/torchlens-gui"
check_example "wheel" "$WHEELTEST/bin/torchlens-gui" "$WHEEL_EXAMPLE"

step "done"
ls -l "$SDIST" "$WHEEL" "$TARBALL" "$DEB"
echo "bundle: $(size "$BUNDLE")"
cat "$REPORT"
