"""Refresh docs/screenshot-*.png from a running server: `python scripts/screenshots.py http://127.0.0.1:8000`.
Desktop (1280 px) and phone (375 px), light and dark, with Debian's Chromium (tests/browser_support.py)."""

from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from browser_support import launch_chromium  # noqa: E402

QUESTIONS = ("2023年前三季度贵州技术合同成交额是多少？", "那宁夏呢？")


def shoot(browser, base: str, scheme: str, phone: bool) -> None:
    size = {"width": 375, "height": 780} if phone else {"width": 1280, "height": 820}
    context = browser.new_context(viewport=size, locale="zh-CN", color_scheme=scheme, is_mobile=phone,
                                  has_touch=phone, device_scale_factor=2 if phone else 1)
    page = context.new_page()
    page.goto(base + "/")
    for question in QUESTIONS[: 1 if phone else 2]:
        page.fill("#question", question)
        page.press("#question", "Enter")
        page.wait_for_function("() => !document.querySelector('[data-state=pending]')")
    if phone:
        page.get_by_role("link", name="查看原文").first.click()
    else:
        page.locator("#conversation .turn").first.get_by_role("link", name="查看原文").click()
    page.locator("#reader .article-text mark").first.wait_for()
    page.wait_for_timeout(600)
    suffix = "-dark" if scheme == "dark" else ""
    page.screenshot(path=str(ROOT / "docs" / f"screenshot-{'phone' if phone else 'desktop'}{suffix}.png"))
    context.close()


def main(base: str) -> None:
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        for scheme in ("light", "dark"):
            for phone in (False, True):
                shoot(browser, base.rstrip("/"), scheme, phone)
        browser.close()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000")
