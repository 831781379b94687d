"""The Settings area as a workspace owner meets it: invite a colleague from Members and copy the link, the
colleague accepts it in their own browser (a second context, signed out) and lands signed in to the workspace,
where their role's limits show as disabled buttons with the reason; the owner changes the colleague's role,
and reads both acts in the audit log, filtered by action."""

from __future__ import annotations

import re
import subprocess
import sys
import uuid

import pytest
from playwright.sync_api import Page, expect

from tests.browser.helpers import PASSWORD, new_tenant, sign_in
from tests.support import Api

pytestmark = pytest.mark.parametrize("stack", ["sqlite"], indirect=True)


def invite(page: Page, email: str, role: str) -> str:
    form = page.get_by_role("form", name="Invite a member")
    form.get_by_label("Email").fill(email)
    form.get_by_label("Role").select_option(role)
    form.get_by_role("button", name="Invite").click()
    link = page.get_by_label("Invitation URL")
    expect(link).to_have_value(re.compile(r"^http"))
    return link.input_value()


def test_invite_accept_change_role_and_read_the_audit_log(page: Page, browser, app_url: str):
    owner = new_tenant(app_url)
    workspace = owner.signup_body["tenant"]["name"]
    colleague = f"colleague-{uuid.uuid4().hex[:6]}@example.com"
    sign_in(page, app_url, owner)

    page.get_by_role("link", name="Settings", exact=True).click()
    expect(page.get_by_role("heading", name="Settings", level=1)).to_be_visible()
    page.get_by_role("navigation", name="Settings").get_by_role("link", name="Members").click()
    expect(page).to_have_url(re.compile(r"#/settings/members$"))
    members = page.get_by_role("list", name="Members")
    expect(members.get_by_role("listitem")).to_have_count(1)

    url = invite(page, colleague, "editor")

    # The colleague, in a browser of their own, opens the link signed out, picks a name and password, and is in.
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        theirs = context.new_page()
        theirs.set_default_timeout(15_000)
        theirs.goto(url)
        expect(theirs.get_by_role("heading", name="Join the workspace")).to_be_visible()
        theirs.get_by_label("Your name").fill("Grace Colleague")
        theirs.get_by_label("Password").fill(PASSWORD)
        theirs.get_by_role("button", name="Join", exact=True).click()
        header = theirs.locator(".app-header")
        expect(header).to_contain_text(colleague)
        expect(header).to_contain_text(workspace)
        # As an editor they may not invite: the form says why instead of failing on submit.
        theirs.goto(f"{app_url}/#/settings/members")
        expect(theirs.get_by_text("Only an admin or owner can manage members.")).to_be_visible()
        expect(theirs.get_by_role("button", name="Invite")).to_be_disabled()
    finally:
        context.close()

    # The owner sees the new member and makes them an operator; the change survives a reload.
    page.reload()
    row = members.get_by_role("listitem", name=colleague)
    role = row.get_by_label(f"Role of {colleague}")
    expect(role).to_have_value("editor")
    role.select_option("operator")
    expect(role).to_have_value("operator")
    page.reload()
    expect(page.get_by_label(f"Role of {colleague}")).to_have_value("operator")
    listed = {m["email"]: m["role"] for m in owner.get("/api/v1/members").json()}
    assert listed[colleague] == "operator"

    # The audit log shows the invitation and the role change; a filter by action keeps only the one asked for.
    page.get_by_role("navigation", name="Settings").get_by_role("link", name="Audit log").click()
    table = page.get_by_role("table", name="Audit events")
    expect(table.locator('tr[data-action="member.invited"]')).to_have_count(1)
    expect(table.locator('tr[data-action="member.role_changed"]')).to_have_count(1)
    filters = page.get_by_role("form", name="Audit filters")
    filters.get_by_label("Action").fill("member.role_changed")
    filters.get_by_role("button", name="Filter").click()
    expect(table.locator('tr[data-action="member.invited"]')).to_have_count(0)
    expect(table.locator("tbody tr")).to_have_count(1)
    expect(table.locator("tbody tr")).to_contain_text("member.role_changed")


