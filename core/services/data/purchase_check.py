"""新购查重评议: an institution asks to buy a large instrument; the platform finds the similar ones of its
region (purchase_similar.py), drafts an opinion with its evidence, flags a purchase split into small
ones, and an expert of another institution concludes.

Below PURCHASE_CHECK_MIN_CNY no check is due, but the split rule needs to see the small requests: an
institution's request under the threshold is recorded (status `recorded`, opinion `purchase` with a note)
unless it completes a split, which sends it to the experts. Without an institution (a platform admin's
what-if check) there is nothing to record, so a small request is refused (422).

The workbench files a request with three quotations (PDF); the JSON API is the check itself and may
come without them — its record says so (no quotations) and the experts see that."""
from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, true
from sqlalchemy.orm import Session

from core.config import Settings
from core.data_rules import DataRules
from core.errors import BusinessRuleViolation, Conflict, Forbidden, InvalidInput, NotFound, PayloadTooLarge
from core.models import Institution, PurchaseRequest, Role, User
from core.report_storage import LocalReportStorage
from core.services.catalog.classification import is_valid, label, same_class
from core.services.data.purchase_similar import (
    PurchaseFields, SimilarInstrument, TextEncoder, find_similar, place, province_of,
)
from core.services.people.authz import require_role
from core.services.people.company_documents import Upload, safe_name

OPINIONS = {"purchase": "建议购置", "share": "建议共享使用", "expert_review": "需专家评议"}
CONCLUSIONS = {"purchase": "同意购置", "share": "不予购置，共享使用已有仪器", "reject": "不同意购置"}
STATUSES = {"submitted": "待专家评议", "recorded": "已登记备查", "concluded": "已有结论"}
MATCHED = {"class": "同中类", "text": "名称与指标相近", "model": "同型号"}
QUOTATIONS = 3
QUOTATION_MAX_BYTES = 10 * 1024 * 1024
MAX_EVIDENCE = 50  # similar instruments kept with a request; the reasons count them all
MAX_LISTED = 3  # instruments named in one reason
COMMENT_MAX = 2000
HOURS_A_YEAR = 8784.0


def cny(fen: int) -> str:
    return f"{fen / 100:,.2f} 元"


def _figures(s: SimilarInstrument) -> str:
    if s.saturated is None:
        return "近 12 个月无机时数据"
    pace = "" if s.months_with_data >= 12 else f"（仅 {s.months_with_data} 个月有数据）"
    rate = "利用率不详" if s.utilisation_12m is None else f"利用率 {s.utilisation_12m * 100:.0f}%"
    return f"近 12 个月有效机时 {s.effective_hours_12m:g} 小时{pace}、{rate}"


def _named(items: list[SimilarInstrument]) -> str:
    shown = "；".join(f"{s.name}（{s.institution['name']}，{s.city or '城市不详'}）：{_figures(s)}"
                     for s in items[:MAX_LISTED])
    return shown + (f"；等 {len(items)} 台" if len(items) > MAX_LISTED else "")


def draft_opinion(similar: list[SimilarInstrument], fields: PurchaseFields, rules: DataRules) -> tuple[str, list[str]]:
    """purchase when nothing similar exists in the region or all similar ones are saturated; share when
    one the requester can use (its own, or one open for sharing) is under-used; expert_review otherwise."""
    region = province_of(fields.city, fields.province) or place(fields.city)
    limit = f"近 12 个月有效机时达 {rules.saturated_hours_year:g} 小时/年或利用率达 {rules.saturated_utilisation * 100:.0f}%"
    if not similar:
        return "purchase", [f"在{region}未找到同类仪器（同中类、名称与技术指标相近或同型号），建议购置。"]
    same_city = sum(1 for s in similar if s.same_city)
    reasons = [f"在{region}找到 {len(similar)} 台同类仪器，其中同城 {same_city} 台。"]
    saturated = [s for s in similar if s.saturated is True]
    unknown = [s for s in similar if s.saturated is None]
    spare = [s for s in similar if s.saturated is False]
    if len(saturated) == len(similar):
        return "purchase", reasons + [f"同类仪器均已饱和（{limit}）：{_named(saturated)}。建议购置。"]
    usable = [s for s in spare if s.own_institution or s.open_for_sharing]
    if usable:
        own = [s for s in usable if s.own_institution]
        if own:
            reasons.append(f"本单位已有同类仪器且未饱和，应先在本单位内调剂使用：{_named(own)}。")
        others = [s for s in usable if not s.own_institution]
        if others:
            reasons.append(f"对外开放共享且未饱和的同类仪器：{_named(others)}。")
        if fields.expected_hours:
            # each one's unused 定额机时 at its yearly pace (under-used ones all have figures)
            room = sum(max(0.0, ((s.quota_hours_12m or 0.0) - (s.effective_hours_12m or 0.0)) * 12 / s.months_with_data)
                       for s in usable)
            reasons.append(f"申请预计年使用 {fields.expected_hours:g} 小时，上述仪器按定额机时尚余约 {room:.0f} 小时/年"
                           + ("。" if room >= fields.expected_hours else "，不足以满足全部需求，请专家核实。"))
        return "share", reasons + ["建议通过共享使用满足需求。"]
    closed = [s for s in spare if not s.open_for_sharing]
    if closed:
        reasons.append(f"同类仪器未饱和但未对外开放共享：{_named(closed)}。需专家评议能否协调共享。")
    if unknown:
        reasons.append(f"同类仪器缺少机时数据，无法判断是否饱和：{_named(unknown)}。")
    return "expert_review", reasons + ["需专家评议。"]


