"""Tables of the template catalog: the searchable index, immutable template versions, and the
lineage of workflows made from a template.

Full-text search: on PostgreSQL the `search_vector` column (to_tsvector('english', search_text), set by
catalog.index) with a GIN index; on SQLite the FTS5 table `catalog_templates_fts`, which the ORM does not
model (created by migration 0004, kept in step by catalog.index)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, IdMixin, JsonType, TenantOwnedMixin, TimestampMixin, utcnow

FTS_TABLE = "catalog_templates_fts"  # SQLite FTS5 (template_id UNINDEXED, document)


class CatalogTemplate(IdMixin, TimestampMixin, Base):
    """One template in the index. Public templates (from catalog/templates) have no tenant;
    a tenant's private template (saved from one of its workflows) is visible only to that tenant."""

    __tablename__ = "catalog_templates"
    __table_args__ = (
        Index("ix_catalog_templates_category_title", "category", "title"),
        Index("ix_catalog_templates_tenant_title", "tenant_id", "title"),
        Index("ix_catalog_templates_search", "search_vector", postgresql_using="gin"),
    )
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    tenant_id: Mapped[str | None] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(40))
    tags: Mapped[list[str]] = mapped_column(JsonType)  # filtered through catalog_template_tags
    integrations: Mapped[list[str]] = mapped_column(JsonType)  # e.g. ["crm", "sendgrid"]
    latest_version: Mapped[int] = mapped_column(Integer)
    search_text: Mapped[str] = mapped_column(Text)  # title, description, tags and integrations: what search reads
    search_vector: Mapped[str | None] = mapped_column(Text().with_variant(TSVECTOR(), "postgresql"))  # PostgreSQL only
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class CatalogTemplateTag(Base):
    __tablename__ = "catalog_template_tags"
    __table_args__ = (Index("ix_catalog_template_tags_tag", "tag", "template_id"),)
    template_id: Mapped[str] = mapped_column(ForeignKey("catalog_templates.id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(40), primary_key=True)


class CatalogTemplateVersion(IdMixin, TimestampMixin, Base):
    """A published version of a template: never changed once written (upgrades merge from it)."""

    __tablename__ = "catalog_template_versions"
    __table_args__ = (UniqueConstraint("template_id", "version"),)
    template_id: Mapped[str] = mapped_column(ForeignKey("catalog_templates.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    definition: Mapped[dict[str, Any]]  # the whole template file: parameters, graph, trigger, changelog ...
    changelog: Mapped[str] = mapped_column(Text, default="")  # what changed in this version
    created_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class WorkflowLineage(TenantOwnedMixin, TimestampMixin, Base):
    """Which template (and version, with which parameters) a workflow was made from."""

    __tablename__ = "workflow_lineage"
    workflow_id: Mapped[str] = mapped_column(ForeignKey("workflows.id", ondelete="CASCADE"), primary_key=True)
    template_id: Mapped[str] = mapped_column(ForeignKey("catalog_templates.id", ondelete="CASCADE"), index=True)
    template_slug: Mapped[str] = mapped_column(String(80))
    template_version: Mapped[int] = mapped_column(Integer)
    parameters: Mapped[dict[str, Any]]
    trigger_overrides: Mapped[dict[str, Any] | None]
    upgraded_at: Mapped[datetime | None]
