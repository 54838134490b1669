"""Keys: RSA-OAEP-3072 key pairs, caller-supplied key wrappers, key rings and file keys."""

from __future__ import annotations

import base64
import os
import re
from pathlib import Path
from typing import Protocol, runtime_checkable

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from crypto.errors import CryptoError, DecryptionError, NoMatchingRecipient
from crypto.format import FILE_KEY_SIZE, RecipientEntry, RecipientKind, sha256

RSA_KEY_BITS = 3072
_PEM_BEGIN = b"-----BEGIN"
_KEY_FILE = re.compile(r"^(?P<name>[a-z0-9][a-z0-9_.-]*)-v(?P<version>[1-9][0-9]{0,5})\.pem$")


def _oaep(label: bytes) -> padding.OAEP:
    # WebCrypto's RSA-OAEP uses the same hash for OAEP and MGF1.
    return padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=label)


def _fingerprint(spki_der: bytes) -> str:
    digest = sha256(spki_der)
    return "SHA256:" + base64.b32encode(digest).decode("ascii").rstrip("=")


def _require_size(key: rsa.RSAPublicKey | rsa.RSAPrivateKey) -> None:
    if key.key_size != RSA_KEY_BITS:
        raise CryptoError(f"an envelope key must be RSA-{RSA_KEY_BITS}, not RSA-{key.key_size}")


class PublicKey:
    """An RSA-3072 public key: an envelope recipient. Compared by value."""

    __slots__ = ("_key", "_spki")

    def __init__(self, key: rsa.RSAPublicKey) -> None:
        _require_size(key)
        self._key = key
        self._spki = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)

    @classmethod
    def load(cls, data: bytes) -> PublicKey:
        """Load a SubjectPublicKeyInfo, PEM or DER (as WebCrypto exports ``spki``)."""
        try:
            if data.lstrip().startswith(_PEM_BEGIN):
                key = serialization.load_pem_public_key(data)
            else:
                key = serialization.load_der_public_key(data)
        except (ValueError, UnsupportedAlgorithm):
            raise CryptoError("not a public key") from None
        if not isinstance(key, rsa.RSAPublicKey):
            raise CryptoError("not an RSA public key")
        return cls(key)

    def dump_pem(self) -> bytes:
        return self._key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    @property
    def spki(self) -> bytes:
        """The DER SubjectPublicKeyInfo that the fingerprint is computed over."""
        return self._spki

    @property
    def fingerprint(self) -> str:
        """``SHA256:`` and the unpadded base32 of SHA-256 over the DER SPKI."""
        return _fingerprint(self._spki)

    @property
    def key_id(self) -> str:
        """The id that names this key in a header's recipient list: its fingerprint."""
        return self.fingerprint

    def wrap(self, file_key: bytes, label: bytes) -> bytes:
        """RSA-OAEP-SHA-256 encrypt ``file_key`` with ``label``."""
        return self._key.encrypt(file_key, _oaep(label))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PublicKey) and other._spki == self._spki

    def __hash__(self) -> int:
        return hash(self._spki)

    def __repr__(self) -> str:
        return f"PublicKey({self.fingerprint})"


class PrivateKey:
    """An RSA-3072 private key: the identity of an archive or an officer."""

    __slots__ = ("_key", "_public")

    def __init__(self, key: rsa.RSAPrivateKey) -> None:
        _require_size(key)
        self._key = key
        self._public = PublicKey(key.public_key())

    @classmethod
    def generate(cls) -> PrivateKey:
        return cls(rsa.generate_private_key(public_exponent=65537, key_size=RSA_KEY_BITS))

    @classmethod
    def load(cls, data: bytes, passphrase: bytes | None) -> PrivateKey:
        """Load a PKCS#8 PEM; ``passphrase`` must be given exactly when the PEM is encrypted."""
        try:
            key = serialization.load_pem_private_key(data, password=passphrase)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            raise CryptoError("cannot load the private key (wrong passphrase?)") from None
        if not isinstance(key, rsa.RSAPrivateKey):
            raise CryptoError("not an RSA private key")
        return cls(key)

    def dump_pem(self, passphrase: bytes | None) -> bytes:
        """PKCS#8 PEM, encrypted with ``passphrase``; ``None`` (explicitly) for plaintext."""
        encryption: serialization.KeySerializationEncryption = (
            serialization.NoEncryption() if passphrase is None else serialization.BestAvailableEncryption(passphrase)
        )
        return self._key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)

    def save(self, path: Path, passphrase: bytes) -> None:
        """Write the key sealed by ``passphrase`` to a new file readable by its owner only."""
        _write_new_file(path, self.dump_pem(passphrase))

    @property
    def public_key(self) -> PublicKey:
        return self._public

    @property
    def fingerprint(self) -> str:
        return self._public.fingerprint

    @property
    def key_id(self) -> str:
        return self._public.key_id

    def unwrap(self, wrapped: bytes, label: bytes) -> bytes:
        try:
            return self._key.decrypt(wrapped, _oaep(label))
        except ValueError:
            raise DecryptionError() from None

    def __repr__(self) -> str:
        return f"PrivateKey({self.fingerprint})"


