"""crm.*: the internal CRM's actions (declared in blocks.crm_actions), one node type each."""

from blocks.crm_actions import ACTIONS
from flow_factory.nodes.integration import node_type_for

NODE_TYPES = tuple(node_type_for(action) for action in ACTIONS)
