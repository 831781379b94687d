"""Each tenant's Kubernetes namespace and (by tier) Prefect work pool: `objects` renders them, `reconcile`
applies and deletes them."""
