// Opening a beian envelope in the browser with a file key the archive released to this
// page (format versions 1 and 2; layout in developers/envelope-format). The released key
// is RSA-OAEP-wrapped to a one-off key pair made here, whose private half never leaves
// WebCrypto; the context is checked before the key is unwrapped, the key commitment before
// any chunk is opened, and every chunk authenticates or nothing is returned.

import { EnvelopeError, MAGIC, TAG_SIZE, commitment, concat, sha256 } from "./envelope.js";

const CONTEXT_FIELDS = ["provider", "filing", "document_id", "document_type"];
const MAX_RECIPIENTS = 16;
const MAX_CHUNK = 1024 * 1024;
const COMMITMENT_SIZE = 32;
const V1_FINAL_SIZE = 8 + 32 + TAG_SIZE; // version 1 ends with the length and SHA-256
const BODY_KEY_INFO = new TextEncoder().encode("beian-envelope/v1 body key");
const subtle = () => globalThis.crypto.subtle;

function broken(message) {
  return new EnvelopeError("decryption", message);
}

/** A cursor over the envelope's bytes that refuses to read past its end. */
class Reader {
  constructor(bytes) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.offset = 0;
  }

  take(size) {
    if (this.offset + size > this.bytes.length) throw broken("the envelope is truncated");
    const out = this.bytes.subarray(this.offset, this.offset + size);
    this.offset += size;
    return out;
  }

  u8() {
    return this.take(1)[0];
  }

  u16() {
    const value = this.view.getUint16(this.offset);
    this.take(2);
    return value;
  }

  u32() {
    const value = this.view.getUint32(this.offset);
    this.take(4);
    return value;
  }
}

/** The header's parts: version, chunk size, nonce prefix, context and the digests it binds. */
export async function readHeader(bytes) {
  const reader = new Reader(bytes);
  if (!reader.take(MAGIC.length).every((byte, i) => byte === MAGIC[i])) throw broken("not a beian envelope");
  const version = reader.u8();
  if (version !== 1 && version !== 2) throw broken(`unknown envelope version ${version}`);
  const chunkSize = reader.u32();
  if (chunkSize < 64 || chunkSize > MAX_CHUNK || chunkSize & (chunkSize - 1)) throw broken("bad chunk size");
  const noncePrefix = reader.take(7);
  const decoder = new TextDecoder("utf-8", { fatal: true });
  const context = {};
  for (const name of CONTEXT_FIELDS) context[name] = decoder.decode(reader.take(reader.u16()));
  const preambleEnd = reader.offset;
  const count = reader.u8();
  if (count < 1 || count > MAX_RECIPIENTS) throw broken("bad recipient count");
  for (let i = 0; i < count; i += 1) {
    reader.u8(); // kind
    reader.take(reader.u8()); // key id
    reader.take(reader.u16()); // wrapped key
  }
  const headerStart = bytes.subarray(0, reader.offset);
  const stored = reader.take(COMMITMENT_SIZE);
  return {
    version,
    chunkSize,
    noncePrefix,
    context,
    preambleDigest: await sha256(bytes.subarray(0, preambleEnd)),
    headerStart,
    commitment: stored,
    bodyOffset: reader.offset,
  };
}

function sameContext(found, expected) {
  return CONTEXT_FIELDS.every((name) => found[name] === expected[name]);
}

/** A one-off RSA-OAEP-3072 key pair for one release; the private key cannot be exported. */
export async function oneOffKeyPair() {
  const pair = await subtle().generateKey(
    { name: "RSA-OAEP", modulusLength: 3072, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" },
    false,
    ["decrypt"],
  );
  const spki = new Uint8Array(await subtle().exportKey("spki", pair.publicKey));
  return { privateKey: pair.privateKey, publicKey: btoa(String.fromCharCode(...spki)) };
}

function equalBytes(a, b) {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

/** The data chunks and the final chunk of a body, as [sealed bytes, last] pairs. */
function chunksOf(body, header) {
  const step = header.chunkSize + TAG_SIZE;
  const pieces = [];
  if (header.version === 1) {
    const data = body.length - V1_FINAL_SIZE;
    if (data < 0 || (data % step > 0 && data % step <= TAG_SIZE)) throw broken("the envelope is truncated");
    for (let offset = 0; offset < data; offset += step) pieces.push([body.subarray(offset, Math.min(offset + step, data)), false]);
    pieces.push([body.subarray(data), true]);
    return pieces;
  }
  let offset = 0;
  for (; body.length - offset >= step; offset += step) pieces.push([body.subarray(offset, offset + step), false]);
  if (body.length - offset < TAG_SIZE) throw broken("the envelope has no final chunk");
  pieces.push([body.subarray(offset), true]);
  return pieces;
}

/**
 * The plaintext of `envelope` (Uint8Array): `wrappedKey` (base64) is the file key the API
 * released to `privateKey`, `context` what the caller expects the document to be.
 */
export async function unseal(envelope, { wrappedKey, privateKey, context }) {
  const header = await readHeader(envelope);
  if (!sameContext(header.context, context)) throw broken("the envelope belongs to another document");
  let fileKey;
  try {
    const wrapped = Uint8Array.from(atob(wrappedKey), (c) => c.charCodeAt(0));
    fileKey = new Uint8Array(await subtle().decrypt({ name: "RSA-OAEP", label: header.preambleDigest }, privateKey, wrapped));
  } catch {
    throw broken("the released key does not open this document");
  }
  if (!equalBytes(await commitment(fileKey, header.headerStart), header.commitment)) {
    throw broken("the released key is not this document's key");
  }
  const raw = await subtle().importKey("raw", fileKey, "HKDF", false, ["deriveBits"]);
  const bodyBits = await subtle().deriveBits({ name: "HKDF", hash: "SHA-256", salt: header.preambleDigest, info: BODY_KEY_INFO }, raw, 256);
  const bodyKey = await subtle().importKey("raw", bodyBits, "AES-GCM", false, ["decrypt"]);
  const plain = [];
  const pieces = chunksOf(envelope.subarray(header.bodyOffset), header);
  try {
    for (const [counter, [sealed, last]] of pieces.entries()) {
      const nonce = new Uint8Array(12);
      nonce.set(header.noncePrefix);
      new DataView(nonce.buffer).setUint32(7, counter);
      nonce[11] = last ? 1 : 0;
      const opened = await subtle().decrypt({ name: "AES-GCM", iv: nonce, additionalData: header.preambleDigest, tagLength: TAG_SIZE * 8 }, bodyKey, sealed);
      plain.push(new Uint8Array(opened));
    }
  } catch {
    throw broken("a chunk of the envelope does not authenticate");
  }
  if (header.version === 1) {
    const final = plain.pop();
    const data = concat(plain);
    const view = new DataView(final.buffer, final.byteOffset, final.byteLength);
    const length = view.getUint32(0) * 0x100000000 + view.getUint32(4);
    if (length !== data.length || !equalBytes(await sha256(data), final.subarray(8))) throw broken("the document's length or digest does not match");
    return data;
  }
  return concat(plain);
}
