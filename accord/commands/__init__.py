"""Subcommands of the ``accord`` command, one module each.

Every module here defines ``NAME`` (the subcommand), ``HELP`` (one line),
``add_arguments(parser)`` and ``run(args) -> int`` (the exit status). ``accord.cli`` finds
them by listing this package, so adding a subcommand is adding a module. These modules may
print; the rest of the library logs.
"""
