"""`python -m callaudit.cli`: the same as the `callaudit` command."""

from callaudit.cli.main import main

main()
