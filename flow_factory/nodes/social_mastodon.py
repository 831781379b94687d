"""social.mastodon.post: publishes a status on Mastodon (declared in blocks.mastodon)."""

from blocks.mastodon import POST_STATUS
from flow_factory.nodes.integration import node_type_for

NODE_TYPE = node_type_for(POST_STATUS)
