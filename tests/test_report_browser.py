"""The HTML evidence report checked as a person would: opened in headless Chromium, it renders
with no console error and shows its figures (every <img> decoded with a non-zero size).

Optional: needs Chromium with chromedriver and the `selenium` package (Debian: chromium,
chromium-driver), or Playwright with its Chromium. Without them the test is skipped and says
which piece is missing. Run it with `make check-report-browser` (`pytest -m ci
tests/test_report_browser.py`): the tests carry the CI-only marker ``ci``, so CI runs them after
``make test`` (which checks the same reports' HTML in test_report.py without a browser).
"""

import shutil

import pytest

from test_report import report_run  # noqa: F401  (session fixture: the tiny reported run)

pytestmark = pytest.mark.ci


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


_TEXT = "return document.body ? document.body.innerText : ''"
#: What an unrendered Jinja template leaves in a page.
_RESIDUE = ("{{", "}}", "{%", "%}", "{#", "Undefined")


def _look(kind, driver, url, shot):
    """Open ``url``; return (title, image states, body text, console errors) and save a
    screenshot of the whole page to ``shot``."""
    if kind == "selenium":
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        opts = webdriver.ChromeOptions()
        for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1200,1600",
                  "--disable-background-networking", "--disable-component-update"):
            opts.add_argument(a)
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        d = webdriver.Chrome(service=Service(driver), options=opts)
        try:
            d.get(url)
            title, images = d.title, d.execute_script(_IMAGES_OK)
            text = d.execute_script(_TEXT)
            d.save_screenshot(str(shot))
            errors = [e for e in d.get_log("browser") if e["level"] == "SEVERE"]
        finally:
            d.quit()
        return title, images, text, errors
    from playwright.sync_api import sync_playwright

    errors = []
    with sync_playwright() as p:
        b = p.chromium.launch(headless=True)
        page = b.new_page(viewport={"width": 1200, "height": 1600})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(url)
        title = page.title()
        images = page.evaluate("() => { " + _IMAGES_OK + " }")
        text = page.evaluate("() => { " + _TEXT + " }")
        page.screenshot(path=str(shot), full_page=True)
        b.close()
    return title, images, text, errors


@pytest.mark.parametrize("guideline", ["claim", "tripod-ai", "minimar", "prime",
                                       "fda-performance", "model-card"])
def test_each_guideline_document_renders_in_headless_chromium(chromium, report_run, guideline,
                                                              tmp_path):  # noqa: F811
    """Every guideline document, looked at as a person would: it opens without console
    errors, every figure is decoded with a size, no template residue shows, and the screenshot
    is not blank."""
    import numpy as np
    from PIL import Image

    from suite.report import load_guideline

    kind, driver = chromium
    run_dir, _ = report_run
    url = (run_dir / "report" / guideline / "report.html").resolve().as_uri()
    shot = tmp_path / f"{guideline}.png"
    title, images, text, errors = _look(kind, driver, url, shot)
    assert load_guideline(guideline).title.split()[0] in title, title
    assert not errors, errors
    assert images and all(images), images
    residue = [r for r in _RESIDUE if r in text]
    assert not residue, residue
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert pixels.std() > 5, "the screenshot is blank"
