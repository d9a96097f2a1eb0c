"""Tests of the delivery backends (printhost.dispatch.backends) against real peers."""