def _write_new_file(path: Path, data: bytes) -> None:
    # O_EXCL: never overwrite a key; 0o600: a private key is for its owner only.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(data)


@runtime_checkable
class KeyWrapper(Protocol):
    """A recipient whose key wrapping happens elsewhere, e.g. in AWS KMS.

    ``wrap`` must bind ``aad`` (e.g. as a KMS encryption context) and ``unwrap``
    must raise :class:`crypto.DecryptionError` when the wrapped key or ``aad``
    do not authenticate. Other exceptions (network, permissions) propagate.
    """

    @property
    def key_id(self) -> str: ...

    def wrap(self, file_key: bytes, aad: bytes) -> bytes: ...

    def unwrap(self, wrapped: bytes, aad: bytes) -> bytes: ...


class KeyRing:
    """Versions of one key in a directory: ``<name>-v1.pem``, ``<name>-v2.pem``, ...

    Every version is sealed by the same passphrase. Encrypt to :attr:`current`;
    decrypt with the ring itself, which picks whichever version a header names.
    """

    __slots__ = ("_directory", "_keys", "_name", "_passphrase")

    def __init__(self, directory: Path, name: str, passphrase: bytes, keys: dict[int, PrivateKey]) -> None:
        self._directory = directory
        self._name = name
        self._passphrase = passphrase
        self._keys = keys

    @classmethod
    def open(cls, directory: Path, passphrase: bytes, *, name: str = "archive") -> KeyRing:
        keys = {}
        for path in directory.iterdir():
            match = _KEY_FILE.match(path.name)
            if match and match["name"] == name:
                keys[int(match["version"])] = PrivateKey.load(path.read_bytes(), passphrase)
        if not keys:
            raise CryptoError(f"no {name}-v<N>.pem key in {directory}")
        return cls(directory, name, passphrase, keys)

    @classmethod
    def create(cls, directory: Path, passphrase: bytes, *, name: str = "archive") -> KeyRing:
        """Create a ring holding a fresh version 1."""
        if not _KEY_FILE.match(f"{name}-v1.pem"):
            raise ValueError(f"invalid key ring name {name!r}")
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        ring = cls(directory, name, passphrase, {})
        ring.rotate()
        return ring

    @property
    def versions(self) -> tuple[int, ...]:
        return tuple(sorted(self._keys))

    @property
    def current(self) -> PrivateKey:
        """The newest version: the one new documents are encrypted to."""
        return self._keys[max(self._keys)]

    def version(self, number: int) -> PrivateKey:
        return self._keys[number]

    def find(self, key_id: str) -> PrivateKey | None:
        """The version whose key id is ``key_id``, if the ring holds it."""
        return next((key for key in self._keys.values() if key.key_id == key_id), None)

    def rotate(self) -> PrivateKey:
        """Generate and save the next version; older versions keep decrypting."""
        number = max(self._keys, default=0) + 1
        key = PrivateKey.generate()
        key.save(self._directory / f"{self._name}-v{number}.pem", self._passphrase)
        self._keys[number] = key
        return key

    def __repr__(self) -> str:
        return f"KeyRing({self._directory}, {self._name}, versions={self.versions})"


class FileKey:
    """One document's 256-bit file key, verified against that document's header.

    Obtained from :func:`crypto.unwrap_file_key` or
    :func:`crypto.unwrap_released_file_key`; never printed.
    """

    __slots__ = ("_binding", "_secret")

    def __init__(self, secret: bytes, binding: bytes) -> None:
        self._secret = secret
        self._binding = binding

    def __repr__(self) -> str:
        return "FileKey(<secret>)"


Recipient = PublicKey | KeyWrapper
Identity = PrivateKey | KeyRing | KeyWrapper


def wrap_for(recipient: Recipient, file_key: bytes, label: bytes) -> RecipientEntry:
    """The header entry that lets ``recipient`` recover ``file_key``."""
    kind = RecipientKind.RSA_OAEP_3072_SHA256 if isinstance(recipient, PublicKey) else RecipientKind.KEY_WRAPPER
    return RecipientEntry(kind, recipient.key_id, recipient.wrap(file_key, label))


def unwrap_from(identity: Identity, recipients: tuple[RecipientEntry, ...], label: bytes) -> bytes:
    """The file key from the entry belonging to ``identity``; the caller checks the commitment."""
    for entry in recipients:
        owner = _owner(identity, entry)
        if owner is not None:
            file_key = owner.unwrap(entry.wrapped_key, label)
            if len(file_key) != FILE_KEY_SIZE:
                raise DecryptionError()
            return file_key
    raise NoMatchingRecipient("none of the document's recipients belongs to this key")


def _owner(identity: Identity, entry: RecipientEntry) -> PrivateKey | KeyWrapper | None:
    if entry.kind is RecipientKind.KEY_WRAPPER:
        if isinstance(identity, KeyWrapper) and identity.key_id == entry.key_id:
            return identity
        return None
    if isinstance(identity, KeyRing):
        return identity.find(entry.key_id)
    if isinstance(identity, PrivateKey) and identity.key_id == entry.key_id:
        return identity
    return None
