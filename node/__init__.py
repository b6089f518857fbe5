"""The member node (one per organisation)."""
