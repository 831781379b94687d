"""Every problem `type` the API answers with (RFC 9457): its slug, a title and what to do about it.

Each slug has a page of the help site, problems/<slug>/, made from this table (docs/hooks/help_pages.py), and
the `type` of a problem links there (`problem_type`). tests/test_help_site.py finds every slug the code can
emit and fails on one missing here.
"""

from __future__ import annotations

from typing import NamedTuple

from core.errors import help_url


class ProblemType(NamedTuple):
    title: str
    fix: str  # what it means and what to do, for the person reading the answer


PROBLEM_TYPES: dict[str, ProblemType] = {
    # Requests in general
    "validation-error": ProblemType(
        "Invalid request",
        "A field of the request is missing, unknown or of the wrong type. `errors` lists each one by its path with "
        "a hint; the API reference shows the request's shape.",
    ),
    "bad-request": ProblemType(
        "Bad request",
        "The body could not be read: send a JSON document that parses, nested a few hundred levels at most.",
    ),
    "not-found": ProblemType(
        "Not found",
        "Nothing with that id exists in your workspace (another workspace's objects answer the same way). List the "
        "objects to find the right id, and check the URL against the API reference.",
    ),
    "method-not-allowed": ProblemType("Method not allowed", "Check the HTTP method against the API reference."),
    "http-error": ProblemType(
        "HTTP error", "The `detail` says what went wrong; check the request against the API reference."
    ),
    "invalid-cursor": ProblemType(
        "Invalid cursor",
        "Pass the `X-Next-Cursor` header of the previous page unchanged, or leave `cursor` out for the first page.",
    ),
    "payload-too-large": ProblemType(
        "Payload too large",
        "The body is larger than the platform (FLOWYARD_API__MAX_BODY_BYTES) or the webhook trigger (its "
        "`max_body_kb`) accepts. Send less, or pass large data by reference (a URL).",
    ),
    # Signing in, roles and keys
    "unauthorized": ProblemType(
        "Not signed in",
        "Send `Authorization: Bearer <token>` with a login token (POST /api/v1/auth/login) or an API key. The "
        "metrics endpoints want their own token instead (FLOWYARD_API__METRICS_TOKEN).",
    ),
    "invalid-credentials": ProblemType("Wrong email or password", "Check both, or reset the password."),
    "wrong-password": ProblemType("Wrong password", "Type your current password, or reset it."),
    "invalid-reset-token": ProblemType("Reset link not valid", "The link was used or is too old: ask for a new one."),
    "too-many-login-attempts": ProblemType(
        "Too many failed logins", "Wait for the time in `Retry-After`, or reset your password."
    ),
    "too-many-reset-requests": ProblemType(
        "Too many reset requests", "Look for the link already sent (and in your spam folder) before asking again."
    ),
    "login-required": ProblemType(
        "Sign in as a person", "This call acts for a person, not an API key: call it with a login token."
    ),
    "signup-disabled": ProblemType("Sign-up is off", "The operator turned sign-up off; ask for an invitation."),
    "forbidden": ProblemType(
        "Not allowed",
        "Your role or your API key's scope does not allow this. Ask an owner or admin for a higher role, or use a "
        "key with a wider scope (read, run, deploy, admin). See Roles and security.",
    ),
    "batch-door-closed": ProblemType(
        "Batch token needed",
        "A tenant Job's calls to /internal/batches/<id>/ carry the token minted for that batch (in the Job's "
        "FLOWYARD_BATCH_DOOR__TOKEN). The token is refused once the batch has ended or expired: nothing is left to "
        "do for it. See Kubernetes, The batch door.",
    ),
    "not-this-batch": ProblemType(
        "Not this batch's",
        "A batch token opens its own batch's executions and step rows, nothing else; the call named another one "
        "and nothing was written.",
    ),
    "role-too-high": ProblemType("Role too high", "You can give a role up to your own: choose yours or a lower one."),
    "already-member": ProblemType("Already a member", "Change their role instead, or switch to the workspace."),
    "invitation-invalid": ProblemType("Invitation not valid", "Ask the workspace's admin for a new invitation."),
    "invitation-for-someone-else": ProblemType(
        "Invitation for another email", "Sign in with the invited account, or ask for an invitation to your email."
    ),
    "last-owner": ProblemType("The last owner stays", "Make another member an owner first."),
    # Workflows
    "invalid-graph": ProblemType(
        "Invalid workflow graph",
        "The graph breaks a rule: `errors` names each node or field by its path with a hint; the builder shows the "
        "same list. Fix them and save again.",
    ),
    "graph-too-large": ProblemType("Graph too large", "Split the automation into several workflows."),
    "name-taken": ProblemType("Name already used", "Choose another name, or change the existing object."),
    "version-conflict": ProblemType(
        "Saved by someone else", "Reload the workflow to see their changes, then save again."
    ),
    "changed-meanwhile": ProblemType("Changed at the same time", "Send the request again."),
    "deployment-name-taken": ProblemType("Name clash", "Rename the workflow and publish again."),
    "workflow-deleted": ProblemType(
        "Workflow deleted", "It is in the trash: restore it (POST /api/v1/workflows/{id}/restore) to use it again."
    ),
    "workflow-purged": ProblemType("Too late to restore", "It left the trash for good: create it again."),
    "not-deleted": ProblemType("Not deleted", "The workflow is not in the trash; there is nothing to restore."),
    "key-in-trash": ProblemType(
        "Workflow in the trash", "A deleted workflow has that key: restore it and import again, or use another key."
    ),
    "invalid-workflow-file": ProblemType(
        "Invalid workflow file", "`errors` names each wrong field of the file; see Workflow files."
    ),
    "workflow-disabled": ProblemType("Workflow disabled", "Enable it (POST /api/v1/workflows/{id}/enable) first."),
    "not-published": ProblemType("Workflow not published", "Publish it first, or run it with mode `test` to try it."),
    "approval-required": ProblemType(
        "Approval required",
        "Publishing needs an owner's or admin's approval in this workspace: the publish call asks for it, and the "
        "request waits in Publish requests.",
    ),
    "publish-request-stale": ProblemType(
        "Request out of date", "The workflow changed since the request was made: ask for approval again."
    ),
    "publish-request-decided": ProblemType("Already decided", "Someone answered this request already."),
    "publish-request-own": ProblemType(
        "Cannot approve your own request", "Ask another owner or admin of the workspace to review it."
    ),
    "engine-unavailable": ProblemType(
        "Workflow engine unavailable",
        "Flowyard could not reach its workflow engine (Prefect). Nothing was changed; try again in a minute, and "
        "tell your operator if it persists.",
    ),
    # Runs
    "invalid-input": ProblemType(
        "Input does not match the trigger",
        "Send an input that matches the trigger's schema; `errors` names the fields.",
    ),
    "unknown-version": ProblemType("No such version", "Pick a version between 1 and the workflow's latest."),
    "unknown-search-field": ProblemType("Not a search field", "Search runs by one of the fields the hint lists."),
    "run-finished": ProblemType("Run already finished", "To run it again, retry it or replay it."),
    "run-active": ProblemType("Run still active", "Wait for it to end, or cancel it first."),
    "run-purged": ProblemType("Run input purged", "Retention removed its input: start a new run instead."),
    "no-failed-step": ProblemType("No failed step to retry from", "Retry it from the start, or replay it."),
    "run-not-needing-attention": ProblemType("Nothing to decide", "Reload the run: someone may have answered already."),
    "run-failed": ProblemType(
        "Run did not complete",
        "The run that was to answer this request failed. Open the run to see which step stopped it and why (its "
        "error links the page of its kind).",
    ),
    "queue-full": ProblemType(
        "Too many runs waiting", "Retry after `Retry-After` seconds, when some have started; runs accepted are kept."
    ),
    "tenant-rate-limited": ProblemType(
        "Too many requests this minute", "Retry after `Retry-After` seconds; ask the operator for a higher quota."
    ),
    "too-many-streams": ProblemType("Too many live streams", "Close a stream you no longer watch, then retry."),
    "tenant-overloaded": ProblemType(
        "Too many requests in progress", "Your workspace has many requests in progress: retry after `Retry-After`."
    ),
    "overloaded": ProblemType(
        "Too many requests in progress", "The platform is at capacity: retry after `Retry-After`."
    ),
    "database-unavailable": ProblemType(
        "Service temporarily unavailable",
        "The platform database cannot be reached; nothing was saved. Send the request again after `Retry-After`.",
    ),
    "not-ready": ProblemType("Not ready", "The API is starting or cannot reach its database or engine yet."),
    # Approvals
    "already-decided": ProblemType("Already answered", "Open the run to see who answered and when."),
    "link-used": ProblemType("Link already used", "Open the run in the app to see the answer."),
    "approval-expired": ProblemType("Approval expired", "The run took its timeout path; start the workflow again."),
    "not-an-approver": ProblemType(
        "Not an approver of this step", "Name one of the step's approvers, or leave approver out to answer yourself."
    ),
    # Triggers and webhooks
    "unknown-webhook": ProblemType(
        "Unknown webhook", "Copy the URL again from the workflow's trigger; the workflow must be published."
    ),
    "bad-signature": ProblemType(
        "Signature rejected",
        "Sign the raw body with the endpoint's secret as Triggers and webhooks shows, with a current timestamp "
        "(rotate the secret if it leaked).",
    ),
    "payload-not-json": ProblemType("Body is not JSON", "Send `Content-Type: application/json` with a JSON body."),
    "payload-invalid": ProblemType(
        "Payload does not match", "Send a payload that matches the trigger's schema; `errors` names the fields."
    ),
    "dedupe-key-too-long": ProblemType("Id too long", "Send a shorter idempotency id (a UUID or a hash fits)."),
    "rate-limited": ProblemType("Too many deliveries", "Retry after `Retry-After` seconds."),
    "no-webhook": ProblemType("No webhook", "Give the workflow a trigger.webhook and publish it."),
    "webhook-not-live": ProblemType("Webhook not live", "Publish the workflow with its trigger.webhook first."),
    "not-scheduled": ProblemType("No schedule", "Use a trigger.schedule node to run it on a schedule."),
    # Connections
    "invalid-connection": ProblemType(
        "Invalid connection settings", "`errors` names each wrong setting; see the integration's setup guide."
    ),
    "unknown-connection-type": ProblemType("Unknown connection type", "Use one of the types the hint lists."),
    "secrets-needed-to-redirect": ProblemType(
        "Enter the secrets again to change where they are sent",
        "Changing a connection's URL sends its secrets elsewhere: enter them again in the same request.",
    ),
    "connection-in-use": ProblemType(
        "Connection in use", "Switch the workflows' steps that use it to another connection first."
    ),
    "no-oauth": ProblemType("Nothing to connect", "This connection does not sign in with OAuth: update its secrets."),
    "oauth-state-invalid": ProblemType("Link expired", "Go back to Flowyard and press Connect again."),
    "oauth-denied": ProblemType("Access not granted", "Press Connect again and allow Flowyard to post for you."),
    "oauth-exchange-failed": ProblemType(
        "Could not finish connecting", "The service refused to finish the sign-in; the hint says why. Try again."
    ),
    "invalid-connections": ProblemType(
        "Invalid connections", "Choose one of your connections of the right type for each the template needs."
    ),
    # Templates
    "unknown-category": ProblemType("Unknown category", "Use one of the categories the hint lists."),
    "invalid-template": ProblemType("Cannot make a template of this", "`errors` says what to fix first."),
    "catalog-template": ProblemType(
        "A catalog template", "Instantiate it, change the workflow, and save that as your own template."
    ),
    "not-from-template": ProblemType(
        "Not made from a template", "Only workflows made from a template can be upgraded."
    ),
    "up-to-date": ProblemType("Already up to date", "The workflow already uses the template's latest version."),
    "unknown-conflict": ProblemType("No such conflict", "Resolve one of the conflicts the hint lists."),
    "template-outdated": ProblemType("Template needs an update", "The template no longer validates: update it first."),
    "invalid-parameters": ProblemType("Invalid parameters", "`errors` names each parameter to fix."),
    "invalid-trigger": ProblemType("Not a trigger", "Choose a node type with `is_trigger: true`."),
    # CRM, reports, privacy
    "conflict": ProblemType("CRM change refused", "The record changed or already exists: reload and try again."),
    "invalid-crm-record": ProblemType("CRM change refused", "`errors` names the field to fix."),
    "invalid-report-range": ProblemType("Invalid report range", "Pick a range the hint allows."),
    "export-not-ready": ProblemType("Export not ready", "Poll the export until its status is completed."),
}


def problem_type(slug: str) -> str:
    """The `type` URI of a problem: its page of the help site (FLOWYARD_HELP__BASE_URL). It ends in the slug,
    without a slash, as it always did (clients tell problems apart by `type.endswith("/<slug>")`); the site
    answers it with a redirect to the page's directory, as static hosts do."""
    return help_url(f"problems/{slug}")
