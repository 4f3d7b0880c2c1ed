// mail-crypto.js — mail counselling on libsodium.js (proto/PROTOCOL.md §9.2, §9.3),
// the same bytes as proto/src/mail.c (checked against proto/vectors/mail.txt):
// the access code, what it derives, a device's mail key statement, and sealing,
// opening and checking envelopes. Uses the global `sodium`, which must be ready
// before any call. Errors are thrown as protocol.js `fail` errors whose code is
// the errno name the C functions return (EINVAL, EMSGSIZE, EBADMSG, ENOKEY,
// EPERM, EKEYEXPIRED).

import { concat, fail, utf8 } from './protocol.js';
import { CERT_BYTES, verifyCertPinned, wipe } from './crypto.js';

export const CODE_SYMBOLS = 20;
export const KEYID_BYTES = 8;
export const WRAP_BYTES = 80;
export const RECIPIENT_BYTES = KEYID_BYTES + WRAP_BYTES;
export const MAX_RECIPIENTS = 64;
export const MAX_BODY_BYTES = 32000;
export const MAX_BODY_CHARS = 8000;
export const ENVELOPE_MAX = 40960;
export const FROM_YOUNG = 1;
export const FROM_COUNSELLOR = 2;
/** One entry of the `mail_keys` list: cert(110) ‖ mail_pk(32) ‖ sig(64). */
export const MAIL_KEY_ENTRY_BYTES = CERT_BYTES + 32 + 64;

const VERSION = 1;
const HEAD_BYTES = 3; // version, sender kind, recipient count
const SIG_BYTES = 64;
const TAG_BYTES = 16;
const INNER_HEAD = 9; // type(1) ‖ time(8, BE, ms)
const INNER_TEXT = 1;
const BUCKETS = [256, 1024, 4096, 16384, 32768];
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'; // Crockford: no I, L, O, U
const CODE_CONTEXT = utf8('lotse-mail-code-v1');
const LOOKUP_CONTEXT = utf8('lotse-mail-lookup-v1');
const KEYID_CONTEXT = utf8('lotse-mail-keyid-v1');
const MAILKEY_CONTEXT = utf8('lotse-mailkey-v1');
const SIG_CONTEXT = utf8('lotse-mail-v1');
const KDF_CONTEXT = 'lotsmail';
const ZERO_NONCE = new Uint8Array(24);

const na = () => globalThis.sodium;

function sameBytes(a, b) {
    return a.length === b.length && a.every((x, i) => x === b[i]);
}

function bucketFor(innerLen) {
    return BUCKETS.find((b) => innerLen + 1 <= b) ?? 0;
}

// ---- access code --------------------------------------------------------------

/** A new code: 20 random Crockford symbols (100 bits), canonical (no dashes). */
export function codeNew() {
    let s = '';
    for (let i = 0; i < CODE_SYMBOLS; i++) s += ALPHABET[na().randombytes_uniform(32)];
    return s;
}

/**
 * Normalises what a person typed: spaces, tabs and dashes dropped, lower case
 * accepted, O → 0, I and L → 1. Returns the canonical code; throws EINVAL
 * unless that is exactly 20 symbols of the alphabet.
 */
export function codeParse(typed) {
    let out = '';
    for (const ch of String(typed)) {
        if (ch === ' ' || ch === '-' || ch === '\t') continue;
        let c = ch >= 'a' && ch <= 'z' ? ch.toUpperCase() : ch;
        if (c === 'O') c = '0';
        else if (c === 'I' || c === 'L') c = '1';
        if (!ALPHABET.includes(c) || out.length === CODE_SYMBOLS) throw fail('EINVAL', 'not an access code');
        out += c;
    }
    if (out.length !== CODE_SYMBOLS) throw fail('EINVAL', 'not an access code');
    return out;
}

/** "XXXXX-XXXXX-XXXXX-XXXXX" from a canonical code. */
export function codeFormat(canonical) {
    return canonical.match(/.{1,5}/g).join('-');
}

function codeCanonical(c) {
    return typeof c === 'string' && c.length === CODE_SYMBOLS && [...c].every((x) => ALPHABET.includes(x));
}

// ---- keys ---------------------------------------------------------------------

/**
 * What a canonical code stands for: {lookup, boxPk, boxSk, signPk, signSk}
 * (master = BLAKE2b-256("lotse-mail-code-v1" ‖ code); crypto_kdf subkeys 1
 * lookup, 2 X25519 seed, 3 Ed25519 seed, context "lotsmail"). Throws EINVAL.
 * Secret: wipe boxSk and signSk with crypto.js wipe() when done.
 */
