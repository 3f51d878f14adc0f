"""Stories: one story, one alert. Merges reports of the same event (MinHash/LSH, exact Jaccard).

Pure: takes Items and Detections, returns what to do with each (new story, edit, reply).
Imports watchers.models only.
"""
