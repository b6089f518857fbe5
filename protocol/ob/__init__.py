"""Open Badges 3.0."""
