"""End-to-end tests: printhost as a subprocess, real clients in front, real printers behind."""
