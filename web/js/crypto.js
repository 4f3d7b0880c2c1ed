// crypto.js — end-to-end cryptography of proto/PROTOCOL.md §6 on libsodium.js:
// device certificates, the signed key-exchange transcript, crypto_kx direction
// keys, and sealing/opening padded DATA frames. Uses the global `sodium`
// (web/vendor/libsodium-wrappers.js), which must be ready before any call.

import {
    BUCKETS, HEADER_BYTES, KIND_ACK, KIND_DATA, MAX_BODY_BYTES, SID_BYTES, TAG_BYTES, VERSION,
    concat, decodeFrame, encodeHeader, fail, utf8,
} from './protocol.js';

export const CERT_BYTES = 110;
const CERT_BODY_BYTES = 46;
const CERT_CONTEXT = utf8('lotse-cert-v1');
const KX_CONTEXT = utf8('lotse-kx-v1');
export const DIR_YOUNG_TO_COUNSELLOR = 0;
export const DIR_COUNSELLOR_TO_YOUNG = 1;
export const INNER_TEXT = 1;
/** §6 "Messages": sender time (8 bytes, big-endian, ms since the epoch) ‖ UTF-8 text. */
export const INNER_TIMED_TEXT = 2;
/** §6 "Messages": one byte, 1 = the sender is writing, 0 = stopped. */
export const INNER_TYPING = 3;
const TIMED_HEAD = 8;
/** The longest text of a timed text, in UTF-8 bytes. */
export const MAX_TIMED_TEXT_BYTES = MAX_BODY_BYTES - TIMED_HEAD;

const na = () => globalThis.sodium;

