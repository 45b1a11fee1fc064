"""Companies: the signed-in user's company and membership, its verification (business licence,
authorisation letter), member management by the company's admin, and the platform admin's review."""
from __future__ import annotations

from datetime import datetime
from io import BytesIO
from typing import Literal

from flask import Blueprint, jsonify, request, send_file
from pydantic import BaseModel, ConfigDict, Field
from werkzeug.datastructures import FileStorage

from api.auth import signed_in_user
from api.openapi import documented
from api.order_views import platform
from api.validation import parse_json_body, parse_query
from core.models import Company, CompanyMember, CompanyStatus, DocumentKind, MemberRole, User
from core.report_storage import LocalReportStorage
from core.services.people import companies
from core.services.people.companies import STATUS_LABELS, VerificationRequest
from core.services.people.company_documents import Upload

companies_bp = Blueprint("companies", __name__, url_prefix="/api/v1")

MEMBER_ERRORS = (400, 401, 403, 404, 409)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class VerificationForm(Strict):
    company_name: str = Field(max_length=200)
    credit_code: str = Field(max_length=18)
    legal_rep_name: str = Field(max_length=100, description="法定代表人姓名")
    is_legal_rep: bool = Field(description="the submitter is the legal representative")


class VerificationUpload(VerificationForm):
    """The multipart form: the fields above and the files."""
    licence: bytes = Field(description="营业执照: JPEG, PNG or PDF")
    authorisation: bytes | None = Field(default=None, description="授权书, required unless is_legal_rep")


class ApproveMemberBody(Strict):
    role: Literal["member", "admin"] = "member"


class InviteBody(Strict):
    user_id: int = Field(gt=0)
    role: Literal["member", "admin"] = "member"


class CompanyDecisionBody(Strict):
    approve: bool
    reason: str | None = Field(default=None, max_length=1000)


class CompaniesQuery(Strict):
    status: Literal["unverified", "pending", "verified", "rejected", "all"] = "pending"


class CompanyOut(BaseModel):
    id: int
    name: str
    credit_code: str
    status: str
    status_label: str
    legal_rep_name: str | None
    submitted_at: datetime | None
    reviewed_at: datetime | None
    rejection_reason: str | None


class MembershipOut(BaseModel):
    id: int
    role: str
    status: str
    invitation: bool = Field(description="pending because the company invited this user (who must accept)")
    created_at: datetime
    activated_at: datetime | None


class MyCompanyOut(BaseModel):
    company: CompanyOut | None
    membership: MembershipOut | None
    can_use_vouchers: bool


class MemberOut(MembershipOut):
    user_id: int
    display_name: str
    removed_at: datetime | None


class MemberList(BaseModel):
    items: list[MemberOut]


class DocumentOut(BaseModel):
    kind: str
    filename: str
    content_type: str
    size_bytes: int
    sha256: str
    download_url: str


class CompanyReviewOut(CompanyOut):
    submitter_id: int | None
    submitter_name: str | None
    submitter_is_legal_rep: bool | None
    documents: list[DocumentOut]


class CompanyReviewList(BaseModel):
    items: list[CompanyReviewOut]


_FORM_MESSAGES = {
    "company_name": "请填写企业名称（不超过 200 个字符）。",
    "credit_code": "请填写 18 位统一社会信用代码。",
    "legal_rep_name": "请填写法定代表人姓名（不超过 100 个字符）。",
    "is_legal_rep": "请说明您是否为法定代表人（is_legal_rep 填 true 或 false）。",
}


def _company_out(company: Company, show_reason: bool) -> CompanyOut:
    return CompanyOut(id=company.id, name=company.name, credit_code=company.credit_code, status=company.status.value,
                      status_label=STATUS_LABELS[company.status], legal_rep_name=company.legal_rep_name,
                      submitted_at=company.submitted_at, reviewed_at=company.reviewed_at,
                      rejection_reason=company.rejection_reason if show_reason else None)


def _membership_fields(m: CompanyMember) -> dict[str, object]:
    return dict(id=m.id, role=m.role.value, status=m.status.value, invitation=m.is_invitation,
                created_at=m.created_at, activated_at=m.activated_at)


