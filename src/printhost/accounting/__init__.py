"""Accounting: money, cost schedules and the double-entry ledger (pure domain code).

Nothing here does I/O: the store keeps accounts, transactions and reservations; the
services (judge, dispatcher) decide with these functions and write through the store.
"""
