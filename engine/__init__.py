"""Prefect deployments per published workflow, and the dispatcher that turns executions into flow runs."""
