"""Entry point for ``python -m volcast``."""

from volcast.cli import app

if __name__ == "__main__":
    app(prog_name="volcast")
