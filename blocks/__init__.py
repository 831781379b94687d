"""Prefect Block types, one per integration: credentials (sealed with the tenant's data key), a
connection test and typed actions. `blocks.registry` lists them; flow_factory turns actions into nodes."""

from blocks import crypto  # noqa: F401  (installs the tenant keys that sealed columns use: store.sealed)
