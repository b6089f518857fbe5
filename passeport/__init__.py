"""The ``passeport`` command line: keys, signing and offline verification, node and wallet."""
