"""Help › Keyboard Shortcuts: every menu action with its keys, read from the actions themselves (so the
list cannot go stale), then the keys the results grid and the viewer handle on their own."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QMainWindow,
    QMenu,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.gui.results_view import GRID_KEYS
from app.gui.viewer import VIEWER_KEYS


def _plain(text: str) -> str:
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&")


def keys_text(action: QAction) -> str:
    """An action's shortcuts as this platform writes them ("Ctrl+F or /")."""
    sequences = [s.toString(QKeySequence.SequenceFormat.NativeText) for s in action.shortcuts()]
    return " or ".join(s for s in sequences if s)


def _menu_rows(menu: QMenu, section: str) -> list[tuple[str, str, str]]:
    rows = []
    for action in menu.actions():
        if action.menu() is not None:
            rows += _menu_rows(action.menu(), f"{section} › {_plain(action.menu().title())}")
        elif not action.isSeparator() and keys_text(action):
            rows.append((section, _plain(action.text()), keys_text(action)))
    return rows


def shortcut_rows(window: QMainWindow) -> list[tuple[str, str, str]]:
    """(section, what, keys) for every menu action with a shortcut, then the grid's and viewer's keys."""
    rows: list[tuple[str, str, str]] = []
    for action in window.menuBar().actions():
        if action.menu() is not None:
            rows += _menu_rows(action.menu(), _plain(action.menu().title()))
    rows += [("Results grid", what, keys) for keys, what in GRID_KEYS]
    rows += [("Viewer", what, keys) for keys, what in VIEWER_KEYS]
    return rows


class ShortcutsDialog(QDialog):
    def __init__(self, window: QMainWindow, parent: QWidget | None = None) -> None:
        super().__init__(parent or window)
        self.setObjectName("shortcutsDialog")
        self.setWindowTitle("Keyboard Shortcuts")
        self.tree = QTreeWidget(self)
        self.tree.setObjectName("shortcutsList")
        self.tree.setColumnCount(2)
        self.tree.setHeaderLabels(["Action", "Keys"])
        self.tree.setRootIsDecorated(False)
        self.tree.setSelectionMode(QTreeWidget.SelectionMode.NoSelection)
        self.tree.header().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        sections: dict[str, QTreeWidgetItem] = {}
        for section, what, keys in shortcut_rows(window):
            parent_item = sections.get(section)
            if parent_item is None:
                parent_item = QTreeWidgetItem(self.tree, [section])
                font = parent_item.font(0)
                font.setBold(True)
                parent_item.setFont(0, font)
                parent_item.setFirstColumnSpanned(True)
                sections[section] = parent_item
            QTreeWidgetItem(parent_item, [what, keys])
        self.tree.expandAll()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tree)
        layout.addWidget(buttons)
        self.resize(560, 620)

    def listed(self) -> list[tuple[str, str]]:
        """(what, keys) as shown, for tests."""
        found = []
        for i in range(self.tree.topLevelItemCount()):
            section = self.tree.topLevelItem(i)
            for j in range(section.childCount()):
                child = section.child(j)
                found.append((child.text(0), child.text(1)))
        return found


def show_shortcuts(window: QMainWindow) -> ShortcutsDialog:
    dialog = ShortcutsDialog(window)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.open()
    return dialog
