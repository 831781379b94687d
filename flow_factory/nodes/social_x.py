"""social.x.post: publishes a post on X (declared in blocks.x)."""

from blocks.x import POST
from flow_factory.nodes.integration import node_type_for

NODE_TYPE = node_type_for(POST)
