"""`python -m sqz.cli`."""

from sqz.cli import main

main()
