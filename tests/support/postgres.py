"""Placeholder; filled in by the servers/storage work."""
