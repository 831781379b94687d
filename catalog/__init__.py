"""The template catalog: templates as YAML files (catalog/templates/<category>/<slug>.yaml), their
parameters, the checks every template passes, the database index (search, versions, lineage) and the
three-way merge that upgrades a workflow made from a template.

Depends only on flow_factory (the node catalog) and store (the tables), and on blocks.crypto for their sealed columns."""

import blocks.crypto  # noqa: F401  (installs the tenant keys that sealed columns use: store.sealed)