def split_suspects(session: Session, institution_id: int | None, classification: str, price_fen: int,
                   rules: DataRules, now: datetime) -> list[PurchaseRequest]:
    """The institution's earlier requests of the same 中类 within 12 months that, each under the threshold,
    reach it together with this one (also under it); [] when there is no such split."""
    threshold = round(rules.purchase_check_min_cny * 100)
    if institution_id is None or price_fen >= threshold:
        return []
    earlier = [r for r in session.scalars(
        select(PurchaseRequest).where(PurchaseRequest.institution_id == institution_id,
                                      PurchaseRequest.created_at >= now - timedelta(days=365),
                                      PurchaseRequest.price_fen < threshold)
        .order_by(PurchaseRequest.created_at, PurchaseRequest.id))
        if same_class(r.classification_code, classification)]
    return earlier if earlier and sum(r.price_fen for r in earlier) + price_fen >= threshold else []


def checked_quotations(uploads: list[Upload]) -> list[Upload]:
    """Three PDFs (read by their first bytes, never their names), each at most 10 MB."""
    given = [u for u in uploads if u.data]
    if len(given) != QUOTATIONS:
        raise InvalidInput(f"须上传 {QUOTATIONS} 份报价单（PDF 文件），现有 {len(given)} 份。", code="quotations_required")
    for n, upload in enumerate(given, 1):
        if len(upload.data) > QUOTATION_MAX_BYTES:
            raise PayloadTooLarge(f"第 {n} 份报价单超过 {QUOTATION_MAX_BYTES // (1024 * 1024)} MB。",
                                  code="file_too_large", details={"max_bytes": QUOTATION_MAX_BYTES})
        if not upload.data.startswith(b"%PDF-"):
            raise InvalidInput(f"第 {n} 份报价单不是 PDF 文件。", code="not_a_pdf", details={"quotation": n})
    return given


def quotation_storage(settings: Settings) -> LocalReportStorage:
    return LocalReportStorage(settings.data_dir / "purchase_quotations")


def _requester(session: Session, actor: User, institution_code: str | None) -> Institution | None:
    if actor.role == Role.institution_admin:
        own = session.get(Institution, actor.institution_id) if actor.institution_id else None
        if own is None or (institution_code and institution_code != own.code):
            raise Forbidden("机构管理员只能为本机构提交新购查重申请。", code="not_your_institution")
        return own
    if not institution_code:
        return None
    found = session.scalar(select(Institution).where(Institution.code == institution_code))
    if found is None:
        raise InvalidInput(f"没有机构 {institution_code!r}。", code="institution_not_found")
    return found


