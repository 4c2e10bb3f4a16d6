"""Screenshot the status page of a running `volcast serve` (regenerates docs/img/status.png).

Headless Chromium from Debian's packages (``apt-get install chromium``, as in
scripts/install-system-deps.sh), driven by Playwright as the browser test does::

    make run                       # the sample pipeline: bars, a champion
    uv run volcast serve &         # http://localhost:8000/
    uv run python scripts/screenshot.py --output docs/img/status.png

The page is opened at ``--width`` x ``--height``, the script waits for the page's first
update from the JSON endpoints (chart drawn, card filled), then saves a full-page PNG.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000/")
    parser.add_argument("--output", type=Path, default=Path("docs/img/status.png"))
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=900)
    parser.add_argument("--chromium", help="browser binary (default: chromium on PATH)")
    args = parser.parse_args(argv)
    executable = args.chromium or shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        print("chromium is not installed: apt-get install chromium", file=sys.stderr)
        return 2

    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True)
        try:
            page = browser.new_page(viewport={"width": args.width, "height": args.height})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.goto(args.url)
            page.wait_for_function("window.volcast && window.volcast.updates >= 1", timeout=60_000)
            args.output.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(args.output), full_page=True)
        finally:
            browser.close()
    for error in errors:
        print(f"console error: {error}", file=sys.stderr)
    print(f"wrote {args.output}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
