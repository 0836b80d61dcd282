#!/usr/bin/env python3
"""Screenshots of every preview page at 1280 and 390 px (full height), light
and dark, through Debian's Chromium and chromedriver; fails on sideways
scrolling at phone width and on console errors (CSP violations).

    shoot.py BASE_URL OUT_DIR
"""

import os
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

BASE, OUT = sys.argv[1].rstrip("/"), sys.argv[2]
PAGES = {
    "overview": "/", "peers": "/peers", "routes": "/routes", "certificates": "/certificates",
    "add": "/peers/add", "add-error": "/add-error", "added": "/added",
    "remove": "/peers/tablet/remove", "message": "/message", "forbidden": "/forbidden",
    "ro-peers": "/ro/peers", "ro-add": "/ro/peers/add",
}
os.environ["SE_OFFLINE"] = "true"
os.makedirs(OUT, exist_ok=True)


def browser(dark):
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--hide-scrollbars", "--window-size=1280,900"):
        opts.add_argument(arg)
    if dark:
        opts.add_argument("--force-dark-mode")
        opts.add_argument("--blink-settings=preferredColorScheme=0")
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)


def metrics(d, w, h, mobile):
    d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                      {"width": w, "height": h, "deviceScaleFactor": 1, "mobile": mobile})


problems = []
only = sys.argv[3:] or None
for dark in (False, True):
    d = browser(dark)
    if dark:
        d.execute_cdp_cmd("Emulation.setEmulatedMedia",
                          {"features": [{"name": "prefers-color-scheme", "value": "dark"}]})
    try:
        for name, path in PAGES.items():
            if only and name not in only:
                continue
            if dark and name not in ("overview", "peers", "added", "certificates"):
                continue
            d.get(BASE + path)
            if name in ("peers", "routes"):
                time.sleep(2.5)
            for label, (w, h, mobile) in (("desktop", (1280, 900, False)), ("phone", (390, 844, True))):
                metrics(d, w, h, mobile)
                time.sleep(0.3)
                height = d.execute_script("return document.documentElement.scrollHeight;")
                metrics(d, w, max(h, int(height)), mobile)
                time.sleep(0.2)
                overflow = d.execute_script(
                    "return document.documentElement.scrollWidth - document.documentElement.clientWidth;")
                if overflow > 0:
                    problems.append(f"{name} {label}: scrolls sideways by {overflow} px")
                suffix = "-dark" if dark else ""
                d.save_screenshot(os.path.join(OUT, f"{name}-{label}{suffix}.png"))
            for entry in d.get_log("browser"):
                if "favicon" not in entry["message"]:
                    problems.append(f"{name}: console: {entry['message']}")
        if not dark and (not only or "peers" in only):
            d.get(BASE + "/peers")
            time.sleep(3)
            ds = [p.get_attribute("d") for p in d.find_elements("css selector", 'tr[data-peer="laptop"] svg.graph path')]
            print("laptop graph L count:", sum(x.count("L") for x in ds))
    finally:
        d.quit()
print("\n".join(problems) or "no problems")