def _checked_fields(fields: PurchaseFields, institution: Institution | None) -> PurchaseFields:
    name, code = fields.name.strip(), fields.classification.strip()
    city = place(fields.city) or place(institution.city if institution else None)
    if not name:
        raise InvalidInput("请填写拟购仪器名称。", code="name_required")
    if not is_valid(code):
        raise InvalidInput(f"设备分类编码 {code!r} 不是已知的分类（大类 2 位 + 中类 2 位，可加小类 2 位）。",
                           code="unknown_classification")
    if fields.price_fen <= 0:
        raise InvalidInput("拟购价格须大于 0。", code="invalid_price")
    if fields.expected_hours is not None and not 0 <= fields.expected_hours <= HOURS_A_YEAR:
        raise InvalidInput(f"预计年使用机时须在 0 到 {HOURS_A_YEAR:g} 小时之间。", code="invalid_expected_hours")
    if not city:
        raise InvalidInput("请填写所在城市。", code="city_required")
    for value, limit, what in ((name, 200, "仪器名称"), (fields.model, 200, "型号"), (fields.specs, 5000, "主要技术指标"),
                               (fields.purpose, 2000, "用途"), (city, 64, "所在城市"), (fields.province, 32, "所在省份")):
        if value and len(value) > limit:
            raise InvalidInput(f"{what}最多 {limit} 个字。", code="text_too_long")
    return replace(fields, name=name, classification=code, city=city,
                   institution_id=institution.id if institution else None)


def submit_request(session: Session, actor: User, fields: PurchaseFields, quotations: list[Upload] | None,
                   encoder: TextEncoder, settings: Settings, now: datetime,
                   institution_code: str | None = None) -> PurchaseRequest:
    """Check and record a request. `quotations` None is the API's check without the filing's PDFs;
    a list must be three PDFs. A platform admin may name the requesting institution by its code.
    Checks come first and files are written last: a refused request leaves nothing behind."""
    require_role(actor, Role.institution_admin, Role.platform_admin)
    rules = settings.data
    institution = _requester(session, actor, institution_code)
    fields = _checked_fields(fields, institution)
    threshold = round(rules.purchase_check_min_cny * 100)
    below = fields.price_fen < threshold
    if below and institution is None:
        raise BusinessRuleViolation(
            f"拟购价格 {cny(fields.price_fen)} 低于查重评议起点 {cny(threshold)}，无需查重评议；"
            "如需登记备查（核查拆分采购），请以申请机构的名义提交。", code="below_purchase_check_threshold")
    files = checked_quotations(quotations) if quotations is not None else []
    similar = find_similar(session, encoder, fields, settings, now)
    opinion, reasons = draft_opinion(similar, fields, rules)
    status = "submitted"
    split = split_suspects(session, fields.institution_id, fields.classification, fields.price_fen, rules, now)
    if below:
        opinion, status = "purchase", "recorded"
        reasons = [f"拟购价格 {cny(fields.price_fen)} 低于查重评议起点 {cny(threshold)}，本申请仅登记备查"
                   "（用于核查拆分采购），同类仪器情况供参考。"] + reasons[:1]
    if split:
        total = sum(r.price_fen for r in split) + fields.price_fen
        earlier = "、".join(f"第 {r.id} 号（{cny(r.price_fen)}）" for r in split)
        opinion, status = "expert_review", "submitted"
        reasons.append(f"疑似拆分采购：本单位 12 个月内已申请同中类（{label(fields.classification)}）仪器 {earlier}，"
                       f"每次均低于 {cny(threshold)}，连同本次合计 {cny(total)}，达到查重评议起点，需专家评议。")
    if quotations is None:
        reasons.append("本次为接口查重，未附报价单。")
    region = province_of(fields.city, fields.province)  # a city the map does not know is its own region
    request = PurchaseRequest(
        institution_id=fields.institution_id, submitted_by_id=actor.id, name=fields.name,
        classification_code=fields.classification, model=fields.model, specs=fields.specs, price_fen=fields.price_fen,
        purpose=fields.purpose, expected_hours=fields.expected_hours,
        province=region if region and len(region) <= 32 else None, city=fields.city, quotations=[],
        similar=[s.evidence() for s in similar[:MAX_EVIDENCE]], draft_opinion=opinion, reasons=reasons,
        split_suspected=bool(split), status=status, created_at=now)
    session.add(request)
    session.flush()
    storage, keys = quotation_storage(settings), []
    for n, upload in enumerate(files, 1):
        digest = hashlib.sha256(upload.data).hexdigest()[:12]
        keys.append(f"{request.id}/{n}-{digest}-{safe_name(upload.filename, '.pdf')}")
        storage.put(keys[-1], upload.data)
    request.quotations = keys
    session.flush()
    return request


