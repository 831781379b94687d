"""Prefect deployments per published workflow, and the dispatcher that turns executions into flow runs."""

import blocks.crypto  # noqa: F401  (installs the tenant keys that sealed columns use: store.sealed)
