"""Passeport's pure core: the data model, JSON-LD and RDFC-1.0, keys and DIDs, Data Integrity
proofs and verification reports. No network, no clock, no disk beyond packaged data."""
