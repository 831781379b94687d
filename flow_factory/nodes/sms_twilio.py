"""sms.twilio: sends SMS and MMS through Twilio (declared in blocks.twilio)."""

from blocks.twilio import SEND_SMS
from flow_factory.nodes.integration import node_type_for

NODE_TYPE = node_type_for(SEND_SMS)
