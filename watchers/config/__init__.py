"""Configuration: config.toml -> a validated, frozen Config; errors name the file and line or key.

Owns the schema (every key, its type and default) and duration parsing, and the feed
lists of other readers: OPML read and written (opml.py), what an import adds (importing.py)
and the edit of config.toml that keeps its comments (edit.py). Imports only
watchers.models and watchers.errors.
"""
