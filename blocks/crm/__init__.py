"""The internal CRM: contacts, companies, deals with stages, activities and tags, stored per tenant
in the platform database. `records.write` is the only write path; `actions` are its workflow steps."""
