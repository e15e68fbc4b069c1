"""MMS media checks and image recompression with Pillow."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from channels.media import CARRIER_LIMITS, KB, media_kind, prepare_media, size_limit
from core.errors import PayloadTooLarge, ValidationFailed
from tests.helpers import auth_headers


def noisy_image(width: int, height: int, *, fmt: str, mode: str = "RGB", seed: int = 0, **save: object) -> bytes:
    """Random pixels compress badly, so the file is large for its dimensions."""
    channels = 4 if mode == "RGBA" else 3
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, channels), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels, mode).save(buffer, format=fmt, **save)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("content_type", "kind"),
    [
        ("image/jpeg", "image"),
        ("image/jpg", "image"),
        ("IMAGE/PNG; charset=binary", "image"),
        ("image/gif", "image"),
        ("video/mp4", "video"),
        ("video/3gpp", "video"),
        ("audio/mpeg", "audio"),
        ("audio/amr", "audio"),
        ("audio/mp4", "audio"),
        ("text/vcard", "vcard"),
        ("text/x-vcard", "vcard"),
    ],
)
def test_allowed_kinds(content_type: str, kind: str) -> None:
    assert media_kind(content_type) == kind


@pytest.mark.parametrize("content_type", ["application/pdf", "image/webp", "video/quicktime", "text/plain"])
def test_unsupported_types_are_refused(content_type: str) -> None:
    with pytest.raises(ValidationFailed, match="not accepted for MMS") as caught:
        media_kind(content_type)
    assert caught.value.errors[0]["reason"] == "unsupported_type"


def test_carrier_table() -> None:
    assert size_limit("default") == 600 * KB
    assert size_limit("us-att") == CARRIER_LIMITS["us-att"] == 1024 * KB
    assert size_limit("vonage-messages") == 5 * 1024 * KB
    assert size_limit("no-such-carrier") == 600 * KB


def test_small_media_pass_unchanged() -> None:
    jpeg = noisy_image(64, 48, fmt="JPEG")
    prepared = prepare_media(jpeg, "image/jpg")
    assert (prepared.content, prepared.content_type, prepared.resized) == (jpeg, "image/jpeg", False)
    assert (prepared.width, prepared.height) == (64, 48)
    video = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 1000
    assert prepare_media(video, "video/mp4").content == video


def test_large_png_is_recompressed_to_jpeg_under_limit_keeping_aspect() -> None:
    png = noisy_image(900, 600, fmt="PNG", mode="RGBA")
    assert len(png) > 600 * KB
    prepared = prepare_media(png, "image/png")
    assert prepared.resized and prepared.content_type == "image/jpeg"
    assert prepared.size <= 600 * KB
    assert prepared.width is not None and prepared.height is not None
    assert abs(prepared.width / prepared.height - 1.5) < 0.01
    reopened = Image.open(io.BytesIO(prepared.content))
    assert reopened.format == "JPEG" and reopened.size == (prepared.width, prepared.height)


def test_dimensions_step_down_when_quality_is_not_enough(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(CARRIER_LIMITS, "tiny", 12 * KB)
    jpeg = noisy_image(400, 300, fmt="JPEG", quality=95)
    prepared = prepare_media(jpeg, "image/jpeg", profile="tiny")
    assert prepared.size <= 12 * KB
    assert prepared.width is not None and prepared.height is not None
    assert 160 <= prepared.width < 400  # noise needs fewer pixels, not just a lower quality
    assert abs(prepared.width / prepared.height - 4 / 3) < 0.02


def test_image_that_cannot_shrink_enough_is_payload_too_large(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(CARRIER_LIMITS, "absurd", 1 * KB)
    with pytest.raises(PayloadTooLarge, match="cannot be brought under the 1 KB limit"):
        prepare_media(noisy_image(400, 300, fmt="PNG"), "image/png", profile="absurd")


def test_bigger_profile_keeps_the_original() -> None:
    png = noisy_image(900, 600, fmt="PNG")
    assert 600 * KB < len(png) < 5 * 1024 * KB
    prepared = prepare_media(png, "image/png", profile="vonage-messages")
    assert not prepared.resized and prepared.content == png


def test_oversized_non_image_is_payload_too_large() -> None:
    video = b"\x00" * (700 * KB)
    with pytest.raises(PayloadTooLarge, match=r"video attachment is 700 KB, over the 600 KB limit") as caught:
        prepare_media(video, "video/mp4")
    assert caught.value.status_code == 413
    assert prepare_media(video, "video/mp4", profile="us-att").size == 700 * KB


def test_oversized_animation_is_refused() -> None:
    rng = np.random.default_rng(1)
    frames = [Image.fromarray(rng.integers(0, 256, (300, 300), dtype=np.uint8), "L").convert("P") for _ in range(8)]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:])
    assert len(buffer.getvalue()) > 600 * KB
    with pytest.raises(PayloadTooLarge, match="animations"):
        prepare_media(buffer.getvalue(), "image/gif")


def test_image_bytes_must_match_declared_type() -> None:
    with pytest.raises(ValidationFailed, match="does not decode"):
        prepare_media(b"not an image at all", "image/png")
    with pytest.raises(ValidationFailed, match="actually PNG"):
        prepare_media(noisy_image(10, 10, fmt="PNG"), "image/jpeg")


def test_exif_orientation_is_applied_when_recompressing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(CARRIER_LIMITS, "small", 40 * KB)
    pixels = np.random.default_rng(2).integers(0, 256, (200, 300, 3), dtype=np.uint8)
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° clockwise to display
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=95, exif=exif)
    assert len(buffer.getvalue()) > 40 * KB
    prepared = prepare_media(buffer.getvalue(), "image/jpeg", profile="small")
    assert prepared.resized and prepared.size <= 40 * KB
    assert prepared.width is not None and prepared.height is not None
    assert prepared.height > prepared.width  # stored landscape, displayed portrait


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "javascript:alert(document.cookie)",
        "data:image/png;base64,iVBORw0KGgo=",
        "ftp://files.example.com/a.jpg",
        "https://user@evil.example/a.jpg",
    ],
)
def test_media_urls_must_be_http_with_a_host(app_client: TestClient, url: str) -> None:
    response = app_client.post(
        "/api/v1/messages",
        json={"to": "+33612345678", "body": "hi", "media": [{"url": url, "content_type": "image/jpeg"}]},
        headers=auth_headers("admin"),
    )
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == ["media.0.url"]


def _flat_png(width: int, height: int) -> bytes:
    """A valid one-colour RGB PNG built row by row (the image itself is never held in memory)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    packer = zlib.compressobj(9)
    row = b"\x00" + b"\x80" * (3 * width)
    pixels = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def test_an_image_of_too_many_pixels_is_refused_before_it_is_decoded() -> None:
    """A 90 KB PNG declaring 30 megapixels: decoding and shrinking such files (169 megapixels in 3.8 MB took 97 s and
    2.8 GB) let a few template media checks exhaust the server; the header alone refuses it now."""
    png = _flat_png(6000, 5000)
    assert len(png) < 600 * KB
    with pytest.raises(PayloadTooLarge, match=r"6000×5000 pixels \(30 megapixels\) is over the 25 megapixels"):
        prepare_media(png, "image/png")
    assert prepare_media(_flat_png(5000, 5000), "image/png").width == 5000  # 25 megapixels still read
