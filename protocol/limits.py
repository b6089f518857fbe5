"""Named limits. Each one bounds the work an untrusted input can cause."""

from __future__ import annotations

#: Largest JSON document (credential, presentation, DID document) accepted, in bytes.
MAX_DOCUMENT_BYTES = 4 * 1024 * 1024

#: Deepest JSON nesting accepted (objects and arrays), to bound recursion.
MAX_JSON_DEPTH = 64

#: Most RDF quads one document may produce when converted to a dataset.
MAX_QUADS = 50_000

#: Most blank nodes in one dataset handed to RDFC-1.0.
MAX_BLANK_NODES = 10_000

#: RDFC-1.0 work factor: the Hash N-Degree Quads algorithm may be entered at most
#: ``len(blank nodes) ** RDFC_MAX_WORK_FACTOR`` times before the dataset is refused as a poison
#: graph (RDFC-1.0 section 4.4, "Handling of poison graphs"). Three admits every honest test of
#: the W3C suite.
RDFC_MAX_WORK_FACTOR = 3

#: Hard ceiling on Hash N-Degree Quads calls whatever the number of blank nodes. Each call costs
#: about 25 microseconds; the heaviest honest test of the W3C suite needs under 500.
RDFC_MAX_DEEP_ITERATIONS = 20_000

#: Deepest recursion of Hash N-Degree Quads (nested blank nodes sharing one gossip path), so that
#: a long list of identical items cannot exhaust the stack or quadratic memory.
RDFC_MAX_RECURSION_DEPTH = 256

#: Most proofs accepted on one document (proof sets and chains).
MAX_PROOFS = 16

#: Most credentials in one presentation.
MAX_CREDENTIALS_PER_PRESENTATION = 64

#: Most JSON-LD contexts one document may reference (including scoped ones).
MAX_CONTEXTS = 32

#: Longest multibase string accepted for a key or a proof value, in characters.
MAX_MULTIBASE_CHARS = 64 * 1024

#: Largest Bitstring Status List accepted, in bits (decompressed), to stop gzip bombs.
MAX_STATUS_LIST_BITS = 16 * 1024 * 1024 * 8

#: Fewest entries a Bitstring Status List may hold, in entries (bits / statusSize). BSL 3.2 sets
#: 131,072 (16 KB at one bit per entry) for group privacy; an ecosystem may lower it, so the
#: status functions take it as a parameter that defaults to this value.
MIN_STATUS_LIST_ENTRIES = 131_072

#: Largest ``statusSize`` accepted, in bits per entry. An entry of n bits needs 2**n
#: ``statusMessage`` items, so this bounds the message list a credential can ask us to check.
MAX_STATUS_SIZE_BITS = 16

#: Most entries in one ``credentialStatus`` array (VC 2.0 allows a list), so a credential cannot
#: ask for unbounded status checks.
MAX_STATUS_ENTRIES = 16

#: Clock skew tolerated when comparing validity dates and proof creation times, in seconds.
MAX_CLOCK_SKEW_SECONDS = 300

#: Most JSON Pointers in one ecdsa-sd-2023 mandatory or selective pointer list. Each pointer
#: costs a walk of the document and a JSON-LD conversion of the selection it grows, so a base
#: proof read from an untrusted holder copy cannot ask for unbounded work.
MAX_SD_POINTERS = 1024

# -- federation (specs/federation.md) -----------------------------------------------------------

#: Largest registry credential accepted, in bytes of its RFC 8785 form. A member entry takes
#: about 600 bytes, so this holds networks of well over a thousand members.
MAX_REGISTRY_BYTES = 2 * 1024 * 1024

#: Most members (current and former) one registry may list, to bound the work of checking it.
MAX_REGISTRY_MEMBERS = 2_000

#: Most keys a registry may pin for one member (current and retired keys).
MAX_MEMBER_KEYS = 16

#: Largest federation event accepted, in bytes of its RFC 8785 form (envelope, payload and
#: proof). An achievement with its criteria and alignments fits in a few kilobytes; an
#: endorsement credential in under 20 KB.
MAX_EVENT_BYTES = 256 * 1024

#: Largest event payload accepted, in bytes of its RFC 8785 form.
MAX_EVENT_PAYLOAD_BYTES = 192 * 1024

#: Most events one feed page may carry, so that one pull is bounded in memory and time.
MAX_FEED_PAGE_EVENTS = 500

#: Longest validity of an invitation to join a network, in seconds (30 days).
MAX_INVITATION_LIFETIME_SECONDS = 30 * 24 * 3600

#: Longest validity of an HTTP message signature (``expires`` - ``created``), in seconds. Short,
#: because the replay cache must remember every nonce until its signature expires.
MAX_HTTP_SIGNATURE_LIFETIME_SECONDS = 300

#: Largest HTTP request body whose Content-Digest is checked, in bytes.
MAX_SIGNED_BODY_BYTES = 16 * 1024 * 1024

#: Largest offline verification bundle accepted, in bytes of its RFC 8785 form: thirty members
#: with ten signed 131,072-entry status lists each stay under 10 MB.
MAX_BUNDLE_BYTES = 64 * 1024 * 1024

#: Most DID documents, status lists and contexts one bundle may carry (each counted).
MAX_BUNDLE_ENTRIES = 20_000