def _member_out(m: CompanyMember, user: User) -> MemberOut:
    return MemberOut(**_membership_fields(m), user_id=user.id, display_name=user.display_name,  # type: ignore[arg-type]
                     removed_at=m.removed_at)


def _review_out(review: companies.CompanyReview) -> CompanyReviewOut:
    c = review.company
    docs = [d for d in (c.document(k) for k in DocumentKind) if d is not None]
    return CompanyReviewOut(
        **_company_out(c, show_reason=True).model_dump(), submitter_id=c.submitted_by,
        submitter_name=review.submitter.display_name if review.submitter else None,
        submitter_is_legal_rep=c.submitter_is_legal_rep,
        documents=[DocumentOut(kind=d.kind.value, filename=d.filename, content_type=d.content_type,
                               size_bytes=d.size_bytes, sha256=d.sha256,
                               download_url=f"/api/v1/admin/companies/{c.id}/documents/{d.kind.value}") for d in docs])


def _my_company_json(mine: companies.MyCompany, user: User):  # type: ignore[no-untyped-def]
    company = mine.company
    out = MyCompanyOut(
        company=_company_out(company, show_reason=company.submitted_by == user.id) if company else None,
        membership=MembershipOut(**_membership_fields(mine.membership)) if mine.membership else None,  # type: ignore[arg-type]
        can_use_vouchers=mine.can_use_vouchers)
    return out.model_dump(mode="json")


def _upload(field: str, max_bytes: int) -> Upload | None:
    file: FileStorage | None = request.files.get(field)
    if file is None:
        return None
    # never read more than one byte past the limit into memory: that is enough to refuse it
    return Upload(file.filename or field, file.stream.read(max_bytes + 1))


@companies_bp.get("/me/company")
@documented("/me/company", "get", "My company, my membership and whether I may use its vouchers", MyCompanyOut,
            errors=(401,), signed_in=True)
def my_company():  # type: ignore[no-untyped-def]
    with platform().transaction(write=False) as session:
        user = signed_in_user(session)
        out = _my_company_json(companies.my_company(session, user), user)
    return jsonify(out)


@companies_bp.post("/me/company/verification")
@documented("/me/company/verification", "post",
            "Submit my company for verification: licence, and an authorisation letter unless I am the legal "
            "representative (multipart)", MyCompanyOut, errors=(400, 401, 403, 409), body=VerificationUpload,
            body_media_type="multipart/form-data", signed_in=True, status=201)
def submit_verification():  # type: ignore[no-untyped-def]
    form = parse_json_body(VerificationForm, request.form.to_dict(), _FORM_MESSAGES)
    p = platform()
    limit = p.settings.company_document_max_bytes
    submitted = VerificationRequest(form.company_name, form.credit_code, form.legal_rep_name, form.is_legal_rep,
                                    _upload("licence", limit), _upload("authorisation", limit))
    with p.transaction() as session:
        user = signed_in_user(session)
        companies.submit_verification(session, user, submitted, LocalReportStorage(p.settings.company_documents_dir),
                                      limit)
        out = _my_company_json(companies.my_company(session, user), user)
    return jsonify(out), 201


@companies_bp.post("/me/company/invitation/accept")
@documented("/me/company/invitation/accept", "post", "Accept the company's invitation to join it", MyCompanyOut,
            errors=(401, 403, 404), signed_in=True)
def accept_invitation():  # type: ignore[no-untyped-def]
    with platform().transaction() as session:
        user = signed_in_user(session)
        companies.accept_invitation(session, user)
        out = _my_company_json(companies.my_company(session, user), user)
    return jsonify(out)


@companies_bp.get("/me/company/members")
@documented("/me/company/members", "get", "My company's members and join requests (company admin)", MemberList,
            errors=(401, 403), signed_in=True)
def list_members():  # type: ignore[no-untyped-def]
    with platform().transaction(write=False) as session:
        rows = companies.members_of_my_company(session, signed_in_user(session))
        out = MemberList(items=[_member_out(m, u) for m, u in rows])
    return jsonify(out.model_dump(mode="json"))


@companies_bp.post("/me/company/members/<int:member_id>/approve")
@documented("/me/company/members/{member_id}/approve", "post", "Approve a join request (company admin)", MemberOut,
            errors=MEMBER_ERRORS, body=ApproveMemberBody, signed_in=True)
