"""`crawler bench`: how fast and how lean the crawler is, measured on the simulator.

- `scenarios`: the sizes (small / medium / large) and their overrides;
- `simproc`: the simulator in its own process (so crawler and site use both cores, as in reality);
- `child`: the crawl (and the baseline) in a child process, so CPU time and peak RSS are its own;
- `baseline`: the plain requests + BeautifulSoup + sqlite3 crawl users would write instead;
- `micro`: parser alone, storage alone, export, the `get_messages` query on a large archive;
- `runner`: runs them all and formats the table or the JSON.

Figures are measured and printed, never asserted (CONTRACT §8).
"""
