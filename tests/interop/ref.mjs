// The reference client as a command-line tool, for Accord's interop tests and benchmark.
//
//   node --import ./register.mjs ref.mjs <command> [file]
//
// Commands read a JSON request on stdin (or a chain file named on the command line) and print
// one JSON answer on stdout. They use only the public API of @ltonetwork/lto (plus the static
// helpers EventChain uses to build ids, for v1 chains, which its constructor cannot make).

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import LTO, { Binary } from '@ltonetwork/lto';
import { Event, EventChain } from '@ltonetwork/lto/events';
import { secp256k1 } from '@noble/curves/secp256k1';
import { p256 } from '@noble/curves/p256';
import { sha256 } from '@noble/hashes/sha256';

const require = createRequire(import.meta.url);
const VERSION = require('@ltonetwork/lto/package.json').version;

function readStdin() {
  return JSON.parse(readFileSync(0, 'utf8'));
}

function account(spec, network) {
  const lto = new LTO(spec.network ?? network ?? 'T');
  const settings = { keyType: spec.keyType ?? 'ed25519' };
  if (spec.seed !== undefined) settings.seed = spec.seed;
  if (spec.privateKey !== undefined) settings.privateKey = spec.privateKey;
  if (spec.publicKey !== undefined) settings.publicKey = spec.publicKey;
  if (spec.nonce !== undefined) settings.nonce = spec.nonce;
  return lto.account(settings);
}

function describe(acc) {
  const out = { keyType: acc.keyType, publicKey: acc.publicKey, address: acc.address };
  if (acc.encryptKey?.publicKey) out.encryptKey = acc.encryptKey.publicKey.base58;
  try {
    out.privateKey = acc.privateKey;
  } catch {
    // a public-key-only account
  }
  return out;
}

function payload(spec) {
  switch (spec.kind) {
    case 'json':
      return [spec.data, spec.mediaType];
    case 'binary':
      return [Binary.fromBase64(spec.data), spec.mediaType];
    case 'text':
      return [new Binary(spec.data), spec.mediaType ?? 'text/plain'];
    default:
      throw new Error(`unknown payload kind ${spec.kind}`);
  }
}

function chainFacts(chain) {
  return {
    state: chain.state.base58,
    latestHash: chain.latestHash.base58,
    anchorMap: chain.anchorMap.map((a) => ({ key: a.key.base58, value: a.value.base58, signer: a.signer })),
  };
}

