"""`hilight serve`: the demo's actions (uploads refused with clear messages, streamed multi-turn
answers equal to `hilight chat`'s, similarity maps), one request at a time on one loaded model, no
gradio in the core, and the page driven in headless Chromium against a server in a subprocess."""

import copy
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import av
import numpy as np
import pytest
from eval_fixtures import FRAMES, billiards, tiny_checkpoints
from PIL import Image

from modeling_hilight import bundled
from modeling_hilight.bundled import load_model
from modeling_hilight.chat import ChatSession
from modeling_hilight.cli import main
from modeling_hilight.processing import decode_video
from modeling_hilight.serve import DemoBackend
from modeling_hilight.training.billiards import load_billiards
from modeling_hilight.visualize import similarity_maps

TOKENS = 6
QUESTIONS = ["Which ball was pocketed?", "Was the cue ball pocketed?"]
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("serve")
    data = billiards(root / "data", clips=12)
    hilight, encoder = tiny_checkpoints(root, data)
    video = root / "ma partie é.mp4"
    shutil.copy(load_billiards(data, "test")[0]["video"], video)
    (root / "notes.mp4").write_text("these are notes, not a video")
    (root / "cut.mp4").write_bytes(video.read_bytes()[:3000])  # the index at the end is lost
    Image.new("RGB", (32, 32), "red").save(root / "still.mp4", format="PNG")
    return {"hilight": hilight, "encoder": encoder, "video": video, "root": root}


@pytest.fixture(scope="module")
def backend(world):
    demo = DemoBackend(str(world["hilight"]), str(world["encoder"]), samples=1, max_new_tokens=TOKENS)
    yield demo
    demo.close()


def expected_answers(world, video) -> list[str]:
    """What `hilight chat` answers to QUESTIONS, in one conversation."""
    model, processor = load_model(world["hilight"])
    session = ChatSession(model, processor, str(video), max_new_tokens=TOKENS)
    return [session.ask(q) for q in QUESTIONS]


def duration_of(path) -> float:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return float(stream.duration * stream.time_base)


def test_uploads_that_cannot_be_used_get_a_clear_message(world, backend):
    def refusal(path, demo=backend):
        with pytest.raises(ValueError) as caught:
            demo.open_video(path)
        assert str(world["root"]) not in str(caught.value)  # the user's file name, not the server's copy
        return str(caught.value)

    assert refusal(world["root"] / "notes.mp4").startswith("notes.mp4 cannot be used: not a readable video file (")
    assert refusal(world["root"] / "cut.mp4").startswith("cut.mp4 cannot be used: not a readable video file (")
    assert refusal(world["root"] / "still.mp4") == "still.mp4 cannot be used: is a still image (png_pipe), not a video."
    small = copy.copy(backend)
    small.max_bytes, small.max_seconds = 1024, 1
    size = os.path.getsize(world["video"])
    assert refusal(world["video"], small) == (f"ma partie é.mp4 is too large ({size / 1024:.1f} KB); this demo takes "
                                              "videos up to 1 KB.")  # fmt: skip
    small.max_bytes = 2**20
    assert refusal(world["video"], small) == (f"ma partie é.mp4 is too long ({duration_of(world['video']):.1f} s); "
                                              "this demo takes videos up to 1 s.")  # fmt: skip


def test_a_clip_opens_with_its_keyframes_and_answers_stream_over_several_turns(world, backend):
    state, status, keyframes = backend.open_video(world["video"])
    frames, meta, _ = decode_video(str(world["video"]), FRAMES)
    duration = duration_of(world["video"])
    assert status == (f"Ready: **ma partie é.mp4** ({duration:.1f} s, 64x32); the model sees {FRAMES} frames. "
                      "Ask a question.")  # fmt: skip
    assert [c for _, c in keyframes] == [f"frame {i}, {t:.2f} s" for i, t in zip(meta.frames_indices, meta.timestamps)]
    np.testing.assert_array_equal(np.stack([f for f, _ in keyframes]), frames)
    expected = expected_answers(world, world["video"])
    for question, answer in zip(QUESTIONS, expected):
        pieces = list(backend.ask(state, question))
        assert pieces[-1] == answer and answer
        assert len(set(pieces)) >= 2 and all(answer.startswith(p) for p in pieces)  # it grows token by token
    assert [m["role"] for m in state["session"].messages] == ["user", "assistant"] * 2


