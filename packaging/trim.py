"""What the bundle leaves out: modules the app never imports and files no running app reads.

The app uses QtCore/QtGui/QtWidgets (and pyqtgraph on them) and torch's Python API on CPU or
CUDA. Build tooling, tests, headers and static libraries of torch, and Qt's QML/Quick,
designer, SQL, printing and network plugins are dead weight in an app bundle.
"""

from __future__ import annotations

import fnmatch
import os

EXCLUDED_MODULES = [
    # Qt modules the window never imports (pyqtgraph tries QtTest and QtOpenGLWidgets and
    # carries on without them). QtOpenGL stays: pyqtgraph's curves import it.
    "PySide6.QtQml", "PySide6.QtQuick", "PySide6.QtQuickWidgets", "PySide6.QtQuickControls2",
    "PySide6.QtNetwork", "PySide6.QtSql", "PySide6.QtTest", "PySide6.QtDesigner",
    "PySide6.QtUiTools", "PySide6.QtXml", "PySide6.QtHelp", "PySide6.QtPrintSupport",
    "PySide6.QtOpenGLWidgets", "PySide6.QtDBus", "PySide6.QtConcurrent",
    "PySide6.QtNetworkAuth", "PySide6.QtPdf", "PySide6.QtPdfWidgets", "PySide6.QtStateMachine",
    "PySide6.scripts",
    "pyqtgraph.opengl", "pyqtgraph.examples", "pyqtgraph.canvas", "pyqtgraph.jupyter",
    "pyqtgraph.console", "pyqtgraph.flowchart", "pyqtgraph.multiprocess",
    "OpenGL", "matplotlib", "IPython", "jupyter_rfb", "h5py", "cupy",
    # torch's tooling for other jobs (tensorboard, ONNX export, profiling scripts). Its
    # testing._internal stays: torch._refs imports a helper from it, and torch.profiler
    # imports torch.utils.benchmark.
    "torch.utils.tensorboard", "torch.utils.bottleneck", "torch.onnx", "torch.utils.model_dump",
    "tkinter", "unittest.test", "test", "lib2to3", "pydoc_data",
]

# (pattern on the path inside the bundle, why). Top-level lib*.so names are system libraries
# PyInstaller copied only because a plugin dropped here needs them.
_GTK_THEME_LIBS = ("libatk-1.0.so*", "libcairo*.so*", "libpango*.so*", "libgdk_pixbuf*.so*",
                   "libharfbuzz.so*", "libgraphite2.so*", "libthai.so*", "libdatrie.so*",
                   "libfribidi.so*", "libpixman-1.so*", "libXext.so*", "libXrender.so*",
                   "libjpeg.so*")
_GIO_LIBS = ("libgio-2.0.so*", "libgmodule-2.0.so*", "libgobject-2.0.so*", "libmount.so*",
             "libblkid.so*", "libselinux.so*")
EXCLUDED_FILES = [
    ("torch/include/*", "torch: C++ headers (only for compiling extensions)"),
    ("torch/share/*", "torch: CMake files"),
    ("torch/test/*", "torch: C++ test binaries"),
    # torch/bin/torch_shm_manager stays: `import torch` checks that it is there.
    ("torch/bin/test_*", "torch: test binaries and the protobuf compiler"),
    ("torch/bin/*StoreTest", "torch: test binaries and the protobuf compiler"),
    ("torch/bin/protoc*", "torch: test binaries and the protobuf compiler"),
    ("torch/lib/*.a", "torch: static libraries"),
    ("torch/lib/libtorchbind_test.so", "torch: test libraries"),
    ("torch/lib/libjitbackend_test.so", "torch: test libraries"),
    ("torch/lib/libbackend_with_compiler.so", "torch: test libraries"),
    ("torch/lib/libaoti_custom_ops.so", "torch: test libraries"),
    ("*.pyi", "type stubs"),
    ("PySide6/Qt/qml/*", "Qt: QML modules"),
    ("PySide6/Qt/plugins/platformthemes/libqgtk3.so", "Qt: GTK theme plugin and the GTK stack"),
    *((name, "Qt: GTK theme plugin and the GTK stack") for name in _GTK_THEME_LIBS),
    ("PySide6/Qt/plugins/networkinformation/*", "Qt: network status plugins and GIO"),
    *((name, "Qt: network status plugins and GIO") for name in _GIO_LIBS),
    ("PySide6/Qt/plugins/tls/*", "Qt: TLS backends"),
    ("PySide6/Qt/plugins/qmltooling/*", "Qt: QML"),
    ("PySide6/Qt/plugins/qmllint/*", "Qt: QML"),
    ("PySide6/Qt/plugins/designer/*", "Qt: Designer"),
    ("PySide6/Qt/plugins/sqldrivers/*", "Qt: SQL"),
    ("PySide6/Qt/plugins/printsupport/*", "Qt: printing"),
    ("PySide6/Qt/plugins/vectorimageformats/*", "Qt: vector image formats"),
    ("PySide6/Qt/plugins/wayland-graphics-integration-server/*", "Qt: Wayland compositor side"),
    ("PySide6/Qt/plugins/platforms/libqvnc.so", "Qt: kiosk/embedded platforms"),
    ("PySide6/Qt/plugins/platforms/libqvkkhrdisplay.so", "Qt: kiosk/embedded platforms"),
    ("PySide6/Qt/plugins/platforms/libqlinuxfb.so", "Qt: kiosk/embedded platforms"),
    ("PySide6/Qt/plugins/platforms/libqeglfs.so", "Qt: kiosk/embedded platforms"),
    ("PySide6/Qt/plugins/platforms/libqminimalegl.so", "Qt: kiosk/embedded platforms"),
    ("PySide6/Qt/plugins/egldeviceintegrations/*", "Qt: kiosk/embedded platforms"),
    ("*libQt6EglFSDeviceIntegration.so*", "Qt: kiosk/embedded platforms"),
    ("*libQt6EglFsKmsSupport.so*", "Qt: kiosk/embedded platforms"),
    ("PySide6/Qt/plugins/generic/*", "Qt: kiosk/embedded platforms"),
    ("PySide6/Qt/translations/*", "Qt: translations (the app is in English)"),
]


def _size(path: str) -> int:
    try:
        return os.path.getsize(path) if os.path.isfile(path) else 0
    except OSError:
        return 0


def trim_toc(toc, label: str):
    """``toc`` without the entries EXCLUDED_FILES names; prints what went and its size."""
    kept, dropped, freed = [], {}, 0
    for entry in toc:
        dest = entry[0].replace(os.sep, "/")
        why = next((reason for pattern, reason in EXCLUDED_FILES
                    if fnmatch.fnmatch(dest, pattern)), None)
        if why is None:
            kept.append(entry)
            continue
        size = _size(entry[1])
        freed += size
        dropped[why] = dropped.get(why, 0) + size
    print(f"trim: {len(toc) - len(kept)} {label} left out, {freed / 2**20:.1f} MiB", flush=True)
    for why, size in sorted(dropped.items(), key=lambda item: -item[1]):
        print(f"trim:   {size / 2**20:8.1f} MiB  {why}", flush=True)
    return kept
