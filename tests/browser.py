"""Headless Chromium for the browser tests (the dashboard's, the AR page's): Debian's
`chromium` package (scripts/run bootstrap installs it), driven by playwright with
`executable_path`, so no browser is downloaded. One launcher for every browser test.

    async with chromium() as browser:
        page = await (await browser.new_context()).new_page()

For a page with model-viewer: `await watch_model_events(context)` before the page opens,
`await only_from(context, base)` to refuse (and record) every request elsewhere, then
`await model_state(page)` waits for its first `load` or `error` event.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass

from playwright.async_api import Browser, BrowserContext, Page, Route, async_playwright

# --no-sandbox: tests may run as root in a container; swiftshader: WebGL without a GPU
CHROMIUM_ARGS = ["--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader"]
# Set before any page script runs: model-viewer's load and error events (they do not bubble,
# so they are caught on the way down), and any Content-Security-Policy violation.
RECORD_MODEL_EVENTS = """
window.__modelEvents = [];
window.__cspViolations = [];
for (const name of ["load", "error"]) {
  document.addEventListener(name, (event) => {
    if (event.target.tagName === "MODEL-VIEWER") {
      window.__modelEvents.push({ name, detail: JSON.stringify(event.detail ?? null) });
    }
  }, true);
}
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(event.violatedDirective + " " + event.blockedURI);
});
"""


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


async def only_from(context: BrowserContext, base: str) -> list[str]:
    """Refuse every request of `context` not to `base`; returns the list they are added to."""
    outside: list[str] = []

    async def only_ours(route: Route) -> None:
        if route.request.url.startswith(base):
            await route.continue_()
        else:
            outside.append(route.request.url)
            await route.abort()

    await context.route("**/*", only_ours)
    return outside


async def watch_model_events(context: BrowserContext) -> None:
    await context.add_init_script(RECORD_MODEL_EVENTS)


@dataclass
class ModelState:
    events: list[dict[str, str]]  # model-viewer's load and error events, in order
    loaded: bool
    size_m: list[float]  # model-viewer's getDimensions()
    csp_violations: list[str]


async def model_state(page: Page, *, timeout_s: float = 60) -> ModelState:
    """Wait for model-viewer's first load or error event on `page`, then read its state.
    Polled with `evaluate` (not `wait_for_function`, whose polling a CSP without
    'unsafe-eval', as the dashboard's, refuses)."""
    async with asyncio.timeout(timeout_s):
        while not await page.evaluate("window.__modelEvents.length > 0"):  # noqa: ASYNC110
            await asyncio.sleep(0.1)  # the event is the page's: polled from here
    state = await page.evaluate(
        "(() => { const viewer = document.querySelector('model-viewer');"
        " const d = viewer.getDimensions();"
        " return [window.__modelEvents, viewer.loaded, [d.x, d.y, d.z],"
        " window.__cspViolations]; })()"
    )
    return ModelState(*state)
