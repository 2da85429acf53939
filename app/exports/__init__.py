"""Mirrors of OpenClaw's records in places teams build their own views (Feishu Bitable)."""
