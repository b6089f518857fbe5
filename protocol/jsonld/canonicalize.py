"""JSON-LD to RDF and RDFC-1.0 canonical N-Quads, offline and lossless.

Interface (implemented in this module):

* ``to_dataset(document, *, loader) -> list[Quad]``: JSON-LD to RDF (``rdfDirection`` unset,
  ``produceGeneralizedRdf`` false, base IRI null). Raises ``DataLossError`` when a term or a
  relative IRI would be dropped, ``DocumentLoaderError`` for a context outside the loader,
  ``MalformedError`` for invalid JSON-LD.
* ``canonicalize(document, *, loader) -> str``: RDFC-1.0 canonical N-Quads of ``to_dataset``.
"""
