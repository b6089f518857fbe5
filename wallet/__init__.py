"""The earner's wallet."""
