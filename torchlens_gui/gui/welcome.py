"""The first screen: what the app does, its keys, how to start, and the bundled examples.
Shown in the central area while no model is open."""

from __future__ import annotations

from typing import Iterable, Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QPushButton, \
    QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from .examples import Example
from .shortcuts import shortcut_rows

INTRO = ("Step through a PyTorch model's forward and backward pass, module by module. "
         "The debugger stops where a NaN or Inf is born, where shapes or dtypes disagree or "
         "where your code raises, and explains it: the module, the operation, the line, "
         "and a fix.")
CONTRACT = ("A model file is a <tt>.py</tt> that defines <tt>build_model()</tt> and "
            "<tt>example_inputs()</tt>, and optionally <tt>loss(output)</tt>. Drop one on "
            "this window to open it.")


class WelcomePage(QWidget):
    """Buttons for the two ways in, the keys, and the examples (double-click or Enter)."""

    sig_open_requested = Signal()
    sig_script_requested = Signal()
    sig_example_chosen = Signal(str)  # the example's path

    def __init__(self, keys: Iterable[QAction], examples: list[Example],
                 parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setObjectName("welcome_page")
        title = QLabel("<h1>torchlens-gui</h1>", self)
        intro = QLabel(INTRO, self)
        intro.setWordWrap(True)
        self.open_button = QPushButton("Open a model file…", self)
        self.open_button.setDefault(True)
        self.open_button.clicked.connect(self.sig_open_requested)
        self.script_button = QPushButton("Run a training script…", self)
        self.script_button.clicked.connect(self.sig_script_requested)
        buttons = QHBoxLayout()
        buttons.addWidget(self.open_button)
        buttons.addWidget(self.script_button)
        buttons.addStretch(1)
        contract = QLabel(CONTRACT, self)
        contract.setWordWrap(True)
        contract.setTextFormat(Qt.TextFormat.RichText)

        left = QVBoxLayout()
        left.addWidget(title)
        left.addWidget(intro)
        left.addSpacing(12)
        left.addLayout(buttons)
        left.addWidget(contract)
        left.addSpacing(12)
        left.addWidget(QLabel("<b>Keys</b>", self))
        self.keys = self._keys_grid(keys)
        left.addLayout(self.keys)
        left.addStretch(1)

        self.examples = QTreeWidget(self)
        self.examples.setObjectName("welcome_examples")
        self.examples.setHeaderLabels(["Example", "What it shows"])
        self.examples.setRootIsDecorated(False)
        self.examples.setUniformRowHeights(True)
        for healthy, heading in ((False, "Problems the debugger explains"),
                                 (True, "Healthy models, to learn the keys on")):
            group = QTreeWidgetItem(self.examples, [heading])
            group.setFirstColumnSpanned(True)
            group.setFlags(Qt.ItemFlag.ItemIsEnabled)
            font = group.font(0)
            font.setBold(True)
            group.setFont(0, font)
            for example in (e for e in examples if e.healthy == healthy):
                item = QTreeWidgetItem(group, [example.kind, example.title])
                item.setData(0, Qt.ItemDataRole.UserRole, example.path)
                item.setToolTip(0, example.path)
                item.setToolTip(1, f"{example.title} ({example.file_name})")
            group.setExpanded(True)
        self.examples.resizeColumnToContents(0)
        self.examples.itemActivated.connect(self._on_examples_item_activated)
        examples_title = QLabel("<b>Examples</b> (double-click or Enter to open; also in "
                                "Help › Examples)", self)
        examples_title.setWordWrap(True)
        right = QVBoxLayout()
        right.addWidget(examples_title)
        right.addWidget(self.examples, 1)

        columns = QHBoxLayout(self)
        columns.setContentsMargins(32, 16, 32, 16)
        columns.addLayout(left, 2)
        columns.addSpacing(24)
        columns.addLayout(right, 3)

    def _keys_grid(self, actions: Iterable[QAction]) -> QGridLayout:
        grid = QGridLayout()
        grid.setHorizontalSpacing(16)
        self.key_list: list[str] = []
        for row, (name, keys, _tip) in enumerate(shortcut_rows(actions)):
            self.key_list.append(keys)
            key_label = QLabel(f"<b>{keys}</b>", self)
            grid.addWidget(key_label, row, 0)
            grid.addWidget(QLabel(name, self), row, 1)
        grid.setColumnStretch(1, 1)
        return grid

    def example_paths(self) -> list[str]:
        """The listed examples' paths, in list order."""
        paths = []
        for g in range(self.examples.topLevelItemCount()):
            group = self.examples.topLevelItem(g)
            paths += [group.child(i).data(0, Qt.ItemDataRole.UserRole)
                      for i in range(group.childCount())]
        return paths

    def _on_examples_item_activated(self, item: QTreeWidgetItem, _column: int = 0) -> None:
        path = item.data(0, Qt.ItemDataRole.UserRole)
        if path:  # not a group heading
            self.sig_example_chosen.emit(path)
