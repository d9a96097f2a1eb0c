"""Real peers for tests: programs printhost talks to, started privately per test.

Every peer listens on 127.0.0.1 on a free port, keeps its files in its own temporary
directory and is stopped by its own process id (terminate, wait, kill) when the fixture
ends, so tests run in parallel under pytest-xdist without seeing each other.

- :mod:`peers.dbus` - a private D-Bus daemon (ippeveprinter insists on one);
- :mod:`peers.ippeveprinter` - CUPS's IPP Everywhere printer simulator;
- :mod:`peers.sink` - an AppSocket (port 9100) sink, hanging and refusing variants;
- :mod:`peers.cupsd` - a private CUPS scheduler;
- :mod:`peers.lpdserver` - CUPS's cups-lpd behind socat, feeding a private cupsd.

This package is imported as ``peers``: ``tests/`` has no ``__init__.py``, so pytest puts
``tests/`` itself on ``sys.path`` for test packages below it.
"""
