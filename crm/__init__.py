"""The internal CRM's domain: records, their validation and the outbox rows every change writes. Used by
the CRM API and by the CRM actions of workflows (blocks.crm_actions)."""
