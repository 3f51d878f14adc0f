"""Store: the only place with SQL. Items, feed states, the outbox, stories, events, mutes.

Imports watchers.models and watchers.errors only; every other stage reaches the database
through the Store it is handed.
"""
