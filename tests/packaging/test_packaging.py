"""The installers end to end: packaging/build.sh builds the sdist, the wheel, the bundle, the
.tar.gz and the .deb and runs each installed form's self-test. About ten minutes on two cores,
so it runs only when asked: RUN_PACKAGING=1 ./dev.sh test tests/packaging"""

from __future__ import annotations

import os
import subprocess

import pytest

import torchlens_gui

pytestmark = pytest.mark.skipif(os.environ.get("RUN_PACKAGING") != "1",
                                reason="builds the installers (~10 min): set RUN_PACKAGING=1")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DIST = os.path.join(ROOT, "dist")
VERSION = torchlens_gui.__version__


def test_build_script_makes_every_installer_and_each_passes_its_self_test():
    result = subprocess.run(["bash", os.path.join(ROOT, "packaging", "build.sh")], cwd=ROOT,
                            capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]

    names = os.listdir(DIST)
    assert f"torchlens_gui-{VERSION}-py3-none-any.whl" in names
    assert f"torchlens_gui-{VERSION}.tar.gz" in names
    assert any(n.startswith(f"torchlens-gui-{VERSION}-linux-") and n.endswith(".tar.gz")
               for n in names)
    deb = next(n for n in names if n.startswith(f"torchlens-gui_{VERSION}_") and n.endswith(".deb"))
    depends = subprocess.run(["dpkg-deb", "--field", os.path.join(DIST, deb), "Depends"],
                             capture_output=True, text=True, check=True).stdout
    assert "libxcb-cursor0" in depends and "libxkbcommon-x11-0" in depends
    assert os.access(os.path.join(DIST, "torchlens-gui", "torchlens-gui"), os.X_OK)

    with open(os.path.join(DIST, "self-test.txt")) as report:
        lines = report.read().splitlines()
    for form, kind in (("bundle", "bundle"), ("deb", "bundle"), ("tar.gz", "bundle"),
                       ("wheel", "python")):
        line = next((x for x in lines if x.startswith(f"{form}: self-test OK")), None)
        assert line is not None, lines
        assert f"torchlens-gui {VERSION} ({kind})" in line
        assert "mlp_nan.py -> non-finite in norm at mlp_nan.py:" in line
    for form in ("bundle", "deb", "wheel"):
        assert f"{form}: check --json exit 1, found the NaN" in lines
