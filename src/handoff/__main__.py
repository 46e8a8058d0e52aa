"""`python -m handoff`: the same command line as the `handoff` script."""

from .cli import main

main(prog_name="python -m handoff")
