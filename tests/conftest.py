"""Shared fixtures. Real servers live in tests/support/ and are registered here as plugins."""
pytest_plugins = [
    "tests.support.servers",  # Dovecot, aiosmtpd
    "tests.support.postgres",  # a private PostgreSQL cluster
    "tests.support.graph_server",  # Microsoft Graph + Entra ID over HTTPS
]