def approve_member(member_id: int):  # type: ignore[no-untyped-def]
    body = parse_json_body(ApproveMemberBody, request.get_json(silent=True))
    with platform().transaction() as session:
        member = companies.approve_member(session, signed_in_user(session), member_id, MemberRole(body.role))
        out = _member_out(member, session.get(User, member.user_id))  # type: ignore[arg-type]
    return jsonify(out.model_dump(mode="json"))


@companies_bp.post("/me/company/members/<int:member_id>/remove")
@documented("/me/company/members/{member_id}/remove", "post",
            "Remove a member or turn down a request (company admin); my own id: leave the company", MemberOut,
            errors=MEMBER_ERRORS, signed_in=True)
def remove_member(member_id: int):  # type: ignore[no-untyped-def]
    with platform().transaction() as session:
        member = companies.remove_member(session, signed_in_user(session), member_id)
        out = _member_out(member, session.get(User, member.user_id))  # type: ignore[arg-type]
    return jsonify(out.model_dump(mode="json"))


@companies_bp.post("/me/company/invitations")
@documented("/me/company/invitations", "post", "Invite a user by id to join my company (company admin)", MemberOut,
            errors=MEMBER_ERRORS, body=InviteBody, signed_in=True, status=201)
def invite():  # type: ignore[no-untyped-def]
    body = parse_json_body(InviteBody, request.get_json(silent=True), {"user_id": "请填写被邀请用户的编号（user_id）。"})
    with platform().transaction() as session:
        member = companies.invite_member(session, signed_in_user(session), body.user_id, MemberRole(body.role))
        out = _member_out(member, session.get(User, member.user_id))  # type: ignore[arg-type]
    return jsonify(out.model_dump(mode="json")), 201


@companies_bp.get("/admin/companies")
@documented("/admin/companies", "get", "Companies by verification status, oldest submission first (platform admin)",
            CompanyReviewList, query=CompaniesQuery, errors=(400, 401, 403), signed_in=True)
def list_companies():  # type: ignore[no-untyped-def]
    query = parse_query(CompaniesQuery, request.args)
    status = None if query.status == "all" else CompanyStatus(query.status)
    with platform().transaction(write=False) as session:
        reviews = companies.companies_for_review(session, signed_in_user(session), status)
        out = CompanyReviewList(items=[_review_out(r) for r in reviews])
    return jsonify(out.model_dump(mode="json"))


@companies_bp.get("/admin/companies/<int:company_id>/documents/<kind>")
@documented("/admin/companies/{company_id}/documents/{kind}", "get",
            "Download a verification document: licence or authorisation (platform admin)", CompanyReviewOut,
            errors=(401, 403, 404), signed_in=True, media_type="application/octet-stream")
def download_document(company_id: int, kind: str):  # type: ignore[no-untyped-def]
    p = platform()
    with p.transaction(write=False) as session:
        doc, data = companies.company_document(session, signed_in_user(session), company_id, kind,
                                               LocalReportStorage(p.settings.company_documents_dir))
    response = send_file(BytesIO(data), mimetype=doc.content_type, download_name=doc.filename, as_attachment=True)
    response.headers["X-Content-Type-Options"] = "nosniff"  # an uploaded file is never rendered as something else
    return response


@companies_bp.post("/admin/companies/<int:company_id>/decision")
@documented("/admin/companies/{company_id}/decision", "post", "Approve a company's verification, or reject it with "
            "a reason (platform admin)", CompanyReviewOut, errors=(400, 401, 403, 404, 409), body=CompanyDecisionBody,
            signed_in=True)
def decide(company_id: int):  # type: ignore[no-untyped-def]
    body = parse_json_body(CompanyDecisionBody, request.get_json(silent=True),
                           {"approve": "请说明是否通过（approve 填 true 或 false）。"})
    with platform().transaction() as session:
        company = companies.decide_verification(session, signed_in_user(session), company_id, approve=body.approve,
                                                reason=body.reason)
        out = _review_out(companies.CompanyReview(company, session.get(User, company.submitted_by)
                                                  if company.submitted_by else None))
    return jsonify(out.model_dump(mode="json"))
