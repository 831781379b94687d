"""email.sendgrid: sends email through SendGrid (declared in blocks.sendgrid)."""

from blocks.sendgrid import SEND_EMAIL
from flow_factory.nodes.integration import node_type_for

NODE_TYPE = node_type_for(SEND_EMAIL)
