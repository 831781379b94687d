"""Flowyard: settings and the `flowyard` command line. Everything else lives in its own package."""
