"""Blind indexes of run inputs: a keyed hash per chosen field and value, so that a workspace finds its runs
by a customer's email without the value being stored anywhere else in clear (`engine.search_index`)."""

from __future__ import annotations

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base

DEFAULT_SEARCH_FIELDS = ("email", "phone", "customer_id", "order_id")


class RunSearchKey(Base):
    """One (field, value) of one run's input, as `digest` (HMAC-SHA256 under the workspace's index key)."""

    __tablename__ = "run_search_keys"
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    field: Mapped[str] = mapped_column(String(64), primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    execution_id: Mapped[str] = mapped_column(
        ForeignKey("executions.id", ondelete="CASCADE"), primary_key=True, index=True
    )
