"""Entry point for ``python -m volcast``."""

from volcast.cli import main

if __name__ == "__main__":
    main()
