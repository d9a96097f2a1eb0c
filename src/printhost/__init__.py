"""printhost: one print destination for a whole organisation."""

__version__ = "0.1.0"
