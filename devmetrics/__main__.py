"""`python -m devmetrics` is the `devmetrics` command."""

from devmetrics.cli import main

main()
