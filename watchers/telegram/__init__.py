"""Telegram: message layout (HTML within Telegram's limits), digests, and outbox delivery.

Imports watchers.models, watchers.config and watchers.store. The admin commands sit with
the orchestration (watchers/admin.py, watchers/answers.py): they act on the running App.
"""
