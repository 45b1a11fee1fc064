"""An enterprise user's company, which vouchers will need."""
from __future__ import annotations

import re

from sqlalchemy.orm import Session

from core.errors import InvalidInput
from core.models import Role, User
from core.services.people.authz import require_role

# GB 32100-2015: 18 characters from this alphabet, the last a checksum
_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_PHONE_RE = re.compile(r"^[0-9+\-() ]{6,32}$")


def valid_credit_code(code: str) -> bool:
    if len(code) != 18 or any(ch not in _ALPHABET for ch in code):
        return False
    total = sum(_ALPHABET.index(ch) * w for ch, w in zip(code[:17], _WEIGHTS))
    return _ALPHABET[(31 - total % 31) % 31] == code[17]


def update_company(
    session: Session, actor: User, name: str, credit_code: str, contact_name: str, contact_phone: str
) -> User:
    require_role(actor, Role.enterprise)
    name, code = name.strip(), credit_code.strip().upper()
    problems = {}
    if not 2 <= len(name) <= 200:
        problems["company_name"] = "2 to 200 characters"
    if not valid_credit_code(code):
        problems["credit_code"] = "an 18-character unified social credit code with a valid check character"
    if not contact_name.strip():
        problems["contact_name"] = "required"
    if not _PHONE_RE.match(contact_phone.strip()):
        problems["contact_phone"] = "a phone number"
    if problems:
        raise InvalidInput("Some company details are not valid: " + ", ".join(problems) + ".",
                           code="invalid_company", details={"fields": problems})
    actor.company_name, actor.company_credit_code = name, code
    actor.contact_name, actor.contact_phone = contact_name.strip(), contact_phone.strip()
    session.flush()
    return actor
