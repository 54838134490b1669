"""The one exception every validator raises.

Each error carries a stable machine code (for clients and tests) and a message
in Chinese and English (for the person who typed the value). Messages never
repeat the value itself: it may be an ID number, and errors end up in logs.
"""

from __future__ import annotations


class ValidationError(ValueError):
    """A value failed validation; ``code`` names the reason."""

    def __init__(self, code: str, message_zh: str, message_en: str) -> None:
        super().__init__(f"{message_zh} / {message_en}")
        self.code = code
        self.message_zh = message_zh
        self.message_en = message_en
