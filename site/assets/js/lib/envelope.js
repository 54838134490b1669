// The beian envelope, format version 2, written with WebCrypto in the browser.
//
// The byte layout is specified in developers/envelope-format and implemented in
// Python by crypto/format.py and crypto/envelope.py; both pass crypto/vectors.
// A file is read a block (16 chunks) at a time with Blob.slice(), and the sealed
// bytes are handed on as they are made, so memory stays constant however large
// the file. Version 2 has no plaintext digest: nothing is hashed in JavaScript.

export const MAGIC = new TextEncoder().encode("BEIANENV");
export const VERSION = 2;
export const CHUNK_SIZE = 64 * 1024;
export const NONCE_PREFIX_SIZE = 7;
export const FILE_KEY_SIZE = 32;
export const TAG_SIZE = 16;
export const RSA_BITS = 3072;
const RSA_OAEP_KIND = 1;
const MAX_RECIPIENTS = 16;
const MAX_CONTEXT_FIELD = 1024;
const CONTEXT_FIELDS = ["provider", "filing", "document_id", "document_type"];
const BODY_KEY_INFO = new TextEncoder().encode("beian-envelope/v1 body key");
const COMMITMENT_INFO = new TextEncoder().encode("beian-envelope/v1 commitment");
const BLOCK_CHUNKS = 16; // chunks read with one Blob.slice() and sealed concurrently
const subtle = () => {
  if (!globalThis.crypto || !globalThis.crypto.subtle) {
    throw new EnvelopeError("no_webcrypto", "WebCrypto is unavailable (a secure context is needed)");
  }
  return globalThis.crypto.subtle;
};

export class EnvelopeError extends Error {
  constructor(code, message) {
    super(message);
    this.name = "EnvelopeError";
    this.code = code;
  }
}

export function concat(parts) {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

function u8(value) {
  return Uint8Array.of(value);
}

function u16(value) {
  return Uint8Array.of(value >>> 8, value & 0xff);
}

function u32(value) {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, value);
  return out;
}

export async function sha256(bytes) {
  return new Uint8Array(await subtle().digest("SHA-256", bytes));
}

async function hkdf(fileKey, salt, info) {
  const key = await subtle().importKey("raw", fileKey, "HKDF", false, ["deriveBits"]);
  const bits = await subtle().deriveBits({ name: "HKDF", hash: "SHA-256", salt, info }, key, 256);
  return new Uint8Array(bits);
}

/** Magic, version, chunk size, nonce prefix and the context: the chunks' associated data. */
export function encodePreamble(chunkSize, noncePrefix, context) {
  const encoder = new TextEncoder();
  const strings = CONTEXT_FIELDS.map((name) => {
    const value = context[name];
    const bytes = encoder.encode(typeof value === "string" ? value : "");
    if (bytes.length < 1 || bytes.length > MAX_CONTEXT_FIELD) {
      throw new EnvelopeError("bad_context", `context ${name} must be 1 to ${MAX_CONTEXT_FIELD} bytes`);
    }
    return concat([u16(bytes.length), bytes]);
  });
  return concat([MAGIC, u8(VERSION), u32(chunkSize), noncePrefix, ...strings]);
}

function encodeRecipients(entries) {
  const encoder = new TextEncoder();
  const encoded = entries.map(({ keyId, wrapped }) => {
    const id = encoder.encode(keyId);
    return concat([u8(RSA_OAEP_KIND), u8(id.length), id, u16(wrapped.length), wrapped]);
  });
  return concat([u8(entries.length), ...encoded]);
}

/** The key commitment over every header byte before it (`headerStart`). */
export async function commitment(fileKey, headerStart) {
  return hkdf(fileKey, await sha256(headerStart), COMMITMENT_INFO);
}

/** `SHA256:` and the unpadded base32 of SHA-256 over the DER SubjectPublicKeyInfo. */
export async function fingerprint(spki) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  const digest = await sha256(spki);
  let bits = 0;
  let value = 0;
  let out = "";
  for (const byte of digest) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += alphabet[(value << (5 - bits)) & 31];
  return `SHA256:${out}`;
}

