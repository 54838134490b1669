"""The errors raised by :mod:`crypto`.

Authentication failures of every kind raise the same :class:`DecryptionError`
with the same message, so that a caller cannot become an oracle telling an
attacker which byte of a forged ciphertext was wrong.
"""


class CryptoError(Exception):
    """Base class of every error raised by this package."""


class DecryptionError(CryptoError):
    """The ciphertext, its header or the expected context did not authenticate."""

    def __init__(self) -> None:
        super().__init__("decryption failed")


class MalformedHeader(CryptoError):
    """The bytes are not a well-formed envelope header (checked without any key)."""


class UnsupportedVersion(CryptoError):
    """The envelope was written in a format version this code does not read."""


class NoMatchingRecipient(CryptoError):
    """None of the header's recipients belongs to the given identity."""
