"""Key custody, text messages and the audit store."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from chalicelib.adapters import shared
from chalicelib.ports import Backend, StorageError, VersionConflict

SECRET = b"-----BEGIN PRIVATE KEY----- not really" * 20


def test_sealed_secrets_unseal_for_their_purpose_only(backend: Backend) -> None:
    sealed = backend.custody.seal(SECRET, "archive-key-v1")
    assert SECRET not in sealed
    assert backend.custody.unseal(sealed, "archive-key-v1") == SECRET
    with pytest.raises(StorageError):
        backend.custody.unseal(sealed, "jwt-signing-key")
    assert backend.custody.key_id


@pytest.mark.parametrize("damage", [lambda sealed: sealed[:-1] + bytes([sealed[-1] ^ 1]),
                                    lambda sealed: sealed[:-20],
                                    lambda sealed: b"not sealed at all"],
                         ids=["flipped-bit", "truncated", "foreign"])
def test_damaged_sealed_data_is_refused(backend: Backend,
                                        damage: Callable[[bytes], bytes]) -> None:
    with pytest.raises(StorageError):
        backend.custody.unseal(damage(backend.custody.seal(SECRET, "p")), "p")


def test_text_messages_are_handed_over(backend: Backend,
                                       sent_sms: Callable[[], list[tuple[str, str]]]) -> None:
    message = backend.notifier.send_sms("+8613800138000", "您的备案已通过初审。")
    assert (message.phone, message.text) == ("+8613800138000", "您的备案已通过初审。")
    assert message.message_id and message.sent_at
    assert ("+8613800138000", "您的备案已通过初审。") in sent_sms()
    with pytest.raises(ValueError):
        backend.notifier.send_sms("13800138000", "no country code")


def _entry(seq: int) -> dict[str, object]:
    return {"seq": seq, "action": "filing.submit", "hash": f"{seq:064x}", "details": {"n": seq}}


def test_audit_appends_and_reads_back_in_order(backend: Backend) -> None:
    assert backend.audit.last() is None
    assert list(backend.audit.read()) == []
    for seq in range(1, 6):
        backend.audit.append(seq, _entry(seq))
    assert backend.audit.last() == (5, _entry(5))
    assert list(backend.audit.read()) == [_entry(seq) for seq in range(1, 6)]
    assert list(backend.audit.read(2, 4)) == [_entry(seq) for seq in (2, 3, 4)]
    assert list(backend.audit.read(4)) == [_entry(4), _entry(5)]
    assert list(backend.audit.read(6)) == []


def test_audit_refuses_a_taken_sequence_number(backend: Backend) -> None:
    backend.audit.append(1, _entry(1))
    with pytest.raises(VersionConflict):
        backend.audit.append(1, {"forged": True})
    assert list(backend.audit.read()) == [_entry(1)]
    with pytest.raises(ValueError):
        backend.audit.append(0, _entry(0))


def test_audit_reads_page_by_page(backend: Backend, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shared, "AUDIT_PAGE", 2)  # both adapters read it from the shared module
    for seq in range(1, 8):
        backend.audit.append(seq, _entry(seq))
    assert list(backend.audit.read()) == [_entry(seq) for seq in range(1, 8)]
    assert list(backend.audit.read(2, 5)) == [_entry(seq) for seq in range(2, 6)]
