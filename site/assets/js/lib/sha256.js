// Incremental SHA-256 (FIPS 180-4) for the envelope's final chunk.
//
// WebCrypto's digest() needs the whole input at once; the upload page hashes a file
// 64 KiB at a time as it encrypts, so it keeps only this 64-byte block and the state.

const K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
const INITIAL = [
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];
const BLOCK = 64;

export class Sha256 {
  constructor() {
    this.state = new Uint32Array(INITIAL);
    this.block = new Uint8Array(BLOCK);
    this.blockView = new DataView(this.block.buffer);
    this.filled = 0;
    this.length = 0; // bytes hashed so far (a Number is exact far beyond the format's limits)
    this.words = new Uint32Array(64);
    this.finished = false;
  }

  /** Add `data` (a Uint8Array) to the hash. */
  update(data) {
    if (this.finished) throw new Error("SHA-256: update after digest");
    this.length += data.length;
    let offset = 0;
    if (this.filled > 0) {
      const take = Math.min(BLOCK - this.filled, data.length);
      this.block.set(data.subarray(0, take), this.filled);
      this.filled += take;
      offset = take;
      if (this.filled < BLOCK) return this;
      this.compress(this.blockView, 0);
      this.filled = 0;
    }
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    for (; offset + BLOCK <= data.length; offset += BLOCK) this.compress(view, offset);
    this.block.set(data.subarray(offset));
    this.filled = data.length - offset;
    return this;
  }

  /** The 32-byte digest; the hash cannot be updated afterwards. */
  digest() {
    if (this.finished) throw new Error("SHA-256: digest called twice");
    this.finished = true;
    const bits = this.length * 8;
    this.block[this.filled] = 0x80;
    this.block.fill(0, this.filled + 1);
    if (this.filled + 1 > BLOCK - 8) {
      this.compress(this.blockView, 0);
      this.block.fill(0);
    }
    this.blockView.setUint32(BLOCK - 8, Math.floor(bits / 0x100000000));
    this.blockView.setUint32(BLOCK - 4, bits >>> 0);
    this.compress(this.blockView, 0);
    const out = new Uint8Array(32);
    const outView = new DataView(out.buffer);
    this.state.forEach((word, i) => outView.setUint32(i * 4, word));
    return out;
  }

  compress(view, offset) {
    const w = this.words;
    for (let i = 0; i < 16; i++) w[i] = view.getUint32(offset + i * 4);
    for (let i = 16; i < 64; i++) {
      const a = w[i - 15];
      const b = w[i - 2];
      const s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3);
      const s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10);
      w[i] = (w[i - 16] + s0 + w[i - 7] + s1) | 0;
    }
    const s = this.state;
    let [a, b, c, d, e, f, g, h] = s;
    for (let i = 0; i < 64; i++) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const ch = (e & f) ^ (~e & g);
      const t1 = (h + S1 + ch + K[i] + w[i]) | 0;
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const maj = (a & b) ^ (a & c) ^ (b & c);
      const t2 = (S0 + maj) | 0;
      h = g;
      g = f;
      f = e;
      e = (d + t1) | 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) | 0;
    }
    s[0] += a;
    s[1] += b;
    s[2] += c;
    s[3] += d;
    s[4] += e;
    s[5] += f;
    s[6] += g;
    s[7] += h;
  }
}
