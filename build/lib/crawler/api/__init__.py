"""The local read API (`crawler serve`): the hosted smstome API's four endpoints, from the archive."""

from crawler.api.app import create_app, is_loopback

__all__ = ["create_app", "is_loopback"]