def test_similarity_maps_of_the_questions_words(world, backend):
    state, _, _ = backend.open_video(world["video"])
    gif, note = backend.similarity_gif(state, QUESTIONS[0])
    words = similarity_maps(*load_model(world["encoder"]), str(world["video"]), QUESTIONS[0]).words
    assert note == f"Similarity maps of: {', '.join(words)}." and words == ["ball", "pocketed"]
    assert Image.open(gif).n_frames == FRAMES
    assert backend.similarity_gif(state, "what is the") == (None, "No similarity maps: the language mask keeps no "
                                                                  "word of 'what is the'; name words with --words.")  # fmt: skip
    no_encoder = copy.copy(backend)
    no_encoder.clip_model, no_encoder.notes = None, ["No similarity maps: they need a CLIP-ViP+ text tower."]
    assert no_encoder.similarity_gif(state, QUESTIONS[0]) == (None, no_encoder.notes[0])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_requests_queue_one_at_a_time_on_the_model_loaded_once(world, monkeypatch):
    pytest.importorskip("gradio")
    from gradio_client import Client

    from modeling_hilight.serve import build_app

    loads = []
    real_load = bundled.load_model
    monkeypatch.setattr(bundled, "load_model", lambda *a, **k: loads.append(a) or real_load(*a, **k))
    demo = DemoBackend(str(world["hilight"]), str(world["encoder"]), samples=1, max_new_tokens=TOKENS)
    assert len(loads) == 2  # the HiLight and the encoder, at start-up
    spans, ask = [], demo.ask

    def slow_ask(state, question):  # long enough that two requests would overlap if they could
        start = time.perf_counter()
        time.sleep(0.5)
        yield from ask(state, question)
        spans.append((start, time.perf_counter()))

    demo.ask = slow_ask
    app = build_app(demo)
    port = free_port()
    try:
        app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, ssr_mode=False)
        clients = [Client(f"http://127.0.0.1:{port}/", verbose=False) for _ in range(2)]
        for client in clients:
            assert client.predict(api_name="/sample_1")[0].startswith("Ready: **sample clip 1**")
        jobs = [client.submit(QUESTIONS[0], [], api_name="/ask") for client in clients]
        histories = [job.result(timeout=120)[0] for job in jobs]
        answer = expected_answers(world, demo.samples[0])[0]
    finally:
        app.close()
        demo.close()
    assert [h[-1]["content"][0]["text"] for h in histories] == [answer, answer]
    (a_start, a_end), (b_start, b_end) = sorted(spans)
    assert a_end <= b_start  # queued, not concurrent
    assert len(loads) == 2  # no request loaded the model again


def test_the_core_never_imports_gradio():
    code = ("import sys, modeling_hilight, modeling_hilight.cli, modeling_hilight.visualize, modeling_hilight.chat, "
            "modeling_hilight.evaluation, modeling_hilight.demo, modeling_hilight.serve\n"
            "assert 'gradio' not in sys.modules, 'gradio imported'\nprint('ok')")  # fmt: skip
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180)
    assert result.stdout == "ok\n", result.stderr


def test_serve_refuses_an_encoder_and_says_how_to_install_gradio(world, monkeypatch, capsys):
    pytest.importorskip("gradio")
    assert main(["serve", "--model", str(world["encoder"])]) == 1
    assert capsys.readouterr().err == (f"hilight serve: {world['encoder']}: hilight serve needs a HiLight checkpoint; "
                                       "this one is a CLIP-ViP+ encoder.\n")  # fmt: skip
    monkeypatch.setitem(sys.modules, "gradio", None)  # as if the [demo] extra were not installed
    assert main(["serve", "--model", str(world["hilight"])]) == 1
    assert capsys.readouterr().err == 'hilight serve: Gradio is not installed: pip install "hilight[demo]"\n'


# -- the page in a real browser ---------------------------------------------------------------------


def wait_for_server(url: str, process, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"hilight serve exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"hilight serve did not answer on {url} within {timeout} s")


def chromium():
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1400,1000"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(30)
    return driver


@pytest.mark.skipif(not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)),
                    reason="chromium and chromium-driver are not installed (`make setup` installs them as root)")  # fmt: skip
