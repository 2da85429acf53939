"""The knowledge base: markdown articles with version history and a Chinese + English search index."""
