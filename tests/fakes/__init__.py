"""Local servers that speak real protocols, for tests (feishu_server: the Feishu server API)."""
