"""Endpoints for the platform's own machinery, not for tenants: the work-pool backlog KEDA scales workers on."""
