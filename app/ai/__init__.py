"""The Qwen3 assistant: model client, metering, memory, limits, grounded answers with read-only tools."""
