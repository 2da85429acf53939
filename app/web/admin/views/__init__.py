"""The /admin pages, one module per area; importing them registers their routes on the blueprint."""
from app.web.admin.views import (  # noqa: F401
    alerts,
    audit,
    console,
    executions,
    inventory,
    kb,
    overview,
    silences,
    system,
    tokens,
    usage,
)
