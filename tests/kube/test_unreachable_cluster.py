"""A cluster that cannot be reached loses no sign-up: the workspace is created on the default tier and left for
the periodic pass (its `kube_reconciled_at` stays empty, which puts it first in the next pass)."""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select

from core.settings import Settings
from platform_api.app import create_app
from store import Tenant
from store.db import get_session_factory
from tests.conftest import InProcessApi

UNREACHABLE = """apiVersion: v1
kind: Config
clusters: [{name: gone, cluster: {server: "https://127.0.0.1:9"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: gone, context: {cluster: gone, user: u}}]
current-context: gone
"""


def test_signup_succeeds_when_the_cluster_is_unreachable(platform_db_url: str, tmp_path: Path, caplog):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(UNREACHABLE)
    settings = Settings(
        home=tmp_path,
        database_url=platform_db_url,
        dispatcher={"enabled": False},
        prefect={"api_url": "http://127.0.0.1:9/api"},
        kubernetes={"enabled": True, "kubeconfig": kubeconfig, "default_tier": "dedicated"},
    )
    with caplog.at_level(logging.WARNING), TestClient(create_app(settings), base_url="http://testserver") as client:
        tenant = InProcessApi(client).signup().signup_body["tenant"]
        assert InProcessApi(client).signup().signup_body["tenant"]["id"] != tenant["id"]

    with get_session_factory(platform_db_url)() as db:
        row = db.scalar(select(Tenant).where(Tenant.id == tenant["id"]))
    assert row is not None and row.tier == "dedicated" and row.kube_reconciled_at is None
    assert f"workspace {tenant['slug']} created, its Kubernetes objects not yet" in caplog.text
