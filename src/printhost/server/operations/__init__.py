"""IPP operation handlers, one short function per operation, gathered in ``OPERATIONS``."""
