"""Index kinds: ``hosted`` (and, later, ``proxy`` and ``group``) behind one protocol."""
