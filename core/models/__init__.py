"""Every model module, imported so that Base.metadata knows all tables."""
from core.models.company import (
    Company, CompanyMember, CompanyStatus, DocumentKind, MemberRole, MemberStatus, StoredDocument,
)
from core.models.evaluation import EvaluationAssignment, EvaluationEntry, EvaluationRound
from core.models.evaluation_score import EvaluationAppeal, EvaluationScore, EvaluationSelfReport
from core.models.group_buy import GroupBuyCampaign
from core.models.idempotency_key import IdempotencyKey
from core.models.idle_report import IdleReport
from core.models.index_change import IndexChange
from core.models.institution import Institution, OnboardingStatus
from core.models.instrument import Instrument
from core.models.instrument_month import InstrumentMonth, SelfReportedHours
from core.models.instrument_state import InstrumentLevels, InstrumentStateInterval
from core.models.job import Job
from core.models.ledger import LedgerPosting, LedgerTransaction
from core.models.notification import Notification
from core.models.order import DeliveryMode, Order, OrderEvent, OrderStatus, SlotHold
from core.models.order_usage import OrderUsage
from core.models.payment import Payment
from core.models.profit_share import ProfitShare
from core.models.purchase_request import PurchaseRequest
from core.models.rating import Rating
from core.models.refund import Refund
from core.models.review import PendingRevision, ReviewEvent
from core.models.report import Report
from core.models.schedule import Blackout, OpeningHours
from core.models.service import Service
from core.models.synonym import Synonym
from core.models.unmet_demand import UnmetDemand
from core.models.usage_correction import UsageCorrection
from core.models.usage_month import UsageMonthVersion
from core.models.user import Role, User
from core.models.voucher import VoucherApplication, VoucherRedemption, VoucherStatus

__all__ = [
    "Blackout", "Company", "CompanyMember", "CompanyStatus", "DeliveryMode", "DocumentKind",
    "EvaluationAppeal", "EvaluationAssignment", "EvaluationEntry", "EvaluationRound", "EvaluationScore",
    "EvaluationSelfReport", "GroupBuyCampaign",
    "IdempotencyKey", "IdleReport", "IndexChange", "Institution", "Instrument", "InstrumentLevels", "InstrumentMonth", "InstrumentStateInterval",
    "Job", "LedgerPosting", "LedgerTransaction", "MemberRole", "MemberStatus", "Notification",
    "OnboardingStatus", "OpeningHours", "Order", "OrderEvent", "OrderStatus", "OrderUsage", "Payment",
    "PendingRevision", "ProfitShare", "PurchaseRequest", "Rating", "Refund", "Report", "ReviewEvent", "Role", "SelfReportedHours", "Service", "SlotHold", "StoredDocument", "Synonym",
    "UnmetDemand", "UsageCorrection", "UsageMonthVersion", "User", "VoucherApplication", "VoucherRedemption", "VoucherStatus",
]