const commands = {
  // {accounts: [{seed?, privateKey?, keyType?, network?, nonce?}]} → [{publicKey, address, encryptKey, privateKey}]
  keys() {
    const request = readStdin();
    return request.accounts.map((spec) => describe(account(spec)));
  },

  // Builds and signs a chain. {network, seeds: [..], nonce, version: 1|2, events: [{signer, kind, data,
  // mediaType?, timestamp, attachments?: [{name, kind, data, mediaType?}]}], partialAfter?,
  // skipValidate?}. The first seed's account creates the chain.
  build() {
    const request = readStdin();
    const accounts = request.seeds.map((seed) => account({ seed }, request.network));
    const creator = accounts[0];
    let chain;
    if (request.version === 1) {
      const id = EventChain.buildId(0x41, request.network, Binary.fromBase58(creator.publicKey), EventChain.createNonce(request.nonce));
      chain = new EventChain(id);
    } else {
      chain = new EventChain(creator, request.nonce);
    }
    for (const spec of request.events) {
      const [data, mediaType] = payload(spec);
      const event = new Event(data, mediaType);
      for (const attachment of spec.attachments ?? []) {
        const [attachmentData, attachmentType] = payload(attachment);
        event.addAttachment(attachment.name, attachmentData, attachmentType);
      }
      event.timestamp = spec.timestamp;
      event.addTo(chain).signWith(accounts[spec.signer]);
    }
    if (!request.skipValidate) chain.validate();
    const facts = chainFacts(chain);
    let json = chain.toJSON();
    if (request.partialAfter !== undefined) {
      json = chain.startingAfter(chain.events[request.partialAfter]).toJSON();
    }
    return { chain: json, ...facts };
  },

  // Validates a chain file with EventChain.from(json).validate().
  validate(file) {
    const json = JSON.parse(readFileSync(file, 'utf8'));
    try {
      const chain = EventChain.from(json);
      chain.validate();
      return { valid: true, ...chainFacts(chain) };
    } catch (error) {
      return { valid: false, error: error.message };
    }
  },

  // {seed, network, ciphertext (base58)} → {plaintext (base64)}
  decrypt() {
    const request = readStdin();
    const acc = account({ seed: request.seed }, request.network);
    return { plaintext: acc.decrypt(Binary.fromBase58(request.ciphertext)).base64 };
  },

  // {publicKey, plaintext (base64)} → {ciphertext (base58)}
  encrypt() {
    const request = readStdin();
    const acc = account({ publicKey: request.publicKey });
    return { ciphertext: acc.encrypt(Binary.fromBase64(request.plaintext)).base58 };
  },

  // {keyType, privateKey | seed, messages: [base64]} → {publicKey, signatures: [base58]}
  sign() {
    const request = readStdin();
    const acc = account(request);
    return {
      publicKey: acc.publicKey,
      signatures: request.messages.map((m) => acc.sign(Binary.fromBase64(m)).base58),
    };
  },

  // {keyType, publicKey, checks: [{message (base64), signature (base58)}]} → {valid: [bool]}
  verify() {
    const request = readStdin();
    const acc = account({ keyType: request.keyType, publicKey: request.publicKey });
    return {
      valid: request.checks.map((c) => {
        try {
          return acc.verify(Binary.fromBase64(c.message), Binary.fromBase58(c.signature));
        } catch {
          return false;
        }
      }),
    };
  },

  // Validates a chain of ECDSA-signed events as EventChain.validate() does, but checks each
  // signature with @noble/curves directly: the reference client's own ECDSA path hashes
  // `Binary` subarrays wrongly ("offset is out of bounds") for any message over 64 bytes, so
  // it can neither sign nor verify such events. The binary form is still the reference's own
  // (Event.toBinary), and the curve code is the one the reference client calls.
  'ecdsa-validate'(file) {
    const chain = EventChain.from(JSON.parse(readFileSync(file, 'utf8')));
    let previous = null;
    try {
      chain.events.forEach((event, index) => {
        if (!event.verifyHash()) throw new Error(`Invalid hash of event ${index}`);
        const expected = index === 0 ? Binary.fromBase58(chain.id).hash() : previous;
        if (event.previous.hex !== expected.hex) throw new Error(`Event ${index} doesn't fit onto the chain`);
        const curve = { secp256k1, secp256r1: p256 }[event.signKey.keyType];
        if (!curve) throw new Error(`event ${index} is not ECDSA-signed`);
        const digest = sha256(new Uint8Array(event.toBinary()));
        const ok = curve.verify(new Uint8Array(event.signature), digest, new Uint8Array(event.signKey.publicKey));
        if (!ok) throw new Error(`Invalid signature of event ${index}`);
        previous = event.hash;
      });
      return { valid: true, ...chainFacts(chain) };
    } catch (error) {
      return { valid: false, error: error.message };
    }
  },

  // Times reading and validating a chain file: JSON.parse + EventChain.from, then validate().
  bench(file) {
    const text = readFileSync(file, 'utf8');
    const start = process.hrtime.bigint();
    const chain = EventChain.from(JSON.parse(text));
    const parsed = process.hrtime.bigint();
    let valid = true;
    let error;
    try {
      chain.validate();
    } catch (e) {
      valid = false;
      error = e.message;
    }
    const done = process.hrtime.bigint();
    return {
      version: VERSION,
      events: chain.events.length,
      valid,
      error,
      parseMs: Number(parsed - start) / 1e6,
      validateMs: Number(done - parsed) / 1e6,
    };
  },
};

const [command, file] = process.argv.slice(2);
if (!commands[command]) {
  process.stderr.write(`usage: ref.mjs ${Object.keys(commands).join('|')} [file]\n`);
  process.exit(2);
}
try {
  process.stdout.write(JSON.stringify(commands[command](file)) + '\n');
} catch (error) {
  process.stderr.write(`${error.stack ?? error}\n`);
  process.exit(1);
}