def precompute(session: Session, actor: User, encoder: TextEncoder, fields: PurchaseFields, settings: Settings,
               now: datetime) -> None:
    """Encode the region's instruments in a reading transaction before submit_request's writing one: on
    SQLite a writing transaction holds the write lock from its start, and a province's first check encodes
    a few hundred texts (a second or two). The vectors are then cached and the writing check is quick."""
    require_role(actor, Role.institution_admin, Role.platform_admin)
    own = session.get(Institution, actor.institution_id) if actor.institution_id else None
    city = place(fields.city) or place(own.city if own else None)
    if city:
        find_similar(session, encoder, replace(fields, city=city), settings, now)


def viewable_request(session: Session, actor: User, request_id: int) -> PurchaseRequest:
    """Platform admins and experts see every request; an institution's staff see their institution's
    (another's is the same 404 as none)."""
    require_role(actor, Role.platform_admin, Role.expert, Role.institution_admin, Role.lab_staff)
    found = session.get(PurchaseRequest, request_id)
    if found is None or (actor.role in (Role.institution_admin, Role.lab_staff)
                         and found.institution_id != actor.institution_id):
        raise NotFound(f"没有第 {request_id} 号新购查重申请。", code="purchase_request_not_found")
    return found


def requests_for(session: Session, actor: User, status: str | None = None) -> list[PurchaseRequest]:
    """Newest first: an institution's own for its staff, all for platform admins."""
    require_role(actor, Role.platform_admin, Role.institution_admin, Role.lab_staff)
    query = select(PurchaseRequest).order_by(PurchaseRequest.created_at.desc(), PurchaseRequest.id.desc())
    if actor.role != Role.platform_admin:
        query = query.where(PurchaseRequest.institution_id == actor.institution_id)
    if status in STATUSES:
        query = query.where(PurchaseRequest.status == status)
    return list(session.scalars(query.limit(500)))


def _not_own(expert: User) -> Any:
    # an expert does not judge their own institution's request (利益回避)
    if expert.institution_id is None:
        return true()
    return or_(PurchaseRequest.institution_id.is_(None), PurchaseRequest.institution_id != expert.institution_id)


def awaiting_conclusion(session: Session, expert: User) -> list[PurchaseRequest]:
    """Requests waiting for an expert's conclusion that this expert may give, oldest first."""
    require_role(expert, Role.expert)
    return list(session.scalars(select(PurchaseRequest).where(PurchaseRequest.status == "submitted", _not_own(expert))
                                .order_by(PurchaseRequest.created_at, PurchaseRequest.id)))


def awaiting_count(session: Session, expert: User) -> int:
    return int(session.scalar(select(func.count()).select_from(PurchaseRequest)
                              .where(PurchaseRequest.status == "submitted", _not_own(expert))) or 0)


def conclude(session: Session, actor: User, request_id: int, conclusion: str, comment: str,
             now: datetime) -> PurchaseRequest:
    """An expert's conclusion with its reasoning, kept beside the draft and its evidence."""
    require_role(actor, Role.expert)
    request = session.get(PurchaseRequest, request_id, with_for_update=True)
    if request is None:
        raise NotFound(f"没有第 {request_id} 号新购查重申请。", code="purchase_request_not_found")
    if actor.institution_id is not None and request.institution_id == actor.institution_id:
        raise Forbidden("您与申请单位属同一单位，须回避，不能对本申请给出评议结论。", code="conflict_of_interest")
    if conclusion not in CONCLUSIONS:
        raise InvalidInput("评议结论须为：同意购置、共享使用已有仪器或不同意购置。", code="invalid_conclusion")
    comment = (comment or "").strip()
    if not comment:
        raise InvalidInput("请填写评议意见（结论的理由）。", code="comment_required")
    if len(comment) > COMMENT_MAX:
        raise InvalidInput(f"评议意见最多 {COMMENT_MAX} 个字。", code="comment_too_long")
    if request.status != "submitted":
        raise Conflict("该申请已有结论或仅登记备查，不能再评议。", code="already_concluded")
    request.status, request.conclusion, request.conclusion_comment = "concluded", conclusion, comment
    request.concluded_by, request.concluded_at = actor.display_name[:100], now
    session.flush()
    return request


def quotation_file(session: Session, actor: User, request_id: int, index: int, settings: Settings) -> tuple[str, bytes]:
    """The n-th quotation (1-based) of a request the actor may see: (download name, bytes)."""
    request = viewable_request(session, actor, request_id)
    if not 1 <= index <= len(request.quotations or []):
        raise NotFound("没有这份报价单。", code="quotation_not_found")
    key = request.quotations[index - 1]
    return key.split("/", 1)[-1].split("-", 2)[-1], quotation_storage(settings).get(key)
