"""Upload an image for messages and cards: POST /open-apis/im/v1/images (multipart), answer image_key."""
from __future__ import annotations

from typing import Any

from app.feishu.errors import FeishuError

PATH = "/open-apis/im/v1/images"
MAX_BYTES = 10 * 1024 * 1024  # feishu-protocol.md 4.10


class ImageUploadFailed(Exception):
    """The platform did not take the image; reason says why."""


def upload_png(client: Any, png: bytes) -> str:
    """The image_key of png uploaded as image_type=message, through the client (its token, limits and retries)."""
    if len(png) > MAX_BYTES:
        raise ImageUploadFailed(f"image is {len(png)} bytes; the limit is {MAX_BYTES}")
    try:
        return str(client.upload_image(png, filename="graph.png"))
    except FeishuError as exc:
        raise ImageUploadFailed(f"upload refused: {exc}") from None
