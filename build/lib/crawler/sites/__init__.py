"""Site parsers: pure functions from fetched bytes to the data classes in `base`.

Nothing in this package does IO, reads a clock, or imports aiohttp, SQLAlchemy or asyncio
(tests/test_sites_smstome.py checks the imports).
"""