export function derive(canonical) {
    if (!codeCanonical(canonical)) throw fail('EINVAL', 'not a canonical code');
    const s = na();
    const master = s.crypto_generichash(32, concat(CODE_CONTEXT, utf8(canonical)));
    const lookup = s.crypto_kdf_derive_from_key(32, 1, KDF_CONTEXT, master);
    const boxSeed = s.crypto_kdf_derive_from_key(32, 2, KDF_CONTEXT, master);
    const signSeed = s.crypto_kdf_derive_from_key(32, 3, KDF_CONTEXT, master);
    const box = s.crypto_box_seed_keypair(boxSeed);
    const sign = s.crypto_sign_seed_keypair(signSeed);
    wipe(master, boxSeed, signSeed);
    return {
        lookup, boxPk: box.publicKey, boxSk: box.privateKey, signPk: sign.publicKey, signSk: sign.privateKey,
    };
}

/** What the server stores instead of the lookup id: BLAKE2b-256("lotse-mail-lookup-v1" ‖ lookup). */
export function lookupHash(lookup) {
    return na().crypto_generichash(32, concat(LOOKUP_CONTEXT, lookup));
}

/** A recipient's 8-byte id: BLAKE2b-256("lotse-mail-keyid-v1" ‖ pk), first 8 bytes. */
export function keyid(pk) {
    return na().crypto_generichash(32, concat(KEYID_CONTEXT, pk)).slice(0, KEYID_BYTES);
}

// ---- a device's mail key ------------------------------------------------------

/** The bytes a device signs for its mail key: "lotse-mailkey-v1" ‖ device_pk ‖ mail_pk. */
export function mailKeyStatement(devicePk, mailPk) {
    return concat(MAILKEY_CONTEXT, devicePk, mailPk);
}

/** The device signs the statement with its Ed25519 key. */
export function mailKeySign(devicePk, mailPk, deviceSk) {
    return na().crypto_sign_detached(mailKeyStatement(devicePk, mailPk), deviceSk);
}

/** Throws EPERM unless sig is devicePk's statement for mailPk. */
export function mailKeyVerify(sig, devicePk, mailPk) {
    let ok = false;
    try {
        ok = sig.length === SIG_BYTES && devicePk.length === 32 && mailPk.length === 32 &&
            na().crypto_sign_verify_detached(sig, concat(MAILKEY_CONTEXT, devicePk, mailPk), devicePk);
    } catch {
        ok = false;
    }
    if (!ok) throw fail('EPERM', 'mail key statement');
}

/**
 * The mail keys a client may seal to, from the concatenated 206-byte entries of
 * `mail_keys` messages: each certificate checked against the pinned
 * organisation keys at `now` (seconds), each statement against the certified
 * device key. Invalid entries are left out. Returns [{counsellorId, devicePk, mailPk}].
 */
export function validMailKeys(entries, orgKeys, now) {
    const out = [];
    for (let o = 0; o + MAIL_KEY_ENTRY_BYTES <= entries.length; o += MAIL_KEY_ENTRY_BYTES) {
        const cert = entries.subarray(o, o + CERT_BYTES);
        const mailPk = entries.slice(o + CERT_BYTES, o + CERT_BYTES + 32);
        const sig = entries.subarray(o + CERT_BYTES + 32, o + MAIL_KEY_ENTRY_BYTES);
        try {
            const c = verifyCertPinned(cert, orgKeys, now);
            mailKeyVerify(sig, c.devicePk, mailPk);
            out.push({ counsellorId: c.counsellorId, devicePk: c.devicePk, mailPk });
        } catch {
            // an entry that does not verify is never sealed to
        }
    }
    return out;
}

// ---- envelope -----------------------------------------------------------------

function headLen(kind) {
    return HEAD_BYTES + (kind === FROM_COUNSELLOR ? CERT_BYTES : 0);
}

/** The envelope length for kind, recipient count (thread key included) and body length; 0 if out of range. */
export function envelopeLen(kind, count, bodyLen) {
    const bucket = bucketFor(INNER_HEAD + bodyLen);
    if ((kind !== FROM_YOUNG && kind !== FROM_COUNSELLOR) || count < 1 || count > MAX_RECIPIENTS ||
        bodyLen > MAX_BODY_BYTES || bucket === 0) return 0;
    return headLen(kind) + count * RECIPIENT_BYTES + bucket + TAG_BYTES + SIG_BYTES;
}

/** The server's check, without keys: throws EBADMSG unless the structure and length fit. */
export function envelopeCheck(env) {
    if (!(env instanceof Uint8Array) || env.length < HEAD_BYTES || env.length > ENVELOPE_MAX ||
        env[0] !== VERSION || (env[1] !== FROM_YOUNG && env[1] !== FROM_COUNSELLOR) ||
        env[2] < 1 || env[2] > MAX_RECIPIENTS) throw fail('EBADMSG', 'envelope structure');
    const fixed = headLen(env[1]) + env[2] * RECIPIENT_BYTES + TAG_BYTES + SIG_BYTES;
    if (env.length <= fixed || !BUCKETS.includes(env.length - fixed)) throw fail('EBADMSG', 'envelope length');
}

