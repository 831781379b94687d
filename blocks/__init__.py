"""Prefect Block types, one per integration: credentials (sealed with the tenant's data key), a
connection test and typed actions. `blocks.registry` lists them; flow_factory turns actions into nodes."""
