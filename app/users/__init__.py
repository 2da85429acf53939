"""People: Feishu identities and their roles."""
