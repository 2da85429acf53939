"""Upload an image for messages and cards: POST /open-apis/im/v1/images (multipart), answer image_key."""
from __future__ import annotations

from typing import Any

import requests

PATH = "/open-apis/im/v1/images"
MAX_BYTES = 10 * 1024 * 1024  # feishu-protocol.md 4.10


class ImageUploadFailed(Exception):
    """The platform did not take the image; reason says why."""


def upload_png(client: Any, png: bytes, *, timeout: float = 15.0) -> str:
    """The image_key of png uploaded as image_type=message with the client's tenant token."""
    if len(png) > MAX_BYTES:
        raise ImageUploadFailed(f"image is {len(png)} bytes; the limit is {MAX_BYTES}")
    try:
        response = requests.post(
            client.base_url + PATH, headers={"Authorization": f"Bearer {client.tenant_access_token()}"},
            data={"image_type": "message"}, files={"image": ("graph.png", png, "image/png")}, timeout=timeout,
        )
        body = response.json()
    except (requests.RequestException, ValueError) as exc:
        raise ImageUploadFailed(f"upload failed: {type(exc).__name__}") from None
    key = (body.get("data") or {}).get("image_key") if isinstance(body, dict) and body.get("code") == 0 else None
    if not isinstance(key, str) or not key:
        code = body.get("code") if isinstance(body, dict) else None
        raise ImageUploadFailed(f"upload refused: HTTP {response.status_code} code {code}")
    return key
