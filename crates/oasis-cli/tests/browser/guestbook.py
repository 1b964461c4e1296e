#!/usr/bin/python3
"""Drives headless Chromium (Debian's chromium + chromium-driver, through
python3-selenium) against the guestbook, as a person with a browser would.

    guestbook.py post URL NAME MESSAGE   load URL, fill in the form, submit, see the entry listed
    guestbook.py check URL MESSAGE       load URL, see an entry with MESSAGE listed
    guestbook.py refused URL             load URL, see the browser refuse it (an untrusted certificate)

Prints one line, `ok: …`, and exits 0 when what it looked for is there; else
prints what it saw and exits 1. The certificate authorities Chromium trusts
are the NSS database under $HOME/.pki/nssdb (the test makes one).
"""
import sys

from selenium import webdriver
from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait


def browser():
    options = webdriver.ChromeOptions()
    for arg in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--no-first-run", "--disable-extensions", "--disable-background-networking",
                "--window-size=1280,1600"]:
        options.add_argument(arg)
    options.binary_location = "/usr/bin/chromium"
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.set_page_load_timeout(30)
    return driver


def entries(driver):
    """The listed entries as (name, message) pairs, as the page shows them."""
    out = []
    for li in driver.find_elements(By.CSS_SELECTOR, "ul#entries li.entry"):
        name = li.find_element(By.CSS_SELECTOR, ".name").text
        message = li.find_element(By.CSS_SELECTOR, ".message").text
        out.append((name, message))
    return out


def fail(driver, why):
    print(f"FAIL: {why}; title {driver.title!r}; url {driver.current_url}")
    print(driver.page_source[:2000])
    sys.exit(1)


def post(driver, url, name, message):
    driver.get(url)
    form = driver.find_element(By.CSS_SELECTOR, "form[method='post'][action='/entries']")
    form.find_element(By.NAME, "name").send_keys(name)
    form.find_element(By.NAME, "message").send_keys(message)
    button = form.find_element(By.CSS_SELECTOR, "button[type='submit'], input[type='submit']")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", button)
    button.click()
    # The post answers 303 to the page, which lists the new entry first.
    try:
        WebDriverWait(driver, 20).until(
            ec.presence_of_element_located((By.CSS_SELECTOR, "ul#entries li.entry")))
    except TimeoutException:
        fail(driver, "no entries listed after the post")
    got = entries(driver)
    if not got or got[0] != (name, message):
        fail(driver, f"the newest entry is {got[:1]}, not {(name, message)}")
    # Escaped on output: the message's markup is text, not elements.
    if driver.find_elements(By.CSS_SELECTOR, "ul#entries li.entry .message b"):
        fail(driver, "the message's <b> became an element")
    print(f"ok: posted and listed first ({len(got)} entries on the page)")


def check(driver, url, message):
    driver.get(url)
    got = entries(driver)
    if not any(m == message for _, m in got):
        fail(driver, f"{message!r} is not among {got}")
    print(f"ok: listed ({len(got)} entries on the page)")


def refused(driver, url):
    try:
        driver.get(url)
    except WebDriverException as e:
        print(f"ok: refused ({e.msg.splitlines()[0]})")
        return
    if driver.find_elements(By.CSS_SELECTOR, "ul#entries"):
        fail(driver, "the page loaded although its certificate is not trusted")
    print(f"ok: refused (the browser shows {driver.title!r})")


def main():
    what, args = sys.argv[1], sys.argv[2:]
    driver = browser()
    try:
        {"post": post, "check": check, "refused": refused}[what](driver, *args)
    finally:
        driver.quit()


if __name__ == "__main__":
    main()
