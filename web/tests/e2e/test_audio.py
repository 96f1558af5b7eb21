"""Desktop sound and microphone end to end: a real PulseAudio started the way skerry-init
starts it, the real skerry-streamer, headless Chromium decoding with WebCodecs."""

from __future__ import annotations

import math
import os
import shutil
import struct
import subprocess
import wave
from pathlib import Path

import pytest

from conftest import wait_js
from stack import Streamer, wait_until

pytestmark = pytest.mark.audio

# The same modules as skerry-init's audio service (supervisor/src/services.rs).
PULSEAUDIO = [
    "pulseaudio", "--daemonize=no", "--exit-idle-time=-1", "--disallow-exit", "--use-pid-file=no",
    "--realtime=no", "--high-priority=no", "--log-target=stderr", "-n",
    "-L", "module-native-protocol-unix auth-anonymous=1",
    "-L", "module-null-sink sink_name=skerry_out rate=48000 channels=2 sink_properties=device.description=Skerry-output",
    "-L", "module-null-sink sink_name=skerry_mic_in rate=48000 channels=2 sink_properties=device.description=Skerry-microphone-feed",
    "-L", "module-remap-source master=skerry_mic_in.monitor source_name=skerry_mic source_properties=device.description=Skerry-microphone",
]


def tone_wav(path: Path, freq: float, seconds: float, channels: int = 2):
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(48000)
        frames = bytearray()
        for i in range(int(48000 * seconds)):
            v = int(12000 * math.sin(2 * math.pi * freq * i / 48000))
            frames += struct.pack("<h", v) * channels
        w.writeframes(bytes(frames))


def frequency(samples, rate=48000):
    """Frequency from the upward zero crossings."""
    ups = [i for i in range(1, len(samples)) if samples[i - 1] < 0 <= samples[i]]
    assert len(ups) > 10, f"no tone: {len(ups)} crossings"
    return (len(ups) - 1) * rate / (ups[-1] - ups[0])


@pytest.fixture
def audio_server(runtime):
    if not shutil.which("pulseaudio") or not shutil.which("paplay"):
        pytest.fail("pulseaudio and pulseaudio-utils are missing (ci/packages.txt)")
    proc = runtime.spawn("pulseaudio", PULSEAUDIO)
    sock = runtime.xdg / "pulse" / "native"
    wait_until(lambda: sock.exists(), 20, "the PulseAudio socket", proc)
    env = runtime.env(PULSE_SERVER=f"unix:{sock}")
    wait_until(
        lambda: subprocess.run(["pactl", "info"], env=env, capture_output=True, timeout=5).returncode == 0,
        20, "pactl info", proc,
    )
    return env


@pytest.fixture
def audio_streamer(runtime, audio_server):
    s = Streamer(runtime, source="synthetic", PULSE_SERVER=audio_server["PULSE_SERVER"]).start()
    yield s
    s.stop()


def test_a_tone_on_the_desktop_arrives_at_440_hz(runtime, audio_server, audio_streamer, browser):
    page = browser.open(audio_streamer.url)
    wait_js(page, "() => window.skerry && window.skerry.audio")
    wav = runtime.dir / "tone.wav"
    tone_wav(wav, 440.0, 4.0)
    play = subprocess.Popen(["paplay", "--device=skerry_out", str(wav)], env=audio_server)
    try:
        wait_js(page, "() => window.skerry.audio.player.packets > 0", timeout=20)
        page.evaluate("() => window.skerry.audio.player.resetTap()")
        wait_js(page, "() => window.skerry.audio.player.tapped >= 24000", timeout=20)
        samples = page.evaluate("() => Array.from(window.skerry.audio.player.tap.subarray(0, 24000))")
    finally:
        play.kill()
        play.wait()
    f = frequency(samples)
    assert abs(f - 440.0) <= 5.0, f"{f:.1f} Hz"
    assert max(abs(s) for s in samples) > 0.1


def test_a_silent_desktop_sends_no_audio(audio_streamer, browser):
    page = browser.open(audio_streamer.url)
    wait_js(page, "() => window.skerry && window.skerry.audio && window.skerry.connection.ws && window.skerry.connection.ws.readyState === 1", timeout=20)
    before = page.evaluate("() => window.skerry.audio.player.packets")
    page.wait_for_timeout(5000)  # the measurement window itself, not synchronisation
    after = page.evaluate("() => window.skerry.audio.player.packets")
    assert before == 0 and after == 0, (before, after)


def test_the_browser_microphone_reaches_the_desktop(runtime, audio_server, audio_streamer, browser_factory):
    wav = runtime.dir / "mic.wav"
    tone_wav(wav, 660.0, 10.0, channels=1)
    b = browser_factory(args=[
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-audio-capture={wav}",
    ])
    page = b.open(audio_streamer.url)
    wait_js(page, "() => window.skerry && window.skerry.connection && window.skerry.audio", timeout=20)
    page.click("#btn-mic")
    wait_js(page, "() => window.skerry.audio.mic.sent > 25", timeout=20)
    raw = runtime.dir / "recorded.raw"
    rec = subprocess.run(
        ["timeout", "3", "parecord", "--device=skerry_mic", "--raw", "--format=s16le",
         "--rate=48000", "--channels=1", str(raw)],
        env=audio_server, capture_output=True,
    )
    data = raw.read_bytes()
    assert len(data) > 48000, f"recorded {len(data)} bytes: {rec.stderr!r}"
    samples = [s for (s,) in struct.iter_unpack("<h", data[: len(data) // 2 * 2])]
    # Skip the start, which may precede the stream.
    loud = [i for i, s in enumerate(samples) if abs(s) > 1000]
    assert loud, "the microphone recorded only silence"
    f = frequency(samples[loud[0]: loud[0] + 24000])
    assert abs(f - 660.0) <= 5.0, f"{f:.1f} Hz"
