"""The files shipped with the app (examples, icon) are found from a checkout; packaging tests
(RUN_PACKAGING=1) check the wheel and the bundle find them too."""

from __future__ import annotations

import os

from torchlens_gui.bundled import ICON_SIZES, example_path, icon_path, resources_dir


def test_examples_and_every_icon_size_exist():
    assert os.path.isfile(example_path("mlp_nan.py"))
    assert os.path.isfile(icon_path())
    for size in ICON_SIZES:
        with open(icon_path(size), "rb") as png:
            header = png.read(24)
        assert header[:8] == b"\x89PNG\r\n\x1a\n"
        width, height = int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")
        assert (width, height) == (size, size)


def test_desktop_entry_names_the_command_and_icon():
    with open(os.path.join(resources_dir(), "torchlens-gui.desktop")) as entry:
        text = entry.read()
    assert "Exec=torchlens-gui %f" in text and "Icon=torchlens-gui" in text