/** context ‖ thread_pk ‖ BLAKE2b-512 of every envelope byte before the signature. */
function signedMessage(threadPk, unsigned) {
    return concat(SIG_CONTEXT, threadPk, na().crypto_generichash(64, unsigned));
}

/** keyid ‖ crypto_box_seal(key) made from an ephemeral seed (libsodium's sealed box, byte for byte). */
function wrapKey(pk, key, seed) {
    const s = na();
    const eph = s.crypto_box_seed_keypair(seed);
    const nonce = s.crypto_generichash(24, concat(eph.publicKey, pk));
    const boxed = s.crypto_box_easy(key, nonce, pk, eph.privateKey);
    wipe(eph.privateKey);
    return concat(keyid(pk), eph.publicKey, boxed);
}

function bodyBytes(body) {
    if (typeof body !== 'string') return body;
    if ([...body].length > MAX_BODY_CHARS) throw fail('EMSGSIZE', 'more than 8000 characters');
    return utf8(body);
}

/** Everything before the signature; checks the sender (pk: the signing key's public half). */
function sealUnsigned({ kind, pk, cert, threadPk, recipients, time, body, key, ephSeeds }) {
    const s = na();
    const b = bodyBytes(body);
    if (b.length > MAX_BODY_BYTES) throw fail('EMSGSIZE', 'body too long');
    if (recipients.length + 1 > MAX_RECIPIENTS || !pk || pk.length !== 32) throw fail('EINVAL', 'recipients or key');
    if (kind === FROM_YOUNG ? cert !== null
        : kind !== FROM_COUNSELLOR || !cert || cert.length !== CERT_BYTES || !sameBytes(cert.subarray(14, 46), pk)) {
        throw fail('EINVAL', 'sender');
    }
    const k = key ?? s.randombytes_buf(32);
    const all = [threadPk, ...recipients];
    const parts = [Uint8Array.of(VERSION, kind, all.length)];
    if (kind === FROM_COUNSELLOR) parts.push(cert);
    all.forEach((rpk, i) => {
        const seed = ephSeeds ? ephSeeds.subarray(32 * i, 32 * i + 32) : s.randombytes_buf(32);
        parts.push(wrapKey(rpk, k, seed));
    });
    const head = concat(...parts);
    const inner = new Uint8Array(INNER_HEAD + b.length);
    inner[0] = INNER_TEXT;
    new DataView(inner.buffer).setBigUint64(1, BigInt(time));
    inner.set(b, INNER_HEAD);
    const padded = s.pad(inner, bucketFor(inner.length));
    // K is fresh for every message and encrypts one plaintext: a constant nonce is safe.
    const ct = s.crypto_aead_xchacha20poly1305_ietf_encrypt(padded, head, null, ZERO_NONCE, k);
    wipe(inner, padded);
    if (!key) wipe(k);
    return concat(head, ct);
}

/**
 * Seals one text message. kind FROM_YOUNG (signSk: the thread's sign key, no
 * cert) or FROM_COUNSELLOR (signSk: the device key, cert: its certificate);
 * sealed to threadPk first, then every key of `recipients` (≤ 63 device mail
 * keys); time: Unix milliseconds (Number or BigInt); body: string or UTF-8
 * bytes. `key` and `ephSeeds` are for the vectors only (random otherwise).
 * Returns the envelope; throws EMSGSIZE (body too long) or EINVAL.
 */
export function seal({ kind, signSk, cert = null, threadPk, recipients = [], time, body, key, ephSeeds }) {
    if (!signSk || signSk.length !== 64) throw fail('EINVAL', 'recipients or key');
    const unsigned = sealUnsigned({ kind, pk: signSk.subarray(32), cert, threadPk, recipients, time, body, key, ephSeeds });
    return concat(unsigned, na().crypto_sign_detached(signedMessage(threadPk, unsigned), signSk));
}

/**
 * seal() for a signing key that cannot leave its store (a non-extractable
 * WebCrypto Ed25519 key of a counsellor device): devicePk is its public key,
 * sign(bytes) resolves to the 64-byte Ed25519 signature. Same envelope.
 */
export async function sealWith({ kind, devicePk, sign, cert = null, threadPk, recipients = [], time, body, key, ephSeeds }) {
    const unsigned = sealUnsigned({ kind, pk: devicePk, cert, threadPk, recipients, time, body, key, ephSeeds });
    const sig = await sign(signedMessage(threadPk, unsigned));
    if (!sig || sig.length !== SIG_BYTES) throw fail('EINVAL', 'signature');
    return concat(unsigned, sig);
}

