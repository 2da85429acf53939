"""Alert sources: pure parse(payload) -> list[AlertIn] functions, one module per monitor."""
