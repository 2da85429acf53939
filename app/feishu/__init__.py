"""The Feishu platform: protocol only, no business rules."""
