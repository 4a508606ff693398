"""A whole-percent spin box that takes any number typed and brings one above its maximum down to it.

A plain QSpinBox refuses the keystroke that would take it over its maximum: with a maximum of 95, typing
"99" drops the second 9 and leaves 9%, the opposite of what was asked. Here the number stands while it is
typed, and Enter (or leaving the field) sets the maximum and says so through ``clamped``.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import QSpinBox, QWidget

_MAX_DIGITS = 9


class PercentSpinBox(QSpinBox):
    clamped = Signal(int, int)  # the number typed, the value it became

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        # The value changes when the typing is done, not at each digit (typing 65 never searches at 6%).
        self.setKeyboardTracking(False)

    def typed_number(self, text: str) -> int | None:
        """The whole number in ``text`` between the prefix and the "%" (None when it is not one)."""
        core = text.removeprefix(self.prefix()).removesuffix(self.suffix()).strip().rstrip("%").strip()
        return int(core) if core.isdigit() and len(core) <= _MAX_DIGITS else None

    def validate(self, text: str, pos: int) -> object:
        result = super().validate(text, pos)
        state = result[0] if isinstance(result, tuple) else result
        number = self.typed_number(text)
        if state == QValidator.State.Invalid and number is not None and number > self.maximum():
            return (QValidator.State.Intermediate, text, pos)
        return result

    def fixup(self, text: str) -> str:
        number = self.typed_number(text)
        if number is not None and number > self.maximum():
            self.clamped.emit(number, self.maximum())
            return f"{self.prefix()}{self.maximum()}{self.suffix()}"
        return super().fixup(text)
