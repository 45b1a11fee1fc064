"""Companies as verified parties: the verification a platform admin reviews, and
who may act for a company (its members).

Only an ACTIVE member of a VERIFIED company may apply for, see or spend that
company's innovation vouchers; a credit code typed into a profile grants nothing."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.errors import Conflict, Forbidden, InvalidInput, NotFound
from core.models import (
    Company, CompanyMember, CompanyStatus, DocumentKind, MemberRole, MemberStatus, Role, StoredDocument, User,
)
from core.models._types import MAX_ROW_ID, utcnow
from core.report_storage import ReportStorage
from core.services.people.authz import require_role
from core.services.people.company import update_company, valid_credit_code
from core.services.people.company_documents import Upload, checked_document, safe_name
from core.services.people.notifications import notify

STATUS_LABELS = {CompanyStatus.unverified: "未认证", CompanyStatus.pending: "审核中", CompanyStatus.verified: "已认证",
                 CompanyStatus.rejected: "未通过"}
T = TypeVar("T", Company, CompanyMember)


@dataclass(frozen=True)
class VerificationRequest:
    company_name: str
    credit_code: str
    legal_rep_name: str
    is_legal_rep: bool
    licence: Upload | None
    authorisation: Upload | None


@dataclass(frozen=True)
class MyCompany:
    company: Company | None
    membership: CompanyMember | None
    can_use_vouchers: bool


@dataclass(frozen=True)
class CompanyReview:
    company: Company
    submitter: User | None


# --- who belongs where ------------------------------------------------------------------------------------------

def current_membership(session: Session, user_id: int, lock: bool = False) -> CompanyMember | None:
    """The user's one membership that is not removed (pending or active), if any."""
    query = select(CompanyMember).where(CompanyMember.user_id == user_id, CompanyMember.status != MemberStatus.removed)
    return session.scalar(query.with_for_update() if lock else query)


def voucher_company(session: Session, user: User) -> Company | None:
    """The verified company whose vouchers this user may apply for, see and spend."""
    return session.scalar(
        select(Company).join(CompanyMember, CompanyMember.company_id == Company.id)
        .where(CompanyMember.user_id == user.id, CompanyMember.status == MemberStatus.active,
               Company.status == CompanyStatus.verified))


def may_use_vouchers_of(session: Session, user_id: int, company_id: int, lock: bool = False) -> bool:
    """Asked again at every spend. With lock (at payment), the membership row is share-locked so
    that a removal cannot commit between this check and the payment's commit on PostgreSQL."""
    query = (select(CompanyMember.id).join(Company, Company.id == CompanyMember.company_id)
             .where(CompanyMember.user_id == user_id, CompanyMember.company_id == company_id,
                    CompanyMember.status == MemberStatus.active, Company.status == CompanyStatus.verified))
    if lock:
        query = query.with_for_update(read=True, of=CompanyMember)
    return session.scalar(query) is not None


def my_company(session: Session, actor: User) -> MyCompany:
    mine = current_membership(session, actor.id)
    company = session.get(Company, mine.company_id) if mine else None
    usable = bool(company and mine and mine.status == MemberStatus.active and company.status == CompanyStatus.verified)
    return MyCompany(company, mine, usable)


def _get(session: Session, model: type[T], row_id: int, lock: bool = False) -> T | None:
    return session.get(model, row_id, with_for_update=lock) if 0 < row_id <= MAX_ROW_ID else None


def _is_submission(member: CompanyMember) -> bool:
    """The pending admin row of whoever submitted the company's verification."""
    return member.status == MemberStatus.pending and member.role == MemberRole.admin and member.invited_by is None


def _end(member: CompanyMember, by: User) -> None:
    member.status, member.removed_by, member.removed_at = MemberStatus.removed, by.id, utcnow()


def _insert(session: Session, row: T, conflict: Conflict) -> T:
    """Add a row whose unique key another request may have just taken (PostgreSQL; SQLite serialises writers)."""
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        raise conflict from None
    return row


def _active_admins(session: Session, company_id: int) -> list[CompanyMember]:
    return list(session.scalars(select(CompanyMember).where(
        CompanyMember.company_id == company_id, CompanyMember.role == MemberRole.admin,
        CompanyMember.status == MemberStatus.active)))


# --- verification ---------------------------------------------------------------------------------------------

