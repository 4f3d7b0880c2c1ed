// pow.js — admission work (PROTOCOL.md §4.1.1): find an 8-byte nonce such that
// BLAKE2b-256(seed ‖ nonce) starts with `bits` zero bits. Runs here, in small
// chunks between frames, with the page's libsodium.js: a Web Worker would load
// scripts (the worker file and what it loads) that Subresource Integrity cannot
// cover, so the client runs no code outside the hashes its pages name.
import { b64decode, b64encode } from './protocol.js';

const CHUNK = 2048; // hashes per turn of the main-thread fallback

/** True when `hash` starts with at least `bits` zero bits (MSB of byte 0 first). */
export function leadingZeroBits(hash, bits) {
    let i = 0;
    for (; bits >= 8; bits -= 8, i++) if (hash[i] !== 0) return false;
    return bits === 0 || (hash[i] >> (8 - bits)) === 0;
}

/** Checks one proof (used by the tests and by the search itself). */
export function checkPow(seed, nonce, bits) {
    const input = new Uint8Array(seed.length + 8);
    input.set(seed);
    input.set(nonce, seed.length);
    return leadingZeroBits(globalThis.sodium.crypto_generichash(32, input), bits);
}

/** Searches nonces start, start+1, … (little-endian counter in 8 bytes) for count tries. */
export function searchPow(seed, bits, start, count) {
    const input = new Uint8Array(seed.length + 8);
    input.set(seed);
    const view = new DataView(input.buffer, seed.length, 8);
    for (let n = start; n < start + count; n++) {
        view.setUint32(0, n >>> 0, true);
        view.setUint32(4, Math.floor(n / 2 ** 32), true);
        if (leadingZeroBits(globalThis.sodium.crypto_generichash(32, input), bits)) {
            return input.slice(seed.length);
        }
    }
    return null;
}

function solveHere(seed, bits, token) {
    return new Promise((resolve, reject) => {
        let next = 0;
        const turn = () => {
            if (token.cancelled) return reject(new Error('cancelled'));
            const found = searchPow(seed, bits, next, CHUNK);
            next += CHUNK;
            if (found) resolve(found);
            else setTimeout(turn, 0);
        };
        turn();
    });
}

/**
 * Solves a `challenge`. Returns {promise, cancel}; the promise resolves to the
 * base64url nonce for `hello`'s `pow` field.
 */
export function solvePow(seedB64, bits) {
    const token = { cancelled: false, stop: null };
    const seed = b64decode(seedB64);
    const want = Math.max(0, Math.min(32, bits | 0));
    const promise = solveHere(seed, want, token).then((nonce) => b64encode(nonce));
    return {
        promise,
        cancel() {
            token.cancelled = true;
            if (token.stop) token.stop();
        },
    };
}
