"""`python -m flowyard` is the `flowyard` command."""

from flowyard.cli import main

main()
