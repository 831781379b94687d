"""The platform API application: `uvicorn platform_api.app:create_app --factory`."""

from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline

from core.settings import Settings, get_settings
from engine.dispatcher import Dispatcher
from platform_api import graphs, health, help_pages, keys, metrics, notifications, tenant
from platform_api.alerts.routes import router as alerts_router
from platform_api.approvals.routes import router as approvals_router
from platform_api.audit.routes import router as audit_router
from platform_api.auth.routes import router as auth_router
from platform_api.batch_door.routes import router as batch_door_router
from platform_api.connections.routes import router as connections_router
from platform_api.crm.routes import router as crm_router
from platform_api.internal.routes import router as internal_router
from platform_api.limits import BodySizeLimit
from platform_api.members.routes import router as members_router
from platform_api.privacy.routes import router as privacy_router
from platform_api.problems import install_problem_handlers
from platform_api.publish_requests.routes import router as publish_requests_router
from platform_api.reports.routes import router as reports_router
from platform_api.run_control.routes import router as run_control_router
from platform_api.runs.routes import router as runs_router
from platform_api.security_headers import SecurityHeaders
from platform_api.shedding import LoadShedding
from platform_api.templates.routes import router as templates_router
from platform_api.triggers.panel import router as trigger_panel_router
from platform_api.triggers.routes import router as triggers_router
from platform_api.workflows.files_routes import router as workflow_files_router
from platform_api.workflows.routes import router as workflows_router

UI_DIST = Path(__file__).parent / "ui" / "dist"
UI_MISSING_PAGE = """<!doctype html><title>Flowyard</title>
<h1>Flowyard</h1><p>The builder UI is not built yet (run <code>make run</code>).
The API and its documentation are at <a href="/docs">/docs</a>.</p>"""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        dispatcher = Dispatcher(settings) if settings.dispatcher.enabled else None
        app.state.dispatcher = dispatcher
        if dispatcher:
            dispatcher.start()
        yield
        if dispatcher:
            dispatcher.stop()

    app = FastAPIOffline(  # the docs pages load Swagger UI and ReDoc from packaged files, not a CDN
        title="Flowyard platform API",
        version="1",
        description="Build, publish and run no-code workflows. Errors are RFC 9457 problem+json.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.add_middleware(BodySizeLimit, max_bytes=settings.api.max_body_bytes)
    app.add_middleware(
        LoadShedding,
        most=settings.api.max_in_flight,
        most_per_tenant=settings.api.max_in_flight_per_tenant,
        retry_after_seconds=settings.api.shed_retry_after_seconds,
    )
    app.add_middleware(metrics.WebhookMetrics)
    app.add_middleware(SecurityHeaders, https=settings.api_public_url.startswith("https://"))  # outermost
    install_problem_handlers(app)
    for router in (
        auth_router,
        members_router,
        graphs.router,
        workflows_router,
        publish_requests_router,
        workflow_files_router,
        runs_router,
        run_control_router,
        reports_router,
        alerts_router,
        approvals_router,
        connections_router,
        crm_router,
        tenant.router,
        keys.router,
        templates_router,
        triggers_router,
        trigger_panel_router,
        notifications.router,
        audit_router,
        privacy_router,
        health.router,
        help_pages.router,
        metrics.router,
        internal_router,
        batch_door_router,
    ):
        app.include_router(router)

    help_pages.mount(app)  # before the UI at /
    _mount_ui(app)
    return app


def _mount_ui(app: FastAPI) -> None:
    if (UI_DIST / "index.html").exists():
        app.mount("/", StaticFiles(directory=UI_DIST, html=True), name="ui")
        return

    @app.get("/", include_in_schema=False)
    def ui_missing() -> HTMLResponse:
        return HTMLResponse(UI_MISSING_PAGE)