function sameBytes(a, b) {
    return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Wipes every given buffer (secret keys, direction keys, plaintext). */
export function wipe(...buffers) {
    for (const b of buffers) if (b instanceof Uint8Array) na().memzero(b);
}

// ---- device certificates ------------------------------------------------------

/**
 * Checks a 110-byte device certificate against the pinned organisation key at
 * unix time `now`. Returns {counsellorId, expires, devicePk}. Throws EBADMSG
 * (malformed), EPERM (signature) or EKEYEXPIRED (expires <= now).
 */
export function verifyCert(cert, orgPk, now) {
    if (!(cert instanceof Uint8Array) || cert.length !== CERT_BYTES) throw fail('EBADMSG', 'certificate size');
    if (cert[0] !== 1 || cert[1] !== 1) throw fail('EBADMSG', 'certificate version or role');
    const body = cert.subarray(0, CERT_BODY_BYTES);
    const sig = cert.subarray(CERT_BODY_BYTES);
    if (!na().crypto_sign_verify_detached(sig, concat(CERT_CONTEXT, body), orgPk)) {
        throw fail('EPERM', 'certificate signature');
    }
    const view = new DataView(cert.buffer, cert.byteOffset, cert.byteLength);
    const expires = view.getBigUint64(6);
    if (expires <= BigInt(now)) throw fail('EKEYEXPIRED', 'certificate expired');
    return { counsellorId: view.getUint32(2), expires, devicePk: cert.slice(14, 46) };
}

/** Builds and signs a certificate body (used by the test vectors; lotsectl does it for real). */
export function makeCert(orgSk, counsellorId, expires, devicePk) {
    const body = new Uint8Array(CERT_BODY_BYTES);
    const view = new DataView(body.buffer);
    body[0] = 1;
    body[1] = 1;
    view.setUint32(2, counsellorId);
    view.setBigUint64(6, BigInt(expires));
    body.set(devicePk, 14);
    return concat(body, na().crypto_sign_detached(concat(CERT_CONTEXT, body), orgSk));
}

// ---- organisation certificates: the chain network → organisation → device ----

const ORGCERT_CONTEXT = utf8('lotse-orgcert-v1');
const ORGCERT_HEAD_BYTES = 47;
/** The longest organisation name in a certificate, in UTF-8 bytes. */
export const ORGCERT_NAME_MAX = 80;

/**
 * Checks an organisation certificate (§6 "Organisation certificate") against a
 * pinned network key at unix time `now`: format, signature, expiry, in that
 * order. Returns {orgId, expires, orgPk, name}. Throws EBADMSG, EPERM or EKEYEXPIRED.
 */
export function verifyOrgCert(cert, netPk, now) {
    const min = ORGCERT_HEAD_BYTES + 1 + 64;
    if (!(cert instanceof Uint8Array) || cert.length < min || cert.length > min - 1 + ORGCERT_NAME_MAX) {
        throw fail('EBADMSG', 'organisation certificate size');
    }
    if (cert[0] !== 1 || cert[1] !== 1) throw fail('EBADMSG', 'organisation certificate version or role');
    const nameLen = cert[46];
    const bodyLen = ORGCERT_HEAD_BYTES + nameLen;
    if (nameLen < 1 || bodyLen + 64 !== cert.length) throw fail('EBADMSG', 'organisation certificate length');
    let name;
    try {
        name = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(cert.subarray(47, bodyLen));
    } catch {
        throw fail('EBADMSG', 'organisation name is not UTF-8');
    }
    if (/[\u0000-\u001f\u007f]/.test(name)) throw fail('EBADMSG', 'organisation name has a control character');
    const body = cert.subarray(0, bodyLen);
    if (!na().crypto_sign_verify_detached(cert.subarray(bodyLen), concat(ORGCERT_CONTEXT, body), netPk)) {
        throw fail('EPERM', 'organisation certificate signature');
    }
    const view = new DataView(cert.buffer, cert.byteOffset, cert.byteLength);
    const expires = view.getBigUint64(6);
    if (expires <= BigInt(now)) throw fail('EKEYEXPIRED', 'organisation certificate expired');
    return { orgId: view.getUint32(2), expires, orgPk: cert.slice(14, 46), name };
}

/** Builds and signs an organisation certificate (test vectors and tests; lotsectl does it for real). */
export function makeOrgCert(netSk, orgId, expires, orgPk, name) {
    const n = utf8(name);
    if (n.length < 1 || n.length > ORGCERT_NAME_MAX) throw fail('EINVAL', 'organisation name length');
    const body = new Uint8Array(ORGCERT_HEAD_BYTES + n.length);
    const view = new DataView(body.buffer);
    body[0] = 1;
    body[1] = 1;
    view.setUint32(2, orgId);
    view.setBigUint64(6, BigInt(expires));
    body.set(orgPk, 14);
    body[46] = n.length;
    body.set(n, 47);
    return concat(body, na().crypto_sign_detached(concat(ORGCERT_CONTEXT, body), netSk));
}

/** Checks an organisation certificate against the pinned network keys: the first that verifies it wins. */
export function verifyOrgCertPinned(cert, netKeys, now) {
    let last = fail('EPERM', 'no pinned network key');
    for (const k of netKeys) {
        try {
            return verifyOrgCert(cert, k, now);
        } catch (e) {
            last = e;
        }
    }
    throw last;
}

/**
 * The chain: the organisation certificate under one of `netKeys`, then the
 * device certificate under the organisation key it certifies. Returns
 * {org: {orgId, expires, orgPk, name}, cert: {counsellorId, expires, devicePk}}.
 */
export function verifyChain(orgCert, cert, netKeys, now) {
    const org = verifyOrgCertPinned(orgCert, netKeys, now);
    return { org, cert: verifyCert(cert, org.orgPk, now) };
}

// ---- key exchange transcript --------------------------------------------------

/** "lotse-kx-v1" ‖ version ‖ sid ‖ young pk ‖ counsellor pk */
export function transcript(sid, youngPk, counsellorPk) {
    if (sid.length !== SID_BYTES || youngPk.length !== 32 || counsellorPk.length !== 32) {
        throw fail('EBADMSG', 'transcript field size');
    }
    return concat(KX_CONTEXT, Uint8Array.of(VERSION), sid, youngPk, counsellorPk);
}

/** The counsellor's side: signs the transcript with the device's Ed25519 secret key. */
export function signTranscript(deviceSk, sid, youngPk, counsellorPk) {
    return na().crypto_sign_detached(transcript(sid, youngPk, counsellorPk), deviceSk);
}

/** The young person's side: throws EPERM unless `sig` is the device key's signature. */
export function verifyTranscript(sig, devicePk, sid, youngPk, counsellorPk) {
    const t = transcript(sid, youngPk, counsellorPk);
    let ok = false;
    try {
        ok = sig.length === 64 && na().crypto_sign_verify_detached(sig, t, devicePk);
    } catch {
        ok = false;
    }
    if (!ok) throw fail('EPERM', 'transcript signature');
}

/**
 * Checks a certificate against the pinned organisation keys (trust.js): the
 * first that verifies it wins. Throws what verifyCert threw for the last key
 * (EPERM when none signed it), or EPERM for an empty list.
 */
export function verifyCertPinned(cert, orgKeys, now) {
    let last = fail('EPERM', 'no pinned organisation key');
    for (const k of orgKeys) {
        try {
            return verifyCert(cert, k, now);
        } catch (e) {
            last = e;
        }
    }
    throw last;
}

/**
 * Everything the young person checks before sending a word (§4.1, §6): the
 * certificate against the pinned organisation keys `orgKeys` (never a key the
 * server named), then the signature over the transcript built from ITS OWN key.
 * Returns the certificate fields; throws on any failure.
 */
export function verifyCounsellorKeys({ cert, sig, counsellorPk, sid, ownPk, orgKeys, now }) {
    const c = verifyCertPinned(cert, orgKeys, now);
    verifyTranscript(sig, c.devicePk, sid, ownPk, counsellorPk);
    return c;
}

// ---- safety code (PROTOCOL.md §6 "Safety code") ----------------------------------

const SAFETY_CONTEXT = utf8('lotse-safety-v1');

/**
 * The session's safety code: BLAKE2b-256 of "lotse-safety-v1" ‖ version ‖ sid ‖
 * young pk ‖ counsellor pk; four groups, each the big-endian uint32 of 4 hash
 * bytes mod 10000, four digits with leading zeros: "0123 4567 8901 2345".
 */
export function safetyCode(sid, youngPk, counsellorPk) {
    if (sid.length !== SID_BYTES || youngPk.length !== 32 || counsellorPk.length !== 32) {
        throw fail('EBADMSG', 'safety code field size');
    }
    const h = na().crypto_generichash(32, concat(SAFETY_CONTEXT, Uint8Array.of(VERSION), sid, youngPk, counsellorPk));
    const view = new DataView(h.buffer, h.byteOffset, h.byteLength);
    const groups = [];
    for (let i = 0; i < 4; i++) groups.push(String(view.getUint32(4 * i) % 10000).padStart(4, '0'));
    return groups.join(' ');
}

// ---- direction keys -----------------------------------------------------------

/** Young person = crypto_kx client. tx encrypts direction 0, rx opens direction 1. */
export function youngKeys(ownPk, ownSk, counsellorPk) {
    const k = na().crypto_kx_client_session_keys(ownPk, ownSk, counsellorPk);
    return { tx: k.sharedTx, rx: k.sharedRx, txDir: DIR_YOUNG_TO_COUNSELLOR };
}

/** Counsellor = crypto_kx server. tx encrypts direction 1, rx opens direction 0. */
export function counsellorKeys(ownPk, ownSk, youngPk) {
    const k = na().crypto_kx_server_session_keys(ownPk, ownSk, youngPk);
    return { tx: k.sharedTx, rx: k.sharedRx, txDir: DIR_COUNSELLOR_TO_YOUNG };
}

// ---- messages -----------------------------------------------------------------

function nonce(dir, seq) {
    const n = new Uint8Array(24);
    n[0] = dir;
    new DataView(n.buffer).setBigUint64(16, BigInt(seq));
    return n;
}

/** The smallest bucket that holds a body of `n` bytes (+ type byte + pad marker). */
export function bucketFor(bodyBytes) {
    return BUCKETS.find((b) => bodyBytes + 2 <= b);
}

/**
 * Seals one message into a complete DATA frame (header ‖ ciphertext).
 * `body` is a Uint8Array of UTF-8 (at most 4,094 bytes, else EMSGSIZE).
 */
export function seal({ key, dir, sid, seq, body, innerType = INNER_TEXT }) {
    if (body.length > MAX_BODY_BYTES) throw fail('EMSGSIZE', 'message too long');
    const plain = concat(Uint8Array.of(innerType), body);
    const padded = na().pad(plain, bucketFor(body.length));
    const header = encodeHeader(KIND_DATA, sid, seq);
    const ad = concat(header, Uint8Array.of(dir));
    const ct = na().crypto_aead_xchacha20poly1305_ietf_encrypt(padded, ad, null, nonce(dir, seq), key);
    wipe(plain, padded);
    return concat(header, ct);
}

/**
 * Opens one DATA frame from the peer. `dir` is the sender's direction,
 * `lastRxSeq` (BigInt) the highest seq accepted so far. Returns
 * {seq, innerType, body}. Throws EPROTO (not a DATA frame of this session),
 * EALREADY (duplicate/replay: drop silently), ERANGE (gap or reordering),
 * EBADMSG (authentication or padding).
 */
export function open({ key, dir, sid, lastRxSeq, frame }) {
    const f = decodeFrame(frame instanceof Uint8Array ? frame : new Uint8Array(frame));
    if (f.kind !== KIND_DATA) throw fail('EPROTO', 'not a DATA frame');
    if (!sameBytes(f.sid, sid)) throw fail('EPROTO', 'another session');
    const last = BigInt(lastRxSeq);
    if (f.seq <= last) throw fail('EALREADY', 'duplicate');
    if (f.seq !== last + 1n) throw fail('ERANGE', 'gap or reordering');
    let padded;
    try {
        padded = na().crypto_aead_xchacha20poly1305_ietf_decrypt(
            null, f.payload, concat(f.header.subarray(0, HEADER_BYTES), Uint8Array.of(dir)), nonce(dir, f.seq), key);
    } catch {
        throw fail('EBADMSG', 'authentication failed');
    }
    let plain;
    try {
        plain = na().unpad(padded, padded.length);
    } catch {
        wipe(padded);
        throw fail('EBADMSG', 'bad padding');
    }
    if (plain.length < 1 || bucketFor(plain.length - 1) !== padded.length) {
        wipe(padded);
        throw fail('EBADMSG', plain.length < 1 ? 'empty plaintext' : 'padded beyond the smallest bucket');
    }
    const out = { seq: f.seq, innerType: plain[0], body: plain.slice(1) };
    wipe(padded, plain);
    return out;
}

// ---- inner message bodies (§6 "Messages") -------------------------------------

/** The body of a timed text: timeMs (ms since the epoch) ‖ the UTF-8 bytes `text`. */
export function packTimed(timeMs, text) {
    if (text.length > MAX_TIMED_TEXT_BYTES) throw fail('EMSGSIZE', 'message too long');
    const body = new Uint8Array(TIMED_HEAD + text.length);
    new DataView(body.buffer).setBigUint64(0, BigInt(timeMs));
    body.set(text, TIMED_HEAD);
    return body;
}

/** Splits a timed text's body into {timeMs (Number), text (string)}; EBADMSG when
 * shorter than the time, longer than a body may be, or not UTF-8. */
export function parseTimed(body) {
    if (body.length < TIMED_HEAD || body.length > MAX_BODY_BYTES) throw fail('EBADMSG', 'timed text size');
    const timeMs = Number(new DataView(body.buffer, body.byteOffset, body.byteLength).getBigUint64(0));
    let text;
    try {
        text = new TextDecoder('utf-8', { fatal: true }).decode(body.subarray(TIMED_HEAD));
    } catch {
        throw fail('EBADMSG', 'text is not UTF-8');
    }
    return { timeMs, text };
}

/** A typing notice's state: true (writing) or false; EBADMSG unless one byte of 0 or 1. */
export function parseTyping(body) {
    if (body.length !== 1 || body[0] > 1) throw fail('EBADMSG', 'typing notice');
    return body[0] === 1;
}

// ---- authenticated acknowledgements (§3, §6) ------------------------------------

/** ACK nonce: direction ‖ 0x02 (the ACK kind; 0 in every DATA nonce) ‖ 14 zero bytes ‖ seq. */
function ackNonce(dir, seq) {
    const n = nonce(dir, seq);
    n[1] = KIND_ACK;
    return n;
}

function ackTag(key, dir, header, seq) {
    return na().crypto_aead_xchacha20poly1305_ietf_encrypt(
        new Uint8Array(0), concat(header, Uint8Array.of(dir)), null, ackNonce(dir, seq), key);
}

/**
 * The ACK frame "I have every frame up to seq, in order": header (kind ACK) ‖
 * 16-byte tag with the ACK sender's own direction key `key` and direction `dir`.
 */
export function sealAck({ key, dir, sid, seq }) {
    if (BigInt(seq) < 1n) throw fail('EINVAL', 'seq 0');
    const header = encodeHeader(KIND_ACK, sid, seq);
    return concat(header, ackTag(key, dir, header, seq));
}

/**
 * Checks the peer's ACK with `key` (our rx key) and the peer's direction `dir`.
 * `nextTxSeq` (BigInt) is the seq our next DATA frame would get. Returns the
 * seq it covers. Throws EPROTO (not an ACK of this session), EBADMSG (forged:
 * the tag does not verify), ERANGE (covers a frame never sent): ignore it then.
 */
export function openAck({ key, dir, sid, nextTxSeq, frame }) {
    const f = decodeFrame(frame instanceof Uint8Array ? frame : new Uint8Array(frame));
    if (f.kind !== KIND_ACK) throw fail('EPROTO', 'not an ACK');
    if (!sameBytes(f.sid, sid)) throw fail('EPROTO', 'another session');
    const want = ackTag(key, dir, f.header, f.seq);
    const ok = want.length === TAG_BYTES && na().memcmp(want, f.payload);
    wipe(want);
    if (!ok) throw fail('EBADMSG', 'ACK authentication failed');
    if (f.seq >= BigInt(nextTxSeq)) throw fail('ERANGE', 'ACK for a frame never sent');
    return f.seq;
}
