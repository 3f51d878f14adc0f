"""Detection: text matching, the gazetteer, transfer cues, the reading of roles, the verdict, rules.

Pure: takes Items (and the data files under detection/data/) and returns Verdicts. Imports
watchers.models, watchers.errors and watchers.config; never feeds, stores or delivery.
"""
