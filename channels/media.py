"""MMS media checks: allowed types, size limits per carrier profile, image recompression.

Relais hosts no media: a message's attachments are addresses, and the delivery engine hands them to the
provider as they are (the provider and the phone fetch them; Relais never does when sending). What this
module checks is read by the template editor's "Check attachment" (``campaigns.template_check.inspect_media``),
which fetches one attachment on a marketer's request and calls :func:`prepare_media` with its bytes: the type
(and that image bytes match it), and whether it fits the carrier profile's limit. An image over the limit is
recompressed (JPEG quality first, then dimensions) only to say how small a copy would fit; other kinds cannot
be shrunk and are refused with :class:`~core.errors.PayloadTooLarge`.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Annotated, Literal

from PIL import Image, ImageOps, UnidentifiedImageError
from pydantic import Field

from core.errors import PayloadTooLarge, ValidationFailed

MediaKind = Literal["image", "video", "audio", "vcard"]

#: An attachment's address: http(s) with a host, nothing else. The provider and the phone fetch it (Relais does not),
#: so ``file:``, ``javascript:``, ``data:`` and the like are refused when the message is accepted.
MediaUrl = Annotated[str, Field(min_length=8, max_length=2000, pattern=r"^https?://[^\s/?#@]+(?:[/?#]\S*)?$")]

#: Content types MMS carriers accept, by kind (aliases normalised by :func:`normalize_content_type`).
ALLOWED_CONTENT_TYPES: dict[str, MediaKind] = {
    "image/jpeg": "image",
    "image/png": "image",
    "image/gif": "image",
    "video/mp4": "video",
    "video/3gpp": "video",
    "audio/mpeg": "audio",
    "audio/amr": "audio",
    "audio/mp4": "audio",
    "text/vcard": "vcard",
}
_ALIASES = {
    "image/jpg": "image/jpeg",
    "image/pjpeg": "image/jpeg",
    "audio/mp3": "audio/mpeg",
    "audio/x-m4a": "audio/mp4",
    "text/x-vcard": "text/vcard",
    "text/directory": "text/vcard",
}
_PIL_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif", "MPO": "image/jpeg"}

KB = 1024
MB = 1024 * KB
#: Largest image (pixels) decoded: a 24-megapixel camera's. A few MB of PNG can declare 169 million pixels (one
#: colour compresses to nothing); decoding and shrinking that took 97 s and 2.8 GB in one request, so a handful of
#: template media checks exhausted the server. Checked from the header, before any pixel is decoded.
MAX_PIXELS = 25_000_000

#: Largest attachment (bytes) each carrier profile delivers reliably. ``default`` is the
#: conservative limit for unknown carriers; the others come from carrier and Vonage guidance
#: (Vonage's Messages API accepts up to 5 MB and adapts media for US carriers itself).
CARRIER_LIMITS: dict[str, int] = {
    "default": 600 * KB,
    "us-att": 1 * MB,
    "us-tmobile": 1 * MB,
    "us-verizon": 1200 * KB,
    "vonage-messages": 5 * MB,
}

_JPEG_QUALITIES = (85, 75, 65, 55, 45, 35)
_SCALE_STEP = 0.75
_MIN_SIDE = 160


@dataclass(frozen=True)
class PreparedMedia:
    """Media ready to send: possibly re-encoded bytes and their (possibly new) content type."""

    content: bytes
    content_type: str
    kind: MediaKind
    resized: bool
    width: int | None = None
    height: int | None = None

    @property
    def size(self) -> int:
        return len(self.content)


def normalize_content_type(content_type: str) -> str:
    """Lower-case, drop parameters, map common aliases (``image/jpg`` → ``image/jpeg``)."""
    base = content_type.split(";", 1)[0].strip().lower()
    return _ALIASES.get(base, base)


def media_kind(content_type: str) -> MediaKind:
    """The MMS kind of ``content_type``.

    Raises:
        ValidationFailed: the type is not one MMS carriers accept.
    """
    normalized = normalize_content_type(content_type)
    kind = ALLOWED_CONTENT_TYPES.get(normalized)
    if kind is None:
        allowed = ", ".join(sorted(ALLOWED_CONTENT_TYPES))
        raise ValidationFailed(
            f"media type {content_type!r} is not accepted for MMS (allowed: {allowed})",
            errors=[{"field": "media.content_type", "reason": "unsupported_type"}],
        )
    return kind


def size_limit(profile: str) -> int:
    """Byte limit of a carrier profile, the ``default`` one for unknown profiles."""
    return CARRIER_LIMITS.get(profile, CARRIER_LIMITS["default"])


def prepare_media(content: bytes, content_type: str, *, profile: str = "default") -> PreparedMedia:
    """Check one attachment and shrink it when it is an image over the profile's limit.

    Args:
        content: the attachment bytes.
        content_type: the declared type; for images the bytes must match it.
        profile: a key of :data:`CARRIER_LIMITS`.

    Raises:
        ValidationFailed: unsupported type, or image bytes that do not decode as the declared type.
        PayloadTooLarge: non-image (or animated) media over the limit, an image of more than
            :data:`MAX_PIXELS`, or one that stays over the limit even at the smallest size tried.
    """
    kind = media_kind(content_type)
    normalized = normalize_content_type(content_type)
    limit = size_limit(profile)
    if kind != "image":
        if len(content) > limit:
            raise PayloadTooLarge(
                f"{kind} attachment is {len(content) / KB:.0f} KB, over the {limit / KB:.0f} KB limit of "
                f"carrier profile {profile!r}; only images can be shrunk automatically"
            )
        return PreparedMedia(content=content, content_type=normalized, kind=kind, resized=False)
    image = _open_image(content, normalized)
    if len(content) <= limit:
        return PreparedMedia(
            content=content,
            content_type=normalized,
            kind="image",
            resized=False,
            width=image.width,
            height=image.height,
        )
    if getattr(image, "is_animated", False):
        raise PayloadTooLarge(
            f"animated image is {len(content) / KB:.0f} KB, over the {limit / KB:.0f} KB limit of carrier "
            f"profile {profile!r}; animations are not recompressed, send a smaller file"
        )
    return _shrink(image, limit=limit, original_size=len(content), profile=profile)


def _open_image(content: bytes, content_type: str) -> Image.Image:
    try:
        image = Image.open(io.BytesIO(content))  # reads the header only
        if image.width * image.height > MAX_PIXELS:
            raise PayloadTooLarge(
                f"image of {image.width}×{image.height} pixels ({image.width * image.height / 1e6:.0f} megapixels) "
                f"is over the {MAX_PIXELS / 1e6:.0f} megapixels read; send a smaller one"
            )
        image.load()
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise ValidationFailed(
            f"media declared {content_type} does not decode as an image ({exc.__class__.__name__})",
            errors=[{"field": "media.content", "reason": "undecodable"}],
        ) from None
    actual = _PIL_FORMATS.get(image.format or "")
    if actual != content_type:
        raise ValidationFailed(
            f"media declared {content_type} is actually {image.format or 'unknown'}",
            errors=[{"field": "media.content_type", "reason": "type_mismatch"}],
        )
    return image


def _flatten(image: Image.Image) -> Image.Image:
    image = ImageOps.exif_transpose(image)
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def _shrink(image: Image.Image, *, limit: int, original_size: int, profile: str) -> PreparedMedia:
    current = _flatten(image)
    while True:
        for quality in _JPEG_QUALITIES:
            buffer = io.BytesIO()
            current.save(buffer, format="JPEG", quality=quality, optimize=True, progressive=True)
            if buffer.tell() <= limit:
                return PreparedMedia(
                    content=buffer.getvalue(),
                    content_type="image/jpeg",
                    kind="image",
                    resized=True,
                    width=current.width,
                    height=current.height,
                )
        width, height = int(current.width * _SCALE_STEP), int(current.height * _SCALE_STEP)
        if min(width, height) < _MIN_SIDE:
            raise PayloadTooLarge(
                f"image of {original_size / KB:.0f} KB cannot be brought under the {limit / KB:.0f} KB limit "
                f"of carrier profile {profile!r}"
            )
        current = current.resize((width, height), Image.Resampling.LANCZOS)