def submit_verification(session: Session, actor: User, request: VerificationRequest, storage: ReportStorage,
                        max_bytes: int) -> Company:
    """The first user of a company asks for it to be verified and becomes its pending admin.
    Every check comes before anything is written; the files are stored last."""
    require_role(actor, Role.enterprise)
    name, code, rep = request.company_name.strip(), request.credit_code.strip().upper(), request.legal_rep_name.strip()
    problems = {}
    if not 2 <= len(name) <= 200:
        problems["company_name"] = "企业名称为 2 到 200 个字符"
    if not valid_credit_code(code):
        problems["credit_code"] = "请填写正确的 18 位统一社会信用代码"
    if not 1 <= len(rep) <= 100:
        problems["legal_rep_name"] = "请填写法定代表人姓名"
    if problems:
        raise InvalidInput("认证信息有误：" + "；".join(problems.values()) + "。", code="invalid_company",
                           details={"fields": problems})
    uploads = {DocumentKind.licence: request.licence}
    if not request.is_legal_rep:
        if request.authorisation is None:
            raise InvalidInput("您不是法定代表人，请同时上传法定代表人签署的授权书。", code="authorisation_required")
        uploads[DocumentKind.authorisation] = request.authorisation
    checked = {kind: checked_document(kind, upload, max_bytes) for kind, upload in uploads.items()}

    company = session.scalar(select(Company).where(Company.credit_code == code).with_for_update())
    if company is not None and company.status == CompanyStatus.verified:
        raise Conflict("该企业已通过认证。请在“我的企业”中填写该统一社会信用代码申请加入，由企业管理员审核。",
                       code="company_already_verified")
    if company is not None and company.status == CompanyStatus.pending:
        if company.submitted_by == actor.id:
            raise Conflict("您提交的企业认证正在审核中，请等待审核结果。", code="verification_pending")
        raise Conflict("该企业已由其他用户提交认证，正在审核中。", code="verification_in_progress")
    mine = current_membership(session, actor.id, lock=True)
    if mine is not None and (company is None or mine.company_id != company.id):
        if mine.status == MemberStatus.active or _is_submission(mine):
            other = session.get(Company, mine.company_id)
            raise Conflict(f"您已属于企业“{other.name if other else ''}”，一个账号只能属于一家企业；请先退出该企业。",
                           code="already_in_company")
        _end(mine, actor)  # a join request or invitation elsewhere gives way to the user's own company
        mine = None
    if company is None:
        company = _insert(session, Company(credit_code=code, name=name, status=CompanyStatus.pending),
                          Conflict("该企业刚刚由其他用户提交了认证，请稍后查看。", code="verification_in_progress"))
    for earlier in session.scalars(select(CompanyMember).where(
            CompanyMember.company_id == company.id, CompanyMember.status == MemberStatus.pending,
            CompanyMember.role == MemberRole.admin, CompanyMember.invited_by.is_(None),
            CompanyMember.user_id != actor.id)):
        earlier.role = MemberRole.member  # an earlier, rejected submitter now waits like any join request
    if mine is None:
        _insert(session, CompanyMember(company_id=company.id, user_id=actor.id, role=MemberRole.admin,
                                       status=MemberStatus.pending),
                Conflict("您的企业归属刚刚发生了变化，请刷新后重试。", code="already_in_company"))
    else:
        mine.role, mine.invited_by = MemberRole.admin, None
    company.name, company.legal_rep_name, company.status = name, rep, CompanyStatus.pending
    company.submitted_by, company.submitter_is_legal_rep, company.submitted_at = actor.id, request.is_legal_rep, utcnow()
    company.reviewed_by = company.reviewed_at = company.rejection_reason = None
    actor.company_name, actor.company_credit_code = name, code  # the invoice details follow the claimed company
    writes = []
    for kind in DocumentKind:
        if kind not in checked:
            company.set_document(kind, None)  # a legal representative's own submission needs no letter
            continue
        upload, content_type, ext = checked[kind]
        digest = hashlib.sha256(upload.data).hexdigest()
        doc = StoredDocument(kind, safe_name(upload.filename, ext), content_type, len(upload.data), digest,
                             f"{company.id}/{kind.value}-{digest}{ext}")
        company.set_document(kind, doc)
        writes.append((doc.storage_key, upload.data))
    session.flush()
    for key, data in writes:
        storage.put(key, data)
    return company


def companies_for_review(session: Session, actor: User, status: CompanyStatus | None) -> list[CompanyReview]:
    """Oldest submission first, so nobody waits behind newer ones."""
    require_role(actor, Role.platform_admin)
    query = select(Company, User).outerjoin(User, User.id == Company.submitted_by)
    if status is not None:
        query = query.where(Company.status == status)
    query = query.order_by(Company.submitted_at.is_(None), Company.submitted_at, Company.id)
    return [CompanyReview(company, user) for company, user in session.execute(query)]


