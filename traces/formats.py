"""The trace formats the readers know, by name, and the embedding width recorded for a format
that stores none: apart from the readers (traces/sources.py), so that the command line's parser
can list them without importing every reader."""

FORMATS = ("native", "meta", "criteo", "dlrm", "dlrm-bin", "dlrm-dist")
# Embedding dimension recorded for formats that do not store one. Unit: elements per row.
# Source: none, those files do not record it; 64 is the dimension of the m1_prod and m2_prod
# presets. A placeholder that the user overrides with --dim.
DEFAULT_DIM = 64
