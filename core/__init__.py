"""The floor every package stands on: settings, naming of tenants' Prefect objects, the Prefect client
helpers and the one step-failure hierarchy. Imports nothing of Flowyard's."""
