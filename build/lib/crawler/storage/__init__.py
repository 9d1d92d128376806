"""The archive: schema, engine setup and the queries the crawler and readers use.

Knows nothing about HTTP or the site's pages.
"""
