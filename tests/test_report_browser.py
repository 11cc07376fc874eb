"""The HTML evidence report checked as a person would: opened in headless Chromium, it renders
with no console error and shows its figures (every <img> decoded with a non-zero size).

Optional: needs Chromium with chromedriver and the `selenium` package (Debian: chromium,
chromium-driver), or Playwright with its Chromium. Without them the test is skipped and says
which piece is missing. Run it with `make check-report-browser`.
"""

import shutil

import pytest

from test_report import report_run  # noqa: F401  (session fixture: the tiny reported run)


def _chromium():
    """('selenium', driver path) or ('playwright', None); else pytest.skip with the reason."""
    try:
        import selenium  # noqa: F401
        driver = shutil.which("chromedriver")
        browser = next((b for b in ("chromium", "chromium-browser", "google-chrome")
                        if shutil.which(b)), None)
        if driver and browser:
            return "selenium", driver
        missing_selenium = (f"selenium is installed but {'chromedriver' if not driver else 'chromium'}"
                            " is not on PATH")
    except ImportError:
        missing_selenium = "selenium is not installed"
    try:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            p.chromium.launch(headless=True).close()
        return "playwright", None
    except ImportError:
        missing_pw = "playwright is not installed"
    except Exception as exc:  # browser binary missing
        missing_pw = f"playwright cannot launch Chromium ({type(exc).__name__})"
    pytest.skip(f"headless Chromium unavailable: {missing_selenium}; {missing_pw}. Install Debian "
                "packages chromium + chromium-driver and `pip install selenium`, or Playwright")


_IMAGES_OK = ("return Array.from(document.images).map(i => i.complete && i.naturalWidth > 0 "
              "&& i.naturalHeight > 0)")


@pytest.fixture(scope="session")
def chromium():
    """Checked before the (slow) reported run is made, so a skip costs nothing."""
    return _chromium()


def test_html_report_renders_in_headless_chromium(chromium, report_run):  # noqa: F811
    kind, driver = chromium
    run_dir, _ = report_run
    url = (run_dir / "report" / "claim" / "report.html").resolve().as_uri()
    if kind == "selenium":
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        opts = webdriver.ChromeOptions()
        for a in ("--headless=new", "--no-sandbox", "--disable-gpu"):
            opts.add_argument(a)
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        d = webdriver.Chrome(service=Service(driver), options=opts)
        try:
            d.get(url)
            title = d.title
            images = d.execute_script(_IMAGES_OK)
            errors = [e for e in d.get_log("browser") if e["level"] == "SEVERE"]
        finally:
            d.quit()
    else:
        from playwright.sync_api import sync_playwright

        errors = []
        with sync_playwright() as p:
            b = p.chromium.launch(headless=True)
            page = b.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(url)
            title = page.title()
            images = page.evaluate("() => { " + _IMAGES_OK + " }")
            b.close()
    assert "CLAIM" in title
    assert not errors, errors
    assert images and all(images), images
