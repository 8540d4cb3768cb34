"""``python -m imcombiners ...`` runs the console script (works without a PATH entry)."""

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