export function fromBase64(text) {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

/**
 * A recipient from the API's description ({key_id, spki}): the key is imported
 * for RSA-OAEP-SHA-256, must be RSA-3072, and its fingerprint must be its key id.
 */
export async function importRecipient({ key_id: keyId, spki }) {
  const der = fromBase64(spki);
  if ((await fingerprint(der)) !== keyId) {
    throw new EnvelopeError("key_mismatch", "the recipient's key id is not its key's fingerprint");
  }
  const key = await subtle().importKey("spki", der, { name: "RSA-OAEP", hash: "SHA-256" }, false, [
    "encrypt",
  ]);
  if (key.algorithm.modulusLength !== RSA_BITS) {
    throw new EnvelopeError("key_size", `the recipient's key must be RSA-${RSA_BITS}`);
  }
  return { keyId, key };
}

/** AES-256-GCM over the chunks of one body, with STREAM nonces: prefix, counter, last flag. */
class ChunkSealer {
  static async create(fileKey, preambleDigest, noncePrefix) {
    const raw = await hkdf(fileKey, preambleDigest, BODY_KEY_INFO);
    const key = await subtle().importKey("raw", raw, "AES-GCM", false, ["encrypt"]);
    return new ChunkSealer(key, preambleDigest, noncePrefix);
  }

  constructor(key, associatedData, noncePrefix) {
    this.key = key;
    this.associatedData = associatedData;
    this.nonce = new Uint8Array(12);
    this.nonce.set(noncePrefix);
    this.counter = 0;
  }

  async seal(data, last) {
    if (this.counter > 0xffffffff) throw new EnvelopeError("too_large", "input too large for one envelope");
    const nonce = this.nonce.slice();
    new DataView(nonce.buffer).setUint32(NONCE_PREFIX_SIZE, this.counter);
    nonce[11] = last ? 1 : 0;
    this.counter += 1;
    const sealed = await subtle().encrypt(
      { name: "AES-GCM", iv: nonce, additionalData: this.associatedData, tagLength: TAG_SIZE * 8 },
      this.key,
      data,
    );
    return new Uint8Array(sealed);
  }
}

function randomBytes(size) {
  return globalThis.crypto.getRandomValues(new Uint8Array(size));
}

/** 1 to 16 recipients with distinct key ids, as the format requires. */
function checkRecipients(recipients) {
  if (!recipients.length || recipients.length > MAX_RECIPIENTS) {
    throw new EnvelopeError("recipients", `a document has 1 to ${MAX_RECIPIENTS} recipients`);
  }
  if (new Set(recipients.map((r) => r.keyId)).size !== recipients.length) {
    throw new EnvelopeError("recipients", "two recipients share a key id");
  }
}

/**
 * Encrypt `file` (a Blob) for `recipients` (from importRecipient) under `context`.
 * Returns {headerLength, size, chunks}: `chunks` is an async iterator of the sealed
 * bytes (the header, then each sealed chunk; 16 are sealed at a time), made only as it
 * is consumed,
 * so the consumer bounds the memory; `size` is the envelope's length, known
 * in advance. `onProgress(done, total)` follows the plaintext read.
 * Only the test vectors pass their own `fileKey` and `noncePrefix`.
 */
export async function seal(file, options) {
  const { recipients, context, onProgress } = options;
  const chunkSize = options.chunkSize ?? CHUNK_SIZE;
  const fileKey = options.fileKey ?? randomBytes(FILE_KEY_SIZE);
  const noncePrefix = options.noncePrefix ?? randomBytes(NONCE_PREFIX_SIZE);
  checkRecipients(recipients);

  const preamble = encodePreamble(chunkSize, noncePrefix, context);
  const preambleDigest = await sha256(preamble);
  const entries = [];
  for (const { keyId, key } of recipients) {
    const wrapped = await subtle().encrypt({ name: "RSA-OAEP", label: preambleDigest }, key, fileKey);
    entries.push({ keyId, wrapped: new Uint8Array(wrapped) });
  }
  const headerStart = concat([preamble, encodeRecipients(entries)]);
  const header = concat([headerStart, await commitment(fileKey, headerStart)]);
  const sealer = await ChunkSealer.create(fileKey, preambleDigest, noncePrefix);
  // Data chunks are full; the final chunk holds the rest (0 to chunkSize - 1 bytes).
  const dataChunks = Math.floor(file.size / chunkSize);
  const size = header.length + file.size + (dataChunks + 1) * TAG_SIZE;

  async function* chunks() {
    yield header;
    const block = chunkSize * BLOCK_CHUNKS;
    let sealedLast = false;
    for (let offset = 0; !sealedLast; offset += block) {
      const plain = new Uint8Array(await file.slice(offset, offset + block).arrayBuffer());
      const sealing = [];
      // Past the block's end only to seal an empty final chunk at the file's end.
      for (let start = 0; !sealedLast && (start < plain.length || offset + start === file.size); start += chunkSize) {
        sealedLast = offset + start + chunkSize > file.size;
        sealing.push(sealer.seal(plain.subarray(start, start + chunkSize), sealedLast));
      }
      yield* await Promise.all(sealing);
      if (onProgress) onProgress(offset + plain.length, file.size);
    }
  }
  return { headerLength: header.length, size, chunks: chunks() };
}
