// protocol.js — the lotse.v1 wire format (proto/PROTOCOL.md §3, §4): base64url,
// hex, the 28-byte binary frame header and JSON control messages. No crypto here.

export const SUBPROTOCOL = 'lotse.v1';
export const VERSION = 1;
export const KIND_DATA = 1;
export const KIND_ACK = 2;
export const HEADER_BYTES = 28;
export const SID_BYTES = 16;
export const TAG_BYTES = 16;
export const ACK_FRAME_BYTES = HEADER_BYTES + TAG_BYTES;
export const BUCKETS = [256, 1024, 4096];
export const MAX_BODY_BYTES = 4094;
export const MAX_FRAME_BYTES = HEADER_BYTES + 4096 + TAG_BYTES;

/** An Error with an errno-style code ('EPROTO', 'EBADMSG', …) as the vectors name them. */
export function fail(code, message) {
    const e = new Error(message || code);
    e.code = code;
    return e;
}

// ---- base64url without padding, hex -------------------------------------------

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

export function b64encode(bytes) {
    let out = '';
    let i = 0;
    for (; i + 2 < bytes.length; i += 3) {
        const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
        out += B64[n >> 18] + B64[(n >> 12) & 63] + B64[(n >> 6) & 63] + B64[n & 63];
    }
    const rest = bytes.length - i;
    if (rest === 1) {
        const n = bytes[i] << 16;
        out += B64[n >> 18] + B64[(n >> 12) & 63];
    } else if (rest === 2) {
        const n = (bytes[i] << 16) | (bytes[i + 1] << 8);
        out += B64[n >> 18] + B64[(n >> 12) & 63] + B64[(n >> 6) & 63];
    }
    return out;
}

/** Decodes base64url without padding; throws EBADMSG on anything else. */
export function b64decode(text) {
    if (typeof text !== 'string' || text.length % 4 === 1) throw fail('EBADMSG', 'bad base64url');
    const out = new Uint8Array(Math.floor((text.length * 3) / 4));
    let bits = 0;
    let acc = 0;
    let o = 0;
    for (const ch of text) {
        const v = B64.indexOf(ch);
        if (v < 0) throw fail('EBADMSG', 'bad base64url');
        acc = (acc << 6) | v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (acc >> bits) & 0xff;
        }
    }
    if (acc & ((1 << bits) - 1)) throw fail('EBADMSG', 'non-canonical base64url');
    return out;
}

export function hexencode(bytes) {
    let s = '';
    for (const b of bytes) s += b.toString(16).padStart(2, '0');
    return s;
}

export function hexdecode(text) {
    if (typeof text !== 'string' || text.length % 2 || /[^0-9a-fA-F]/.test(text)) {
        throw fail('EBADMSG', 'bad hex');
    }
    const out = new Uint8Array(text.length / 2);
    for (let i = 0; i < out.length; i++) out[i] = parseInt(text.substr(i * 2, 2), 16);
    return out;
}

export function concat(...parts) {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let o = 0;
    for (const p of parts) {
        out.set(p, o);
        o += p.length;
    }
    return out;
}

export function utf8(text) {
    return new TextEncoder().encode(text);
}

// ---- binary frames (§3) -------------------------------------------------------

/** The 28-byte header: version, kind, flags 0, sid (16 bytes), seq (BigInt, big-endian). */
export function encodeHeader(kind, sid, seq) {
    const h = new Uint8Array(HEADER_BYTES);
    const view = new DataView(h.buffer);
    h[0] = VERSION;
    h[1] = kind;
    h.set(sid, 4);
    view.setBigUint64(20, BigInt(seq));
    return h;
}

function isDataPayloadSize(n) {
    return BUCKETS.some((b) => b + TAG_BYTES === n);
}

/**
 * Parses one binary message. Returns {version, kind, flags, sid, seq, header, payload}.
 * Throws EMSGSIZE when it cannot be a frame at all (shorter than a header or
 * longer than the longest DATA frame), EPROTO when the header or the payload
 * size is wrong — the same checks the server makes.
 */
export function decodeFrame(bytes) {
    if (bytes.length < HEADER_BYTES || bytes.length > MAX_FRAME_BYTES) {
        throw fail('EMSGSIZE', 'frame size');
    }
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const f = {
        version: bytes[0],
        kind: bytes[1],
        flags: view.getUint16(2),
        sid: bytes.slice(4, 20),
        seq: view.getBigUint64(20),
        header: bytes.slice(0, HEADER_BYTES),
        payload: bytes.slice(HEADER_BYTES),
    };
    if (f.version !== VERSION) throw fail('EPROTO', 'version');
    if (f.kind !== KIND_DATA && f.kind !== KIND_ACK) throw fail('EPROTO', 'kind');
    if (f.flags !== 0) throw fail('EPROTO', 'flags');
    if (f.seq === 0n) throw fail('EPROTO', 'seq 0');
    if (f.kind === KIND_ACK && f.payload.length !== TAG_BYTES) throw fail('EPROTO', 'ack payload');
    if (f.kind === KIND_DATA && !isDataPayloadSize(f.payload.length)) {
        throw fail('EPROTO', 'data payload size');
    }
    return f;
}

// ---- control messages (§4) ----------------------------------------------------

/** Parses a text frame into a message object with a string `t`, or null. */
export function parseMessage(text) {
    let m;
    try {
        m = JSON.parse(text);
    } catch {
        return null;
    }
    if (!m || typeof m !== 'object' || Array.isArray(m) || typeof m.t !== 'string') return null;
    return m;
}

/** `hello`; `pow` is the base64url nonce that answers a `challenge` (§4.1.1), if
 * any; `same` the lookup id (base64url) of a mail code: "the same person" (§9.1);
 * `route` the optional {region, lang} of the start page (each only when given). */
export function hello(topic, pk, pow, same, route) {
    const m = { t: 'hello', v: VERSION, role: 'young', topic, pk: b64encode(pk) };
    if (pow) m.pow = pow;
    if (same) m.same = same;
    if (route && route.region) m.region = route.region;
    if (route && route.lang) m.lang = route.lang;
    return JSON.stringify(m);
}

/** The young person's `resume` (§5.2); `pk` (a fresh X25519 key) only when the keys were lost. */
export function resumeYoung(sidHex, resumeB64, pk) {
    const m = { t: 'resume', v: VERSION, sid: sidHex, resume: resumeB64 };
    if (pk) m.pk = b64encode(pk);
    return JSON.stringify(m);
}

export function login(handle, password, devicePk) {
    const m = { t: 'login', v: VERSION, handle, password };
    if (devicePk) m.device = b64encode(devicePk);
    return JSON.stringify(m);
}

/** The bytes a device signs to answer `login_challenge` (§4.2):
 * "lotse-login-v1" ‖ nonce (32) ‖ device public key (32) ‖ handle (UTF-8). */
export function loginProofMessage(nonce, devicePk, handle) {
    const d = new TextEncoder().encode('lotse-login-v1');
    const h = new TextEncoder().encode(handle);
    const out = new Uint8Array(d.length + 64 + h.length);
    out.set(d, 0);
    out.set(nonce, d.length);
    out.set(devicePk, d.length + 32);
    out.set(h, d.length + 64);
    return out;
}

export function loginProof(sig) {
    return JSON.stringify({ t: 'login_proof', sig: b64encode(sig) });
}

export function keys(sidHex, pk, sig, cert) {
    return JSON.stringify({ t: 'keys', sid: sidHex, pk: b64encode(pk), sig: b64encode(sig), cert: b64encode(cert) });
}

export function msg(t, fields = {}) {
    return JSON.stringify({ t, ...fields });
}
