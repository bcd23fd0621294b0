"""Drives the playground in headless Chromium (Debian's chromium and chromium-driver) through Selenium,
as a person would: pick a clip, add effects through the menus, watch the preview, run, play, download.

Usage: playground.py BASE_URL --clip CLIP --text TEXTFILE --fixture-url URL --out DIR [--token T]
Exits non-zero with a message on the first thing that does not work.
"""
import argparse, base64, json, os, subprocess, sys, time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait


def fail(message):
    sys.exit("playground: " + message)


def wait(driver, what, condition, seconds=60):
    try:
        return WebDriverWait(driver, seconds, poll_frequency=0.1).until(lambda d: condition(d))
    except Exception:
        log = driver.find_element(By.ID, "log").text if driver.find_elements(By.ID, "log") else ""
        errors = [e.text for e in driver.find_elements(By.CSS_SELECTOR, ".error") if e.text]
        fail(f"timed out waiting for {what}; errors on the page: {errors}; log: {log[-500:]}")


def browser(width=1280, height=800):
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for a in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", f"--window-size={width},{height}",
              "--autoplay-policy=no-user-gesture-required"]:
        options.add_argument(a)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def value(driver, id):
    return driver.execute_script(f"return document.getElementById('{id}').value")


def halves_differ(driver):
    """Whether the preview's right half (the result) differs from its left half (the original)."""
    return driver.execute_script("""
        const img = document.getElementById('preview');
        if (!img.complete || !img.naturalWidth) return false;
        const c = document.createElement('canvas'); c.width = img.naturalWidth; c.height = img.naturalHeight;
        const g = c.getContext('2d'); g.drawImage(img, 0, 0);
        const half = Math.floor(img.naturalWidth / 2) - 8;
        const a = g.getImageData(0, 0, half, img.naturalHeight).data;
        const b = g.getImageData(img.naturalWidth - half, 0, half, img.naturalHeight).data;
        let diff = 0; for (let i = 0; i < a.length; i++) diff += Math.abs(a[i] - b[i]);
        return diff / a.length > 2;""")


