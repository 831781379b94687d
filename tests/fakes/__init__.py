"""Local servers that speak the wire protocols of SendGrid, Twilio, X and Mastodon, for tests.
The real SDKs (and httpx) are pointed at them through the FLOWYARD_INTEGRATIONS__* base URLs."""
