"""Pipeline stages (pure cores with I/O at the edges) and the ``volcast`` CLI.

Nothing imports this package; it imports everything else.
"""
