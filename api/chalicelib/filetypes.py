"""What kind of file a document is, judged from its first bytes, never from its name.

The client checks this before it encrypts (the server cannot look inside a ciphertext);
the declared type travels with the document and the retrieving client checks the
decrypted bytes against it before handing the file to anyone.
"""

from __future__ import annotations

SIGNATURES: tuple[tuple[str, bytes], ...] = (
    ("application/pdf", b"%PDF-"),
    ("image/jpeg", b"\xff\xd8\xff"),
    ("image/png", b"\x89PNG\r\n\x1a\n"),
)
ACCEPTED = tuple(media_type for media_type, _ in SIGNATURES)
SNIFF_BYTES = 16


def sniff(head: bytes) -> str | None:
    """The media type whose signature ``head`` starts with, if it is one we accept."""
    return next((media_type for media_type, magic in SIGNATURES if head.startswith(magic)), None)
