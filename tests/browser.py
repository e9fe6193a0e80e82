"""Headless Chromium for the browser tests: Debian's `chromium` package (scripts/run bootstrap
installs it), driven by playwright with `executable_path`, so no browser is downloaded.

    async with chromium() as browser:
        page = await (await browser.new_context()).new_page()
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import AsyncIterator

from playwright.async_api import Browser, async_playwright

# --no-sandbox: tests may run as root in a container; swiftshader: WebGL without a GPU
CHROMIUM_ARGS = ["--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader"]


def chromium_path() -> str:
    found = shutil.which("chromium")
    assert found, "chromium is missing: run ./scripts/run bootstrap (apt chromium)"
    return found


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium_path(), args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            await browser.close()