def company_document(session: Session, actor: User, company_id: int, kind: str,
                     storage: ReportStorage) -> tuple[StoredDocument, bytes]:
    require_role(actor, Role.platform_admin)
    company = _get(session, Company, company_id)
    doc = company.document(DocumentKind(kind)) if company and kind in DocumentKind.__members__ else None
    if doc is None:
        raise NotFound("没有找到这份企业认证材料。", code="document_not_found")
    return doc, storage.get(doc.storage_key)


def decide_verification(session: Session, actor: User, company_id: int, *, approve: bool,
                        reason: str | None = None) -> Company:
    require_role(actor, Role.platform_admin)
    company = _get(session, Company, company_id, lock=True)
    if company is None:
        raise NotFound("没有这家企业。", code="company_not_found")
    if company.status != CompanyStatus.pending:
        raise Conflict(f"该企业的认证状态是“{STATUS_LABELS[company.status]}”，不是待审核。", code="not_pending")
    reason = (reason or "").strip()
    if not approve and not reason:
        raise InvalidInput("驳回企业认证时请填写原因，提交人会看到它。", code="reason_required")
    submitter = session.scalar(select(CompanyMember).where(
        CompanyMember.company_id == company.id, CompanyMember.user_id == company.submitted_by,
        CompanyMember.status == MemberStatus.pending).with_for_update())
    company.reviewed_by, company.reviewed_at = actor.id, utcnow()
    if approve:
        company.status, company.rejection_reason = CompanyStatus.verified, None
        if submitter is not None:
            submitter.role, submitter.status = MemberRole.admin, MemberStatus.active
            submitter.approved_by, submitter.activated_at = actor.id, utcnow()
        title, body = "企业认证已通过", (f"您提交的“{company.name}”企业认证已通过审核。您现在是该企业的管理员，"
                                         "可以申请和使用创新券，并审核成员的加入申请。")
    else:
        company.status, company.rejection_reason = CompanyStatus.rejected, reason
        title, body = "企业认证未通过", f"您提交的“{company.name}”企业认证未通过审核，原因：{reason}。您可以修改后重新提交。"
    session.flush()
    if company.submitted_by is not None:
        notify(session, company.submitted_by, "company_verified" if approve else "company_rejected", title, body)
    return company


# --- members --------------------------------------------------------------------------------------------------

def claim_company(session: Session, actor: User, name: str, credit_code: str, contact_name: str,
                  contact_phone: str) -> User:
    """PUT /me/company: the invoice details are stored; claiming the code of a company the platform
    knows only files a join request, which the company's admin decides."""
    user = update_company(session, actor, name, credit_code, contact_name, contact_phone)
    company = session.scalar(select(Company).where(Company.credit_code == user.company_credit_code))
    if company is None:
        return user
    mine = current_membership(session, actor.id, lock=True)
    if mine is not None:
        if mine.company_id == company.id or mine.status == MemberStatus.active or _is_submission(mine) \
                or mine.is_invitation:
            return user  # already where they claim to be, or settled elsewhere: nothing changes
        _end(mine, actor)  # a join request elsewhere is withdrawn by claiming another company
    _insert(session, CompanyMember(company_id=company.id, user_id=actor.id, role=MemberRole.member,
                                   status=MemberStatus.pending),
            Conflict("您的企业归属刚刚发生了变化，请刷新后重试。", code="already_in_company"))
    for admin in _active_admins(session, company.id):
        notify(session, admin.user_id, "company_join_request", "新的加入企业申请",
               f"{actor.display_name} 申请加入“{company.name}”，请在“企业成员”中审核。")
    return user


def _managing(session: Session, actor: User, company_id: int | None = None) -> tuple[CompanyMember, Company]:
    """The actor's active admin membership of a verified company (locked: member changes queue per company).
    A member of another company (company_id given) gets a 404, as if the member did not exist."""
    require_role(actor, Role.enterprise)
    mine = current_membership(session, actor.id)
    company = session.get(Company, mine.company_id, with_for_update=True) if mine else None
    if company_id is not None and (company is None or company.id != company_id):
        raise NotFound("您的企业中没有这个成员。", code="member_not_found")
    if mine is None or company is None or mine.status != MemberStatus.active or mine.role != MemberRole.admin \
            or company.status != CompanyStatus.verified:
        raise Forbidden("只有已认证企业的管理员才能审核、邀请或移除成员。", code="not_company_admin")
    return mine, company


