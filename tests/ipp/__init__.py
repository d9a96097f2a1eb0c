"""Tests of the sans-I/O IPP codec (printhost.ipp.codec) and the IPP client."""