/** K from the first entry addressed to myPk: ENOKEY when none carries its keyid. */
function findMine(env, count, myPk) {
    const id = keyid(myPk);
    const first = headLen(env[1]);
    const mine = [];
    for (let i = 0; i < count; i++) {
        const e = first + i * RECIPIENT_BYTES;
        if (sameBytes(env.subarray(e, e + KEYID_BYTES), id)) mine.push(e + KEYID_BYTES);
    }
    if (mine.length === 0) throw fail('ENOKEY', 'not sealed to this key');
    return mine;
}

function unwrapKey(env, offsets, myPk, mySk) {
    for (const o of offsets) {
        try {
            return na().crypto_box_seal_open(env.subarray(o, o + WRAP_BYTES), myPk, mySk);
        } catch {
            // try the next entry with this keyid
        }
    }
    throw fail('EBADMSG', 'wrapped key does not open');
}

/** The signer's key: the thread's (young) or the certificate's device key (counsellor). */
function signer(env, threadSpk, orgKeys, now) {
    if (env[1] === FROM_YOUNG) return { kind: FROM_YOUNG, counsellorId: 0, devicePk: new Uint8Array(32), spk: threadSpk };
    let c;
    try {
        c = verifyCertPinned(env.subarray(HEAD_BYTES, HEAD_BYTES + CERT_BYTES), orgKeys, now);
    } catch (e) {
        throw e.code === 'EKEYEXPIRED' ? e : fail('EPERM', 'certificate');
    }
    return { kind: FROM_COUNSELLOR, counsellorId: c.counsellorId, devicePk: c.devicePk, spk: c.devicePk };
}

function innerOpen(env, ctOff, key) {
    const s = na();
    const ct = env.subarray(ctOff, env.length - SIG_BYTES);
    let padded;
    let inner;
    try {
        padded = s.crypto_aead_xchacha20poly1305_ietf_decrypt(null, ct, env.subarray(0, ctOff), ZERO_NONCE, key);
        inner = s.unpad(padded, padded.length);
    } catch {
        if (padded) wipe(padded);
        throw fail('EBADMSG', 'decryption or padding');
    }
    let text = null;
    if (inner.length >= INNER_HEAD && bucketFor(inner.length) === padded.length && inner[0] === INNER_TEXT &&
        inner.length - INNER_HEAD <= MAX_BODY_BYTES) {
        try {
            text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(inner.subarray(INNER_HEAD));
        } catch {
            text = null;
        }
    }
    if (text === null) {
        wipe(padded, inner);
        throw fail('EBADMSG', 'inner message');
    }
    const time = new DataView(inner.buffer, inner.byteOffset, inner.byteLength).getBigUint64(1);
    const body = inner.slice(INNER_HEAD);
    wipe(padded, inner);
    return { time, body, text };
}

/**
 * Opens an envelope as the holder of (myPk, mySk) for the thread (threadPk,
 * threadSpk: the young person's sign key). A counsellor's certificate must
 * verify under one of the pinned orgKeys at `now` (seconds). Returns
 * {kind, time (ms, Number), counsellorId, devicePk, body (bytes), text}.
 * Throws EBADMSG (structure, another thread, padding), ENOKEY (not sealed to
 * myPk), EPERM (signature or certificate) or EKEYEXPIRED. Nothing is shown
 * unless this returns.
 */
export function open({ envelope: env, myPk, mySk, threadPk, threadSpk, orgKeys, now }) {
    envelopeCheck(env);
    const count = env[2];
    const first = headLen(env[1]);
    const ctOff = first + count * RECIPIENT_BYTES;
    if (!sameBytes(env.subarray(first, first + KEYID_BYTES), keyid(threadPk))) throw fail('EBADMSG', 'another thread');
    const mine = findMine(env, count, myPk);
    const who = signer(env, threadSpk, orgKeys, now);
    const sig = env.subarray(env.length - SIG_BYTES);
    let ok = false;
    try {
        ok = na().crypto_sign_verify_detached(sig, signedMessage(threadPk, env.subarray(0, env.length - SIG_BYTES)), who.spk);
    } catch {
        ok = false;
    }
    if (!ok) throw fail('EPERM', 'envelope signature');
    const key = unwrapKey(env, mine, myPk, mySk);
    try {
        const inner = innerOpen(env, ctOff, key);
        return {
            kind: who.kind, time: Number(inner.time), counsellorId: who.counsellorId, devicePk: who.devicePk,
            body: inner.body, text: inner.text,
        };
    } finally {
        wipe(key);
    }
}
