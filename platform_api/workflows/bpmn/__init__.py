"""BPMN 2.0 export and import of a workflow graph (pure functions: no database, no HTTP).

`to_bpmn` writes a process that the OMG schema accepts, with diagram shapes at the canvas positions, and
keeps every node's id, type and config (secrets masked) in `fy:` extension elements, which `from_bpmn`
reads back, so that an export imports as the same graph. Documents from other tools import as far as
their elements have a Flowyard meaning; the rest is listed in `BpmnImport.unmapped`. docs/bpmn.md has
the mapping table.
"""

from platform_api.workflows.bpmn.reader import from_bpmn
from platform_api.workflows.bpmn.vocabulary import BpmnError, BpmnImport
from platform_api.workflows.bpmn.writer import to_bpmn

__all__ = ["BpmnError", "BpmnImport", "from_bpmn", "to_bpmn"]
