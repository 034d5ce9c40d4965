"""The people split: labelled real clips (boxes and ids of every visible person) and the metrics
of finding them (recall, precision, ghost tracks, duplicates, IDF1, id switches)."""
