"""Archiving crawler for the public inboxes of temporary-SMS sites (smstome.com first)."""

__version__ = "0.1.0"
