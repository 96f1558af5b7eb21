"""Real encoded media for the browser tests: H.264 through ffmpeg's libx264 and JPEG through
ffmpeg's mjpeg encoder, wrapped in Skerry's binary message layout (docs/protocol.md), plus the
picture comparisons the tests assert on."""

from __future__ import annotations

import base64
import io
import struct
import subprocess

import numpy as np
from PIL import Image

KIND_VIDEO = 0x01
KIND_CURSOR = 0x02
KIND_CURSOR_POS = 0x03
CODEC_H264 = 1
CODEC_JPEG = 2
FLAG_KEYFRAME = 1
FLAG_REFRESH = 2
FLAG_444 = 4
FLAG_EOF = 8

_VIDEO_HEADER = struct.Struct("<BBBBIQHHHHHH")
_CURSOR_HEADER = struct.Struct("<BBHIHHHH")


def video_message(codec, flags, frame_id, payload, frame_size, region=None, capture_us=0):
    fw, fh = frame_size
    x, y, w, h = region if region else (0, 0, fw, fh)
    return _VIDEO_HEADER.pack(KIND_VIDEO, codec, flags, 0, frame_id & 0xFFFFFFFF, capture_us, x, y, w, h, fw, fh) + payload


def cursor_message(serial, rgba=None, size=(0, 0), hotspot=(0, 0)):
    hidden = rgba is None
    w, h = (0, 0) if hidden else size
    head = _CURSOR_HEADER.pack(KIND_CURSOR, 1 if hidden else 0, 0, serial, hotspot[0], hotspot[1], w, h)
    return head + (b"" if hidden else bytes(rgba))


def cursor_position_message(x, y):
    return struct.pack("<BBBBii", KIND_CURSOR_POS, 0, 0, 0, x, y)


def pattern(width, height, seed=0):
    """A picture with flat areas, edges and fine text-like strokes (RGB, uint8)."""
    rng = np.random.default_rng(seed)
    img = np.empty((height, width, 3), np.uint8)
    img[: height // 2, : width // 2] = (200, 40, 40)
    img[: height // 2, width // 2 :] = (40, 180, 60)
    img[height // 2 :, : width // 2] = (40, 60, 200)
    img[height // 2 :, width // 2 :] = (245, 245, 245)
    # dark strokes on the white quadrant, like glyphs
    for _ in range(40):
        x = int(rng.integers(width // 2, width - 12))
        y = int(rng.integers(height // 2, height - 12))
        img[y : y + 10, x : x + 2] = (20, 20, 20)
        img[y : y + 2, x : x + 8] = (20, 20, 20)
    # a horizontal gradient band
    band = np.linspace(0, 255, width, dtype=np.float64).astype(np.uint8)
    img[height // 2 - 8 : height // 2 + 8, :, :] = band[None, :, None]
    return img


def _ffmpeg(args, stdin_bytes):
    proc = subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", *args],
        input=stdin_bytes,
        capture_output=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"ffmpeg failed: {proc.stderr.decode(errors='replace')}")
    return proc.stdout


def h264_access_units(frames, chroma="yuv420p", crf=12):
    """Encodes RGB frames with libx264 (BT.709, limited range, no B-frames, IDR first) and
    returns one Annex-B access unit per frame."""
    h, w, _ = frames[0].shape
    raw = b"".join(np.ascontiguousarray(f).tobytes() for f in frames)
    profile = "high444" if chroma == "yuv444p" else "high"
    out = _ffmpeg(
        [
            "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", "30", "-i", "-",
            "-vf", "scale=out_color_matrix=bt709:out_range=tv",
            "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-profile:v", profile,
            "-pix_fmt", chroma, "-crf", str(crf), "-x264-params", "aud=1:sliced-threads=0:threads=1",
            "-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709", "-color_range", "tv",
            "-f", "h264", "-",
        ],
        raw,
    )
    return split_access_units(out)


def split_access_units(stream: bytes):
    """Splits an Annex-B stream at its access unit delimiters (NAL type 9)."""
    starts = []
    i = 0
    n = len(stream)
    while i + 3 < n:
        if stream[i] == 0 and stream[i + 1] == 0 and stream[i + 2] == 1:
            nal_type = stream[i + 3] & 0x1F
            begin = i - 1 if i > 0 and stream[i - 1] == 0 else i
            if nal_type == 9:
                starts.append(begin)
            i += 3
        else:
            i += 1
    starts.append(n)
    return [stream[a:b] for a, b in zip(starts, starts[1:])]


def jpeg(rgb, quality=2):
    """A baseline JPEG of an RGB image (ffmpeg's mjpeg, 4:4:4, -q:v 2 ≈ very high quality)."""
    h, w, _ = rgb.shape
    return _ffmpeg(
        [
            "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-i", "-",
            "-frames:v", "1", "-c:v", "mjpeg", "-pix_fmt", "yuvj444p", "-q:v", str(quality), "-f", "mjpeg", "-",
        ],
        np.ascontiguousarray(rgb).tobytes(),
    )


def psnr(a, b):
    """PSNR in dB over all RGB channels of two equally sized uint8 images."""
    if a.shape != b.shape:
        raise AssertionError(f"size differs: {a.shape} vs {b.shape}")
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def decode_data_url(url: str):
    head, _, data = url.partition(",")
    if not head.startswith("data:image/png;base64"):
        raise AssertionError(f"not a PNG data URL: {head}")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB"))


def read_image(path_or_bytes):
    src = io.BytesIO(path_or_bytes) if isinstance(path_or_bytes, bytes) else path_or_bytes
    return np.asarray(Image.open(src).convert("RGB"))