def tab_to(driver, id, limit=80):
    """Moves the focus with the Tab key only, until element `id` has it."""
    for _ in range(limit):
        if driver.execute_script("return document.activeElement && document.activeElement.id") == id:
            return driver.switch_to.active_element
        # A key press as the keyboard sends it, to whatever has the focus (a file input included).
        ActionChains(driver).send_keys(Keys.TAB).perform()
    fail(f"the Tab key never reached #{id}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("base")
    ap.add_argument("--clip", required=True)
    ap.add_argument("--text", required=True)
    ap.add_argument("--fixture-url", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--token")
    args = ap.parse_args()
    driver = browser()
    try:
        if args.token:
            return auth(driver, args)
        # A browser asking for / lands on the playground.
        driver.get(args.base + "/")
        if not driver.current_url.endswith("/playground"):
            fail(f"/ sent a browser to {driver.current_url}")
        wait(driver, "the effect menu", lambda d: len(Select(d.find_element(By.ID, "add")).options) >= 20)

        # Pick the clip: it is uploaded through /files with a progress bar.
        driver.find_element(By.ID, "file").send_keys(args.clip)
        wait(driver, "the upload", lambda d: value(d, "upload-progress") == 100)
        # Posterize (levels 4) and resize through the menus.
        Select(driver.find_element(By.ID, "add")).select_by_value("posterize")
        driver.find_element(By.ID, "add-button").click()
        levels = driver.find_element(By.ID, "step-0-levels")
        levels.clear(); levels.send_keys("4")
        Select(driver.find_element(By.ID, "add")).select_by_value("resize")
        driver.find_element(By.ID, "add-button").click()
        width = driver.find_element(By.ID, "step-1-width")
        width.send_keys("128")
        chain = value(driver, "chain")
        steps = [s.strip() for s in chain.split("|")]
        if len(steps) != 2 or steps[0] != "posterize:levels=4" or not steps[1].startswith("resize:") or "width=128" not in steps[1]:
            fail(f"the Effects field shows {chain!r}")
        wait(driver, "a preview that differs from the original", lambda d: d.find_element(By.ID, "preview").is_displayed() and halves_differ(d))
        first = driver.find_element(By.ID, "preview").get_attribute("src")
        # The time slider: moved with the keyboard (as a drag would), the preview follows.
        slider = driver.find_element(By.ID, "time")
        for _ in range(10):
            slider.send_keys(Keys.ARROW_RIGHT)
        wait(driver, "a preview at the new time", lambda d: d.find_element(By.ID, "preview").get_attribute("src") != first
             and float(d.find_element(By.ID, "preview").get_attribute("data-at") or 0) > 0)
        driver.save_screenshot(os.path.join(args.out, "playground.png"))

        # Run: the progress bar reaches the end, the result plays, the download decodes.
        Select(driver.find_element(By.ID, "codec")).select_by_value("libx264")
        driver.find_element(By.ID, "run").click()
        wait(driver, "the run to finish", lambda d: value(d, "progress") == 100 and d.find_element(By.ID, "download").is_displayed(), 120)
        wait(driver, "the video to be playable", lambda d: d.execute_script("return document.getElementById('result').readyState") >= 2)
        driver.execute_script("document.getElementById('result').play()")
        wait(driver, "the video to play", lambda d: d.execute_script("return document.getElementById('result').currentTime") > 0)
        href = driver.find_element(By.ID, "download").get_attribute("href")
        if not href.startswith("data:video/mp4;base64,"):
            fail(f"the download link is {href[:40]}")
        out = os.path.join(args.out, "downloaded.mp4")
        with open(out, "wb") as f:
            f.write(base64.b64decode(href.split(",", 1)[1]))
        probe = json.loads(subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-show_streams", "-of", "json", out],
                                          capture_output=True, text=True, check=True).stdout)
        video = [s for s in probe["streams"] if s["codec_type"] == "video"]
        if not video or video[0]["width"] != 128 or video[0]["nb_read_frames"] != "20":
            fail(f"the downloaded video is {video}")
        if not any(s["codec_type"] == "audio" for s in probe["streams"]):
            fail("the downloaded video has no audio")
        if "encoder" not in driver.find_element(By.ID, "metrics").text:
            fail("no metrics shown")

        # An invalid chain shows the server's message beside the field.
        field = driver.find_element(By.ID, "chain")
        field.clear(); field.send_keys("posterize:levels=999")
        wait(driver, "the server's message on the chain", lambda d: "levels" in d.find_element(By.ID, "chain-error").text)
        # A text file: the server's own words about it.
        driver.find_element(By.ID, "file").send_keys(args.text)
        field.clear(); field.send_keys("invert")
        wait(driver, "the server's message on the text file", lambda d: "input video" in d.find_element(By.ID, "source-error").text)

        # Phone width: nothing wider than the screen.
        driver.set_window_size(390, 844)
        time.sleep(0.5)
        driver.execute_script("window.scrollTo(0, 0); return document.body.offsetHeight")
        if driver.execute_script("return document.documentElement.scrollWidth > document.documentElement.clientWidth + 1"):
            wide = driver.execute_script("""return [...document.querySelectorAll('*')].filter(e => e.getBoundingClientRect().right + window.scrollX > document.documentElement.clientWidth + 1)
                .slice(-5).map(e => e.tagName + '#' + e.id + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right + window.scrollX))""")
            sizes = driver.execute_script("return [document.documentElement.scrollWidth, document.documentElement.clientWidth]")
            fail(f"the page scrolls sideways at phone width ({sizes}): {wide}")

        # Keyboard only: a URL, a step, Run.
        driver.get(args.base + "/playground")
        driver.set_window_size(1280, 800)
        wait(driver, "the effect menu", lambda d: len(Select(d.find_element(By.ID, "add")).options) >= 20)
        tab_to(driver, "url").send_keys(args.fixture_url + Keys.TAB)
        menu = tab_to(driver, "add")
        for _ in range(60):
            if value(driver, "add") == "invert":
                break
            menu.send_keys(Keys.ARROW_DOWN)
        tab_to(driver, "add-button").send_keys(Keys.ENTER)
        if value(driver, "chain") != "invert":
            fail(f"the keyboard added {value(driver, 'chain')!r}")
        tab_to(driver, "audio").send_keys(Keys.SPACE)
        if driver.execute_script("return document.getElementById('audio').checked"):
            fail("the space bar did not turn audio off")
        tab_to(driver, "run").send_keys(Keys.ENTER)
        wait(driver, "the keyboard's run to finish", lambda d: d.find_element(By.ID, "download").is_displayed(), 120)
        out = os.path.join(args.out, "keyboard.mp4")
        with open(out, "wb") as f:
            f.write(base64.b64decode(driver.find_element(By.ID, "download").get_attribute("href").split(",", 1)[1]))
        streams = json.loads(subprocess.run(["ffprobe", "-v", "error", "-show_streams", "-of", "json", out],
                                            capture_output=True, text=True, check=True).stdout)["streams"]
        if any(s["codec_type"] == "audio" for s in streams):
            fail("audio was turned off but the output has audio")
        # The API reference, rendered from /openapi.json.
        driver.get(args.base + "/docs")
        wait(driver, "the API reference", lambda d: "POST /predictions" in d.find_element(By.ID, "operations").text
             and "posterize" in d.find_element(By.ID, "catalogue").text and "num_levels" in d.find_element(By.ID, "inputs").text)
        print("playground: all checks passed")
    finally:
        driver.quit()


def auth(driver, args):
    driver.get(args.base + "/playground")
    wait(driver, "the token prompt", lambda d: d.find_element(By.ID, "auth").is_displayed())
    status = driver.execute_script("return fetch('/openapi.json').then(r => r.status)")
    if status != 401:
        fail(f"the API answered the page without a token with {status}")
    token = driver.find_element(By.ID, "token")
    token.send_keys(args.token + Keys.ENTER)
    wait(driver, "the effect menu after the token", lambda d: len(Select(d.find_element(By.ID, "add")).options) >= 20)
    print("playground: the token is asked for and used")


if __name__ == "__main__":
    main()
