"""Tests of the sans-I/O IPP codec (printhost.ipp.decoder and .encoder) and the IPP client."""
