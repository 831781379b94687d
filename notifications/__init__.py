"""Telling a tenant's people what happened: notification rows and alert emails. Called by the engine
(a step that failed for good); sends email through the tenant's SendGrid connection (blocks)."""
