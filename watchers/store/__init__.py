"""Store: the only place with SQL. Items, feed states, the outbox, stories, events, mutes,
labels. One interface (base.py), two implementations: SQLite for one instance
(sqlite.py, tables.py), PostgreSQL shared by several (postgres.py, pgoutbox.py, pgsql.py,
versions.py); connect.py opens the one the config names, items.py applies identity.py's
rules through either, transfer.py copies SQLite into PostgreSQL.

Imports watchers.models and watchers.errors only; every other stage reaches the database
through the Store it is handed.
"""