def test_retention_problem_shows_next_to_its_field_then_the_policy_is_saved(page: Page, app_url: str):
    owner = new_tenant(app_url)
    sign_in(page, app_url, owner)
    page.goto(f"{app_url}/#/settings/workspace")
    form = page.get_by_role("form", name="Workspace settings")
    form.get_by_label("Run history (days)").fill("30")
    form.get_by_label("Step data (days)").fill("60")
    form.get_by_role("button", name="Save").click()
    problem = form.locator('[data-error-for="step_payload_days"]')
    expect(problem).to_contain_text("cannot be kept longer than the runs")

    form.get_by_label("Step data (days)").fill("7")
    form.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status").filter(has_text="Workspace settings saved")).to_be_visible()
    expect(problem).to_have_count(0)
    retention = owner.get("/api/v1/tenant").json()["retention"]
    assert (retention["run_history_days"], retention["step_payload_days"]) == (30, 7)


def test_api_key_shown_once_then_revoked_and_sign_out_ends_the_session(page: Page, app_url: str):
    owner = new_tenant(app_url)
    sign_in(page, app_url, owner)
    page.goto(f"{app_url}/#/settings/api-keys")
    form = page.get_by_role("form", name="New API key")
    form.get_by_label("Name").fill("CI deploys")
    form.get_by_role("checkbox", name="deploy").check()
    form.get_by_role("button", name="Create key").click()
    secret = page.get_by_label("API key", exact=True)
    expect(secret).to_have_value(re.compile(r"^fy_k_"))
    key = Api(app_url, secret.input_value())
    assert key.get("/api/v1/workflows").status_code == 200
    item = page.get_by_role("list", name="API keys").get_by_role("listitem", name="CI deploys")
    expect(item.locator("[data-scope]")).to_have_text(["read", "deploy"])

    page.reload()  # shown once: gone after a reload, the list keeps only its prefix
    expect(page.get_by_label("API key", exact=True)).to_have_count(0)
    page.once("dialog", lambda dialog: dialog.accept())
    item.get_by_role("button", name="Revoke CI deploys").click()
    expect(item).to_have_count(0)
    assert key.get("/api/v1/workflows").status_code == 401

    page.get_by_role("navigation", name="Settings").get_by_role("link", name="Your account").click()
    expect(page.get_by_role("list", name="Your sessions").get_by_text("this browser")).to_be_visible()
    page.get_by_role("button", name="Sign out").last.click()
    expect(page).to_have_url(re.compile(r"#/login$"))
    assert owner.get("/api/v1/me").status_code == 401


def test_a_forgotten_password_is_reset_from_the_link(page: Page, app_url: str, stack):
    owner = new_tenant(app_url)
    email = owner.signup_body["user"]["email"]
    page.goto(f"{app_url}/#/login")
    page.get_by_role("link", name="Forgot your password?").click()
    page.get_by_label("Work email").fill(email)
    page.get_by_role("button", name="Send reset link").click()
    expect(page.get_by_role("status")).to_contain_text("If an account has this email")

    # No email connection here: the self-hoster's way to the link.
    printed = subprocess.run(
        [sys.executable, "-m", "flowyard", "users", "reset-link", email],
        env=stack.env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    link = re.search(r"http\S+/#/reset-password/\S+", printed)
    assert link, printed
    page.goto(link.group(0))
    page.get_by_label("New password").fill("a brand new password")
    page.get_by_role("button", name="Set password").click()
    expect(page.get_by_role("status")).to_contain_text("Your password is changed")

    page.get_by_role("link", name="Back to sign in").click()
    page.get_by_label("Work email").fill(email)
    page.get_by_label("Password").fill("a brand new password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Workflows")).to_be_visible()
    assert Api(app_url).post("/api/v1/auth/login", json={"email": email, "password": PASSWORD}).status_code == 401
