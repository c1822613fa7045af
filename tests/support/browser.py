"""Opening a page in a real browser: Debian's Chromium, headless, driven through its
chromium-driver with Selenium (both installed by infra/setup.sh).

The browser is cut off from the network (every host name fails to resolve, every
connection goes to a closed proxy), so a page that needs anything from outside shows it as
a console error or an image that did not load.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

# Where tests leave what a person may want to look at afterwards (screenshots); ignored by git.
ARTIFACTS = Path(
    os.environ.get("DEVMETRICS_TEST_ARTIFACTS", Path(__file__).parents[2] / "test-artifacts")
)


@dataclass(frozen=True, slots=True)
class PageLoad:
    """What the browser saw of a page: console errors, and each image as (alt, loaded)."""

    console_errors: list[str]
    images: list[tuple[str, bool]]
    title: str


def open_page(path: Path, screenshot: Path) -> PageLoad:
    """Load ``path`` in headless Chromium, write a full-page screenshot to ``screenshot``."""
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "chromium"
    for argument in (
        "--headless=new",
        "--no-sandbox",  # runs as root here
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--proxy-server=127.0.0.1:9",
        "--window-size=1400,1000",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(shutil.which("chromedriver") or "chromedriver")
    driver = webdriver.Chrome(service=service, options=options)
    try:
        driver.get(path.resolve().as_uri())
        images: list[Any] = driver.execute_script(
            "return Array.from(document.images).map("
            "i => [i.alt, i.complete && i.naturalWidth > 0 && i.naturalHeight > 0])"
        )
        height = int(driver.execute_script("return document.documentElement.scrollHeight"))
        driver.set_window_size(1400, min(max(height, 1000), 16000))
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(screenshot))
        errors = [
            entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"
        ]
        return PageLoad(errors, [(str(a), bool(ok)) for a, ok in images], driver.title)
    finally:
        driver.quit()
