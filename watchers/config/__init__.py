"""Configuration: config.toml -> a validated, frozen Config; errors name the file and line or key.

Owns the schema (every key, its type and default) and duration parsing. Imports only
watchers.models and watchers.errors.
"""
