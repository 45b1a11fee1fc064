"""The double-entry ledger: each transaction's postings sum to zero."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base
from core.models._types import created_at_column


class LedgerTransaction(Base):
    __tablename__ = "ledger_transactions"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))  # payment, voucher_reserve, settlement, refund…
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), index=True)
    memo: Mapped[str | None] = mapped_column(String(300))
    # what the movement is the one record of ("payment:<id>"): the database refuses a second
    # credit of one payment whatever the code above it does
    ref: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = created_at_column()

    postings: Mapped[list["LedgerPosting"]] = relationship(back_populates="transaction")


class LedgerPosting(Base):
    __tablename__ = "ledger_postings"

    id: Mapped[int] = mapped_column(primary_key=True)
    transaction_id: Mapped[int] = mapped_column(ForeignKey("ledger_transactions.id"), index=True)
    # payer:<user id>, voucher_fund, escrow:<order id>, lab:<institution id>
    account: Mapped[str] = mapped_column(String(64), index=True)
    amount_cents: Mapped[int] = mapped_column(BigInteger)  # + debit into the account, - credit out of it

    transaction: Mapped[LedgerTransaction] = relationship(back_populates="postings")
