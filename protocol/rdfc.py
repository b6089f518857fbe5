"""RDF Dataset Canonicalization (RDFC-1.0), https://www.w3.org/TR/rdf-canon/.

Interface (implemented in this module):

* ``canonicalize(quads, *, hash_name="sha256", max_work_factor=RDFC_MAX_WORK_FACTOR)
  -> Canonical`` where ``Canonical`` has ``quads`` (relabelled ``_:c14nN``, sorted by their
  N-Quads line), ``issued`` (input blank-node label without ``_:`` -> canonical label without
  ``_:``), and ``nquads`` (the canonical N-Quads document).
* ``relabel(quads, label_map) -> list[Quad]`` replaces blank-node labels.
"""
