"""The imcombiners test suite (a package: test modules import ``tests.helpers``).

Run from the repository root with ``python -m pytest``; pytest puts the root on
``sys.path`` (``tests`` is a package), so nothing here edits the import path.
"""