def test_the_page_in_headless_chromium(world, tmp_path):
    pytest.importorskip("gradio")
    pytest.importorskip("selenium")
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    log = open(tmp_path / "server.log", "w")
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False", PYTHONIOENCODING="utf-8")
    server = subprocess.Popen([sys.executable, "-m", "modeling_hilight.cli", "serve", "--model", str(world["hilight"]),
                               "--encoder", str(world["encoder"]), "--port", str(port), "--samples", "1",
                               "--max-new-tokens", str(TOKENS)], stdout=log, stderr=subprocess.STDOUT, env=env)  # fmt: skip
    driver = None
    try:
        wait_for_server(url, server)
        driver = chromium()
        wait = WebDriverWait(driver, 60)
        driver.get(url)

        def status():
            return driver.find_element(By.CSS_SELECTOR, "#status").text

        def answers():
            return [m.text for m in driver.find_elements(By.CSS_SELECTOR, "#chat [data-testid=bot]")]

        def upload(path):
            for clear in driver.find_elements(By.CSS_SELECTOR, "#upload button[aria-label=Clear]"):
                clear.click()  # a file is shown: remove it to get the file input back
            wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#upload input[type=file]"))[0].send_keys(str(path))

        def ask(question, count):
            box = driver.find_element(By.CSS_SELECTOR, "#question textarea")
            box.send_keys(question)
            driver.find_element(By.CSS_SELECTOR, "#ask").click()
            wait.until(lambda d: status().startswith("Answered.") and len(answers()) == count)
            return answers()[-1]

        wait.until(lambda d: status() == "Pick a sample clip or upload a video.")
        upload(world["video"])
        wait.until(lambda d: status().startswith("Ready"))
        assert status() == (f"Ready: ma partie é.mp4 ({duration_of(world['video']):.1f} s, 64x32); the model sees "
                            f"{FRAMES} frames. Ask a question.")  # fmt: skip
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#keyframes img")) >= FRAMES)
        expected = expected_answers(world, world["video"])
        assert ask(QUESTIONS[0], 1) == expected[0]
        assert ask(QUESTIONS[1], 2) == expected[1]  # the second turn carries the first
        assert status() == "Answered. Similarity maps of: cue, ball, pocketed."
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#maps img"))
        shot = tmp_path / "serve.png"
        driver.save_screenshot(str(shot))
        pixels = np.asarray(Image.open(shot).convert("RGB"))
        assert pixels.shape[:2] == tuple(driver.execute_script("return [window.innerHeight, window.innerWidth]"))
        assert pixels.std() > 20  # a page, not a blank
        if os.environ.get("HILIGHT_SCREENSHOT"):  # how docs/images/serve.png is made
            shutil.copy(shot, os.environ["HILIGHT_SCREENSHOT"])

        upload(world["root"] / "cut.mp4")
        wait.until(lambda d: status().startswith("Upload refused."))
        assert status().startswith("Upload refused. cut.mp4 cannot be used: not a readable video file (")
        assert str(world["root"]) not in status() and answers() == []

        driver.find_element(By.CSS_SELECTOR, "#sample-0").click()  # the server goes on serving
        wait.until(lambda d: status().startswith("Ready: sample clip 1"))
        assert ask(QUESTIONS[0], 1)
    finally:
        if driver is not None:
            driver.quit()
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=15)
        log.close()


def own_address() -> str | None:
    """A non-loopback IPv4 address of this machine (a UDP socket's route; no packet is sent), if any."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))
        except OSError:
            return None
        address = s.getsockname()[0]
    return None if address.startswith("127.") else address


def test_readme_serve_command_runs_as_written_on_loopback_only(world, tmp_path):
    pytest.importorskip("gradio")
    from readme_snippets import command_lines

    (command,) = command_lines("serve-cli")
    assert command[:2] == ["hilight", "serve"]
    port = int(command[command.index("--port") + 1])
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            pytest.skip(f"port {port} is in use on this machine")
    # the command as written, with the fixture models standing in for the bundled ones
    code = ("import sys\nfrom pathlib import Path\nfrom modeling_hilight import bundled\nfrom modeling_hilight.cli import main\n"
            f"bundled.BUNDLED.update(hilight=Path({str(world['hilight'])!r}), clip_vip_plus=Path({str(world['encoder'])!r}))\n"
            f"sys.exit(main({command[1:]!r}))")  # fmt: skip
    log = open(tmp_path / "server.log", "w")
    server = subprocess.Popen([sys.executable, "-c", code], stdout=log, stderr=subprocess.STDOUT,
                              env=dict(os.environ, GRADIO_ANALYTICS_ENABLED="False"))  # fmt: skip
    try:
        wait_for_server(f"http://127.0.0.1:{port}/", server)
        outside = own_address()
        if outside is not None:  # another address of this machine: nothing listens there
            with socket.socket() as probe:
                probe.settimeout(5)
                assert probe.connect_ex((outside, port)) != 0
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=15)
        log.close()
    assert f"HiLight demo on http://127.0.0.1:{port}" in (tmp_path / "server.log").read_text()
