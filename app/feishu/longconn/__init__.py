"""Feishu long connection (WebSocket) transport: feishu-protocol.md section 6."""
