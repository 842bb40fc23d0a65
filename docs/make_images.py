"""Make the README's pictures of `hilight visualize` and `hilight serve` (default: the bundled model).

    python docs/make_images.py [--model HILIGHT] [--encoder CLIP_VIP_PLUS] [--out docs/images]

writes `similarity_frame.png` (the middle frame of the similarity GIF of a fresh clip's caption)
and `serve.png` (the page in headless Chromium after two questions about sample clip 1). Needs the
[demo] extra, selenium, and Debian's chromium and chromium-driver (`make setup` installs them).
"""

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from PIL import Image

from modeling_hilight.bundled import BUNDLED
from modeling_hilight.demo import clip_settings
from modeling_hilight.training.billiards import make_clip
from modeling_hilight.training.billiards.grounding import ball_words
from modeling_hilight.visualize import load_encoder, similarity_maps

QUESTIONS = ["Which ball went into a pocket?", "Where did the cue ball stop?"]


def similarity_frame(model, encoder, out: Path, seed: int = 58) -> None:
    clip_model, processor, _ = load_encoder(model, encoder)
    with tempfile.TemporaryDirectory() as scratch:
        (Path(scratch) / "clips").mkdir()
        record = make_clip("docs", 0, seed, scratch, clip_settings(Path(model) if model else BUNDLED["hilight"]))
        text = record["caption"]
        words = [text[s:e] for s, e, _ in ball_words(text)] + ["pocket"] * ("pocket" in text)
        maps = similarity_maps(clip_model, processor, str(Path(scratch) / record["video"]), text, words)
    image = maps.frame_image(len(maps.frames) // 2, width=240, columns=len(maps.words) + 1)
    image.quantize(256).save(out / "similarity_frame.png", optimize=True)
    print(f"{out / 'similarity_frame.png'}: {record['caption']!r}, words {maps.words}")


def screenshot(model, encoder, out: Path) -> None:
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [sys.executable, "-m", "modeling_hilight.cli", "serve", "--port", str(port)]
    command += ["--model", model] if model else []
    command += ["--encoder", encoder] if encoder else []
    server = subprocess.Popen(command, env=dict(os.environ, GRADIO_ANALYTICS_ENABLED="False"))
    driver = None
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("hilight serve did not start") from None
                time.sleep(0.5)
        options = Options()
        options.binary_location = "/usr/bin/chromium"
        for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1040"):
            options.add_argument(flag)
        driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
        driver.set_page_load_timeout(60)
        wait = WebDriverWait(driver, 120)
        driver.get(f"http://127.0.0.1:{port}/")
        status = lambda: driver.find_element(By.CSS_SELECTOR, "#status").text  # noqa: E731
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#sample-0"))[0].click()
        wait.until(lambda d: status().startswith("Ready"))
        for count, question in enumerate(QUESTIONS, 1):
            driver.find_element(By.CSS_SELECTOR, "#question textarea").send_keys(question)
            driver.find_element(By.CSS_SELECTOR, "#ask").click()
            wait.until(lambda d: status().startswith("Answered")
                       and len(d.find_elements(By.CSS_SELECTOR, "#chat [data-testid=bot]")) == count)  # fmt: skip
        time.sleep(1)  # the maps image loads after the status line
        driver.save_screenshot(str(out / "serve.png"))
        Image.open(out / "serve.png").convert("RGB").quantize(256).save(out / "serve.png", optimize=True)
        print(f"{out / 'serve.png'}")
    finally:
        if driver is not None:
            driver.quit()
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="a HiLight checkpoint (default: the bundled one)")
    parser.add_argument("--encoder", help="its CLIP-ViP+ (default: the bundled one)")
    parser.add_argument("--out", default="docs/images")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    similarity_frame(args.model, args.encoder, out)
    screenshot(args.model, args.encoder, out)
