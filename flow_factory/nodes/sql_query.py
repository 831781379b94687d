"""sql.query: one parameterised SQL statement (declared in blocks.sql). The statement itself may not
hold templates: data reaches the database only as bound :name parameters."""

from __future__ import annotations

from typing import Any

from blocks.sql import QUERY
from flow_factory.nodes.base import ConfigIssue
from flow_factory.nodes.integration import node_type_for


def check_config(config: dict[str, Any]) -> list[ConfigIssue]:
    from flow_factory.expressions import has_template  # expressions imports the node registry

    query = config.get("query")
    if isinstance(query, str) and has_template(query):
        return [("query", "the SQL statement cannot contain templates",
                 "write :name where a value goes and map the value in parameters, e.g. {\"email\": \"{{ trigger.email }}\"}")]
    return []


NODE_TYPE = node_type_for(QUERY, check_config=check_config)
