"""Feeds: fetch (HTTP: deadline, size cap, conditional GET), prescan (new entries only), parse.

Turns a feed URL into parsed Items. Imports watchers.models, watchers.errors and
watchers.config; never the later stages.
"""
