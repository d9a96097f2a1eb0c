"""Test support: sample documents, ipptool runner, printhost server and CUPS client helpers.

``tests/`` is on ``sys.path`` (it has no ``__init__.py``), so tests import
``support.documents``, ``support.ipptool``, ``support.server`` and
``support.cups_clients`` directly; fixtures live in ``tests/conftest.py``.
"""
