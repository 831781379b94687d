"""The tenant-facing HTTP API (and the builder UI it serves)."""
