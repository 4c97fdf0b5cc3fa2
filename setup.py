"""Packages of the wheel. Metadata lives in pyproject.toml; this file exists only because the
resources/ folder at the top of the repository (examples, icons, desktop entry) is shipped
inside the package as torchlens_gui/_resources, a mapping pyproject.toml cannot express next to
package discovery.
"""

import os

from setuptools import find_packages, setup


def resource_packages() -> list:
    """resources/ and each folder below it, named as packages (setuptools ships folders so)."""
    names = []
    for folder, subfolders, _ in os.walk("resources"):
        subfolders[:] = sorted(d for d in subfolders if d != "__pycache__")
        names.append("torchlens_gui._resources" + folder[len("resources"):].replace(os.sep, "."))
    return names


setup(
    packages=find_packages(include=["torchlens_gui*"]) + resource_packages(),
    package_dir={"torchlens_gui._resources": "resources"},
    package_data={"torchlens_gui._resources": ["*.desktop"], "": ["*.svg", "*.png"]},
)
