"""A headless browser for the tests: Debian's chromium (`make browser`), driven by Playwright.

Playwright's own browser builds are never downloaded (no `playwright install`): the Python package
brings the driver, Debian brings the browser.
"""

import contextlib
import os

from playwright.async_api import async_playwright

CHROMIUM = "/usr/bin/chromium"


@contextlib.asynccontextmanager
async def chromium_page():
    """Yield a page in a fresh headless chromium (no cookies yet); close the browser afterwards."""
    if not os.access(CHROMIUM, os.X_OK):
        raise RuntimeError(f"{CHROMIUM} is missing: run `make test-tools` (or `make browser`) to install it.")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            # Chromium refuses to start its sandbox as root (CI and these machines run as root).
            chromium_sandbox=os.geteuid() != 0,
        )
        try:
            yield await browser.new_page()
        finally:
            await browser.close()
