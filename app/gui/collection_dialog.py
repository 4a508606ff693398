"""Creating a collection: a name, a model, and two plain-language switches that map onto the schema."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from app.library.defaults import photo_schema
from app.resources import default_model

MAX_NAME_LENGTH = 64

# Models offered in the list; any other model_name (e.g. openclip/<arch>/<tag>) can be typed in.
KNOWN_MODELS: dict[str, str] = {
    "ts/clip-vit-b-p32": "CLIP ViT-B/32: good all-round, about 350 MB download",
    "photoseek/tiny-shapes": "Tiny shapes: Photoseek's small test model (coloured shapes only)",
}


def model_label(name: str) -> str:
    """A model's name as people read it (the part before the colon of its description)."""
    description = KNOWN_MODELS.get(name)
    return description.split(":", 1)[0] if description else name


def name_problem(name: str, existing: set[str]) -> str | None:
    """Why ``name`` cannot be used for a new collection, or None if it can."""
    if not name:
        return "Give the collection a name."
    if len(name) > MAX_NAME_LENGTH:
        return f"Use at most {MAX_NAME_LENGTH} characters."
    if any(ord(ch) < 32 for ch in name):
        return "The name cannot contain control characters."
    if name.casefold() in {e.casefold() for e in existing}:
        return f"There is already a collection called “{name}”."
    return None


class CollectionDialog(QDialog):
    """Asks for a new collection's settings; ``schema()`` gives the result once accepted."""

    def __init__(self, existing_names: set[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("collectionDialog")
        self.setWindowTitle("New Collection")
        self._existing = set(existing_names)

        self.name_edit = QLineEdit(self)
        self.name_edit.setObjectName("collectionName")
        self.name_edit.setPlaceholderText("e.g. Holidays")
        self.name_edit.setMaxLength(MAX_NAME_LENGTH + 1)
        self.model_combo = QComboBox(self)
        self.model_combo.setObjectName("collectionModel")
        self.model_combo.setEditable(True)
        for model, description in KNOWN_MODELS.items():
            self.model_combo.addItem(model)
            self.model_combo.setItemData(self.model_combo.count() - 1, description)
        preferred = default_model()
        if self.model_combo.findText(preferred) < 0:
            self.model_combo.addItem(preferred)
        self.model_combo.setCurrentText(preferred)
        self.model_note = QLabel(self)
        self.model_note.setWordWrap(True)
        self.model_note.setProperty("role", "hint")
        self.keep_copies = QCheckBox("Keep copies of images", self)
        self.keep_copies.setObjectName("keepCopies")
        self.keep_copies.setToolTip(
            "Store each image inside the collection, so search results still show it after the file is "
            "moved or deleted. Uses as much disk space as the photos themselves."
        )
        self.embed_name = QCheckBox("Also embed the file name", self)
        self.embed_name.setObjectName("embedFileName")
        self.embed_name.setToolTip(
            "Mix the file name into what a photo means, so “paris_2019.jpg” is found by “Paris”. "
            "Helps with descriptive names, hurts with camera names like IMG_1234."
        )
        self.problem = QLabel(self)
        self.problem.setObjectName("collectionProblem")
        self.problem.setWordWrap(True)
        self.problem.setProperty("role", "hint")

        form = QFormLayout()
        form.addRow("Name:", self.name_edit)
        form.addRow("Model:", self.model_combo)
        form.addRow("", self.model_note)
        form.addRow("", self.keep_copies)
        form.addRow("", self.embed_name)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Create")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.problem)
        layout.addWidget(self.buttons)

        self.name_edit.textChanged.connect(self._validate)
        self.model_combo.currentTextChanged.connect(self._describe_model)
        self._describe_model(self.model_combo.currentText())
        self._validate()
        self.setMinimumWidth(460)

    def _describe_model(self, name: str) -> None:
        fallback = "Another open_clip model, written openclip/<architecture>/<tag>."
        self.model_note.setText(KNOWN_MODELS.get(name.strip(), fallback))

    def _validate(self) -> None:
        problem = name_problem(self.name_edit.text().strip(), self._existing)
        if problem is None and not self.model_combo.currentText().strip():
            problem = "Choose a model."
        # Say nothing while the name is still empty: that is not a mistake yet.
        self.problem.setText("" if not self.name_edit.text() else (problem or ""))
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(problem is None)

    def accept(self) -> None:
        if name_problem(self.name_edit.text().strip(), self._existing) is None:
            super().accept()

    def schema(self) -> dict:
        return photo_schema(
            self.name_edit.text().strip(),
            self.model_combo.currentText().strip(),
            keep_copies=self.keep_copies.isChecked(),
            embed_file_name=self.embed_name.isChecked(),
        )