def _member(session: Session, member_id: int) -> CompanyMember:
    member = _get(session, CompanyMember, member_id, lock=True)
    if member is None or member.status == MemberStatus.removed:
        raise NotFound("您的企业中没有这个成员。", code="member_not_found")
    return member


def members_of_my_company(session: Session, actor: User) -> list[tuple[CompanyMember, User]]:
    _, company = _managing(session, actor)
    return [(m, u) for m, u in session.execute(
        select(CompanyMember, User).join(User, User.id == CompanyMember.user_id)
        .where(CompanyMember.company_id == company.id, CompanyMember.status != MemberStatus.removed)
        .order_by(CompanyMember.status, CompanyMember.id))]


def approve_member(session: Session, actor: User, member_id: int, role: MemberRole = MemberRole.member) -> CompanyMember:
    member = _member(session, member_id)
    _, company = _managing(session, actor, member.company_id)
    if member.status == MemberStatus.active:
        raise Conflict("该用户已是企业成员。", code="already_active")
    if member.is_invitation:
        raise Conflict("这是企业发出的邀请，需要被邀请人本人接受。", code="invitation_pending")
    member.role, member.status = role, MemberStatus.active
    member.approved_by, member.activated_at = actor.id, utcnow()
    session.flush()
    notify(session, member.user_id, "company_member_approved", "加入企业申请已通过",
           f"您已成为“{company.name}”的成员，可以使用该企业的创新券。")
    return member


def remove_member(session: Session, actor: User, member_id: int) -> CompanyMember:
    """An admin removes a member (or turns down a request); anyone may leave, except the last admin."""
    member = _member(session, member_id)
    leaving = member.user_id == actor.id
    if leaving:
        require_role(actor, Role.enterprise)
        company = session.get(Company, member.company_id, with_for_update=True)
        assert company is not None
    else:
        _, company = _managing(session, actor, member.company_id)
    if member.status == MemberStatus.active and member.role == MemberRole.admin \
            and len(_active_admins(session, company.id)) <= 1:
        raise Conflict("您是企业唯一的管理员，不能退出；请先批准或邀请一位成员担任管理员。", code="last_admin")
    if _is_submission(member) and company.status == CompanyStatus.pending and company.submitted_by == member.user_id:
        company.status = CompanyStatus.unverified  # the submitter withdrew: nobody is left to review for
    _end(member, actor)
    session.flush()
    if not leaving:
        notify(session, member.user_id, "company_member_removed", "您已不是企业成员",
               f"您已不再是“{company.name}”的成员，不能再使用该企业的创新券。")
    return member


def invite_member(session: Session, actor: User, user_id: int, role: MemberRole = MemberRole.member) -> CompanyMember:
    _, company = _managing(session, actor)
    invitee = session.get(User, user_id) if 0 < user_id <= MAX_ROW_ID else None
    if invitee is None or not invitee.active or invitee.role != Role.enterprise:
        raise NotFound("没有这个企业用户。", code="user_not_found")
    theirs = current_membership(session, invitee.id, lock=True)
    if theirs is not None:
        if theirs.company_id != company.id:
            raise Conflict("该用户已属于或正在申请加入其他企业。", code="user_in_other_company")
        if theirs.status == MemberStatus.active:
            raise Conflict("该用户已是本企业成员。", code="already_active")
        if theirs.is_invitation:
            raise Conflict("已经邀请过该用户，请等待对方接受。", code="already_invited")
        raise Conflict("该用户已申请加入本企业，请直接审核其申请。", code="join_request_pending")
    member = _insert(session, CompanyMember(company_id=company.id, user_id=invitee.id, role=role,
                                            status=MemberStatus.pending, invited_by=actor.id),
                     Conflict("该用户的企业归属刚刚发生了变化，请刷新后重试。", code="user_in_other_company"))
    notify(session, invitee.id, "company_invitation", "企业成员邀请",
           f"{actor.display_name} 邀请您加入“{company.name}”。在“我的企业”中接受邀请后即可使用该企业的创新券。")
    return member


def accept_invitation(session: Session, actor: User) -> CompanyMember:
    require_role(actor, Role.enterprise)
    mine = current_membership(session, actor.id, lock=True)
    if mine is None or not mine.is_invitation:
        raise NotFound("您没有待接受的企业邀请。", code="invitation_not_found")
    company = session.get(Company, mine.company_id)
    assert company is not None
    mine.status, mine.approved_by, mine.activated_at = MemberStatus.active, mine.invited_by, utcnow()
    actor.company_name, actor.company_credit_code = company.name, company.credit_code
    session.flush()
    return mine

