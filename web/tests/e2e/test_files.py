"""Uploads and downloads through the page against the real skerry-streamer: files chosen
in the page's file input land byte-identical in SKERRY_UPLOAD_DIR with a progress bar
each; a refusal is explained in the page; the download panel lists a file and the
browser's download of it is byte-identical."""

from __future__ import annotations

import os

import pytest

from conftest import wait_js
from stack import Streamer

pytestmark = pytest.mark.files


@pytest.fixture
def files_streamer(runtime):
    up = runtime.dir / "Desktop"
    s = Streamer(
        runtime,
        source="synthetic",
        SKERRY_UPLOAD_DIR=up,
        SKERRY_DOWNLOAD_DIR=up,
        SKERRY_UPLOAD_MAX_SIZE="16M",
    ).start()
    s.upload_dir = up
    yield s
    s.stop()


def open_panel(page):
    page.click("#btn-files")
    page.wait_for_selector("#files:not([hidden])")


def test_uploading_several_files_lands_them_byte_identical(browser, files_streamer):
    page = browser.open(files_streamer.url)
    open_panel(page)
    payloads = [
        {"name": "notes.txt", "mimeType": "text/plain", "buffer": b"hello from the browser\n"},
        # more than one 8 MiB chunk, so progress moves in steps
        {"name": "big.bin", "mimeType": "application/octet-stream", "buffer": os.urandom(9 * 1024 * 1024 + 7)},
        {"name": "empty.dat", "mimeType": "application/octet-stream", "buffer": b""},
    ]
    page.set_input_files("#file-input", payloads)
    for p in payloads:
        page.wait_for_selector(f"#files-uploads li[data-name='{p['name']}'] progress")
    wait_js(page, "() => [...document.querySelectorAll('#files-uploads li')].every(li => li.dataset.state === 'done')", timeout=60)
    for p in payloads:
        bar = page.locator(f"#files-uploads li[data-name='{p['name']}'] progress")
        assert bar.evaluate("b => b.value === b.max"), p["name"]
        assert (files_streamer.upload_dir / p["name"]).read_bytes() == p["buffer"], p["name"]
    assert sorted(os.listdir(files_streamer.upload_dir)) == ["big.bin", "empty.dat", "notes.txt"]
    # the panel lists what landed on the desktop
    page.wait_for_selector("#files-list a:text-is('big.bin')")


def test_a_refused_upload_is_explained_in_the_page(browser_factory, files_streamer):
    # Refusals are HTTP 4xx answers by design, so this page is not held to "no errors".
    page = browser_factory().open(files_streamer.url)
    open_panel(page)
    # Dropped on the desktop: names a file picker could not produce, and one too large.
    page.evaluate(
        """() => {
            const dt = new DataTransfer();
            dt.items.add(new File(['x'], '..'));
            dt.items.add(new File([new Uint8Array(16 * 1024 * 1024 + 1)], 'huge.bin'));
            const stage = document.getElementById('stage');
            stage.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
        }"""
    )
    wait_js(page, "() => !document.getElementById('files-error').hidden", timeout=60)
    message = page.locator("#files-error").inner_text()
    assert "no usable part" in message, message
    assert "limited to 16777216 bytes" in message, message
    assert page.locator("#files-uploads li[data-state='error']").count() == 2
    assert not files_streamer.upload_dir.exists() or os.listdir(files_streamer.upload_dir) == []


def test_the_download_panel_lists_and_downloads_a_file(browser, files_streamer):
    files_streamer.upload_dir.mkdir(parents=True, exist_ok=True)
    data = os.urandom(3 * 1024 * 1024 + 11)
    (files_streamer.upload_dir / "report é.bin").write_bytes(data)
    page = browser.open(files_streamer.url)
    open_panel(page)
    link = page.locator("#files-list a", has_text="report é.bin")
    link.wait_for()
    with page.expect_download() as info:
        link.click()
    download = info.value
    assert download.suggested_filename == "report é.bin"
    path = download.path()
    assert path is not None and open(path, "rb").read() == data
