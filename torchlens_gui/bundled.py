"""Where the files shipped with the app lie: the examples and the icon.

One folder, found in the three ways the app is installed: a wheel puts it inside the package
(torchlens_gui/_resources, mapped by setup.py), the packaged bundle carries that same package
folder, and a source checkout (or editable install) reads the repository's resources/.
"""

from __future__ import annotations

import os
from typing import Optional

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
_CANDIDATES = (
    os.path.join(_PACKAGE_DIR, "_resources"),
    os.path.join(os.path.dirname(_PACKAGE_DIR), "resources"),
)
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def resources_dir() -> str:
    """The folder that holds examples/ and icons/."""
    for folder in _CANDIDATES:
        if os.path.isdir(os.path.join(folder, "examples")):
            return folder
    raise FileNotFoundError("the bundled resources are missing (looked in "
                            + ", ".join(_CANDIDATES) + ")")


def example_path(name: str) -> str:
    """Path of a bundled example model file, e.g. ``example_path("mlp_nan.py")``."""
    return os.path.join(resources_dir(), "examples", name)


def icon_path(size: Optional[int] = None) -> str:
    """The app icon: the PNG of ``size`` pixels (one of ICON_SIZES), or the SVG for None."""
    icons = os.path.join(resources_dir(), "icons")
    if size is None:
        return os.path.join(icons, "torchlens-gui.svg")
    return os.path.join(icons, "hicolor", f"{size}x{size}", "apps", "torchlens-gui.png")
