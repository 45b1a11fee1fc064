"""The platform code (平台编号) of an instrument: unique, stable, ASCII only.

Rule (docs/import-format.md repeats it)::

    PP-INST-CCCC-NNNN        e.g. 50-CQATC-0105-0001

- ``PP``   the province's two-digit code of GB/T 2260 (北京 11 … 重庆 50, 四川 51 …), read from the
  instrument's ``province``, else from its ``city``, else from its institution's city (municipalities,
  provincial capitals and the larger cities are known); ``00`` when none of them says.
- ``INST`` the institution's code with everything but A–Z and 0–9 removed, upper-cased, when that
  leaves 1 to 12 characters (``CQ-ATC`` → ``CQATC``); otherwise ``N`` and the institution's internal
  id in six digits (``N000042``).
- ``CCCC`` the first four digits (大类 + 中类) of the classification code when the code is assigned.
- ``NNNN`` 0001–9999, one more than the highest code that has the same first three parts.

A code is assigned once: when an instrument is created with a classification, or when its
classification is first set. It never changes afterwards, whatever later happens to the province,
the institution's code or the classification, so a code once reported stays the instrument's name.
Two imports running at once may pick the same next number; the unique constraint refuses the
second, which then asks again for the highest number and takes the one after.
"""
from __future__ import annotations

import re

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.errors import Conflict, InvalidInput
from core.models import Institution, Instrument

PATTERN = re.compile(r"^\d{2}-[A-Z0-9]{1,12}-\d{4}-\d{4}$")
INSTITUTION_PART_MAX = 12
SEQUENCE_MAX = 9999
UNKNOWN_REGION = "00"
_ATTEMPTS = 5  # each failed attempt means another import took the number meanwhile

# GB/T 2260 province-level codes, by the name's leading characters ("浙江省", "广西壮族自治区" match too)
PROVINCES: dict[str, str] = {
    "北京": "11", "天津": "12", "河北": "13", "山西": "14", "内蒙古": "15", "辽宁": "21", "吉林": "22",
    "黑龙江": "23", "上海": "31", "江苏": "32", "浙江": "33", "安徽": "34", "福建": "35", "江西": "36",
    "山东": "37", "河南": "41", "湖北": "42", "湖南": "43", "广东": "44", "广西": "45", "海南": "46",
    "重庆": "50", "四川": "51", "贵州": "52", "云南": "53", "西藏": "54", "陕西": "61", "甘肃": "62",
    "青海": "63", "宁夏": "64", "新疆": "65", "台湾": "71", "香港": "81", "澳门": "82",
}
# cities whose province is known without being told (the four municipalities match PROVINCES directly)
CITY_PROVINCE: dict[str, str] = {
    "石家庄": "13", "太原": "14", "呼和浩特": "15", "沈阳": "21", "大连": "21", "长春": "22", "哈尔滨": "23",
    "南京": "32", "苏州": "32", "无锡": "32", "常州": "32", "杭州": "33", "宁波": "33", "温州": "33",
    "合肥": "34", "福州": "35", "厦门": "35", "南昌": "36", "济南": "37", "青岛": "37", "郑州": "41",
    "武汉": "42", "长沙": "43", "广州": "44", "深圳": "44", "东莞": "44", "南宁": "45", "海口": "46",
    "成都": "51", "绵阳": "51", "贵阳": "52", "昆明": "53", "拉萨": "54", "西安": "61", "兰州": "62",
    "西宁": "63", "银川": "64", "乌鲁木齐": "65",
}


def province_code(name: str | None) -> str | None:
    if not name:
        return None
    text = name.strip()
    return next((code for short, code in PROVINCES.items() if text.startswith(short)), None)


def city_province_code(city: str | None) -> str | None:
    if not city:
        return None
    text = city.strip().removesuffix("市")
    return CITY_PROVINCE.get(text) or province_code(text)


def region_part(instrument: Instrument, institution: Institution) -> str:
    return (province_code(instrument.province) or city_province_code(instrument.city)
            or city_province_code(institution.city) or UNKNOWN_REGION)


def institution_part(institution: Institution) -> str:
    reduced = re.sub(r"[^A-Z0-9]", "", institution.code.upper())
    if 1 <= len(reduced) <= INSTITUTION_PART_MAX:
        return reduced
    return f"N{institution.id:06d}"


def code_prefix(instrument: Instrument, institution: Institution) -> str:
    """The first three parts of the rule (the instrument must have a classification)."""
    assert instrument.classification_code, "a platform code needs a classification"
    region, inst = region_part(instrument, institution), institution_part(institution)
    return f"{region}-{inst}-{instrument.classification_code[:4]}"


def next_sequence(session: Session, prefix: str) -> int:
    # the sequence is four zero-padded digits, so the highest code is also the last in text order
    highest = session.scalar(select(func.max(Instrument.platform_code))
                             .where(Instrument.platform_code.startswith(prefix + "-", autoescape=True)))
    number = int(highest.rsplit("-", 1)[1]) + 1 if highest else 1
    if number > SEQUENCE_MAX:
        raise Conflict(f"平台编号 {prefix}-NNNN 的顺序号已用完（最多 {SEQUENCE_MAX} 台）。", code="platform_code_exhausted")
    return number


def _try(session: Session, instrument: Instrument, code: str) -> bool:
    """Store `code` inside a savepoint; False when the unique constraint refuses it."""
    savepoint = session.begin_nested()  # flushes what came before: only this update can fail here
    instrument.platform_code = code
    try:
        session.flush()
    except IntegrityError:
        savepoint.rollback()  # expires the instrument: it reads back without a code
        return False
    savepoint.commit()
    return True


def assign_platform_code(session: Session, instrument: Instrument, institution: Institution,
                         wanted: str | None = None) -> bool:
    """Give the instrument its code if it has none yet and has a classification; True when one was given.

    `wanted` is a code read back from an export (a restore): taken as it is when the instrument has no
    code and no other instrument holds it. An instrument's code is never replaced.
    """
    if instrument.platform_code:
        if wanted and wanted != instrument.platform_code:
            raise InvalidInput(f"平台编号一经分配不能更改：仪器 {instrument.code} 的平台编号是 "
                               f"{instrument.platform_code}，不是 {wanted}。", code="platform_code_fixed")
        return False
    if wanted:
        holder = session.scalar(select(Instrument.code).where(Instrument.platform_code == wanted))
        if holder is not None or not _try(session, instrument, wanted):
            raise InvalidInput(f"平台编号 {wanted} 已属于仪器 {holder or '（另一台仪器）'}。", code="platform_code_taken")
        return True
    if not instrument.classification_code:
        return False  # assigned when the classification is first set
    prefix = code_prefix(instrument, institution)
    for _ in range(_ATTEMPTS):
        if _try(session, instrument, f"{prefix}-{next_sequence(session, prefix):04d}"):
            return True
    raise Conflict("平台编号分配冲突，请稍后重试。", code="platform_code_busy")
