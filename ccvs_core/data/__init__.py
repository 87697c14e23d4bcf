"""Datasets in the ccvs folder format (docs/dataset-format.md): reading, checking, importing, toyworld."""
