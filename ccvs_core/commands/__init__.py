"""One module per ``ccvs`` sub-command; each has ``add_parser(subparsers)`` and sets ``func``."""
