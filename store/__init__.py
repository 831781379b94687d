"""The platform database: one declarative base, the tables, sessions and migrations."""
