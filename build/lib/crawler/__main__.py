"""`python -m crawler` is the same as the `crawler` console script."""

from crawler.cli import main

main()
