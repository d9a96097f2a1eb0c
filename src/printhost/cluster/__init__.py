"""Several printhost nodes on one store: who is there (``nodes``: heartbeats and the pure
rules for reading them) and the ``[cluster]`` settings (``settings``)."""
