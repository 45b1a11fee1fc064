"""An enterprise user's company details for invoices, and the credit-code check.

These details alone grant nothing on vouchers: those need a verified company
(core/services/people/companies.py)."""
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
_LABELS = {"company_name": "企业名称", "credit_code": "统一社会信用代码", "contact_name": "联系人", "contact_phone": "联系电话"}


def credit_code_check_character(first17: str) -> str:
    """The 18th character of a unified social credit code that starts with these 17."""
    total = sum(_ALPHABET.index(ch) * w for ch, w in zip(first17, _WEIGHTS))
    return _ALPHABET[(31 - total % 31) % 31]


def valid_credit_code(code: str) -> bool:
    if len(code) != 18 or any(ch not in _ALPHABET for ch in code):
        return False
    return credit_code_check_character(code[:17]) == code[17]


def update_company(
    session: Session, actor: User, name: str, credit_code: str, contact_name: str, contact_phone: str
) -> User:
    require_role(actor, Role.enterprise)
    name, code = name.strip(), credit_code.strip().upper()
    problems = {}
    if not 2 <= len(name) <= 200:
        problems["company_name"] = "2 到 200 个字符"
    if not valid_credit_code(code):
        problems["credit_code"] = "18 位统一社会信用代码，校验位须正确"
    if not contact_name.strip():
        problems["contact_name"] = "必填"
    if not _PHONE_RE.match(contact_phone.strip()):
        problems["contact_phone"] = "请填写电话号码"
    if problems:
        raise InvalidInput("企业信息有误：" + "；".join(f"{_LABELS[k]}（{v}）" for k, v in problems.items()) + "。",
                           code="invalid_company", details={"fields": problems})
    actor.company_name, actor.company_credit_code = name, code
    actor.contact_name, actor.contact_phone = contact_name.strip(), contact_phone.strip()
    session.flush()
    return actor
