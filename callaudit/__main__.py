"""`python -m callaudit`: the same as the `callaudit` command."""

from callaudit.cli.main import main

main()
