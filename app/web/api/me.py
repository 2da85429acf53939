"""/api/v1/me: who the token belongs to."""
from __future__ import annotations

from typing import Any

from flask import jsonify

from app.inventory.schema import Role
from app.web.api import bp
from app.web.api.auth import current, requires


@bp.get("/me")
@requires(Role.USER)
def me() -> Any:
    """The token's account: login, role and the name audit records use."""
    user = current()
    return jsonify(login=user.login, name=user.name, role=str(user.role), actor=user.actor)
