// pow-worker.js — the admission-work search of web/js/pow.js in a Web Worker
// (a classic worker: libsodium.js is a plain script). Gets {seed, bits},
// answers {nonce} (8 bytes) once BLAKE2b-256(seed ‖ nonce) starts with `bits`
// zero bits (PROTOCOL.md §4.1.1).
/* global importScripts, sodium */
importScripts('/vendor/libsodium.js', '/vendor/libsodium-wrappers.js');

function leadingZeroBits(hash, bits) {
    let i = 0;
    for (; bits >= 8; bits -= 8, i++) if (hash[i] !== 0) return false;
    return bits === 0 || (hash[i] >> (8 - bits)) === 0;
}

self.onmessage = async (ev) => {
    await sodium.ready;
    const { seed, bits } = ev.data;
    const input = new Uint8Array(seed.length + 8);
    input.set(seed);
    const view = new DataView(input.buffer, seed.length, 8);
    for (let n = 0; n < 2 ** 40; n++) {
        view.setUint32(0, n >>> 0, true);
        view.setUint32(4, Math.floor(n / 2 ** 32), true);
        if (leadingZeroBits(sodium.crypto_generichash(32, input), bits)) {
            self.postMessage({ nonce: input.slice(seed.length) });
            return;
        }
    }
    self.postMessage({});
};
