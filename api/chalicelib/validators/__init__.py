"""Validators for the values of a filing, one module per standard.

Each module follows python-stdnum's shape: ``compact(value)`` normalises,
``validate(value)`` returns the normalised value or raises
``ValidationError`` (with ``code``, ``message_zh``, ``message_en``),
``is_valid(value)`` answers yes or no, and ``format(value)`` gives the form
to show a person. ``VALIDATORS`` maps the names used in the rules file
(``validator`` of a field, ``identifier`` of a document) to ``validate``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

from chalicelib.validators import (
    document_number,
    domain,
    email,
    filing_number,
    ip,
    organisation_code,
    passport,
    phone,
    postal_address,
    resident_id,
    text,
    uscc,
)
from chalicelib.validators.exceptions import ValidationError

__all__ = ["VALIDATORS", "ValidationError"]

VALIDATORS: Mapping[str, Callable[[str], str]] = MappingProxyType(
    {
        "document_number": document_number.validate,
        "domain": domain.validate,
        "email": email.validate,
        "filing_number": filing_number.validate,
        "ip": ip.validate,
        "mobile": phone.validate_mobile,
        "organisation_code": organisation_code.validate,
        "passport": passport.validate,
        "phone": phone.validate,
        "postal_address": postal_address.validate,
        "resident_id": resident_id.validate,
        "text": text.validate,
        "uscc": uscc.validate,
    }
)
