// mail-crypto.js — PLACEHOLDER on r/webyoung until r/mailcrypto's file lands
// (that branch owns this file; on merge take theirs). A port of
// proto/src/mail.c (§9.2–9.3) so the young person's page can be built and
// tested: access code, derivation, mail key statement, envelope seal/open.
import { concat, fail, utf8 } from './protocol.js';
import { CERT_BYTES, verifyCert } from './crypto.js';

const na = () => globalThis.sodium;
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const SYMBOLS = 20;
const BUCKETS = [256, 1024, 4096, 16384, 32768];
const INNER_HEAD = 9;
const KEYID = 8;
const WRAP = 80;
const ENTRY = KEYID + WRAP;
const HEAD = 3;
const MAX_RECIPIENTS = 64;
const MAX_BODY = 32000;
const ENVELOPE_MAX = 40960;

export function codeNew() {
    let out = '';
    for (let i = 0; i < SYMBOLS; i++) out += ALPHABET[na().randombytes_uniform(32)];
    return out;
}

export function codeParse(typed) {
    let out = '';
    for (let c of String(typed)) {
        if (c === ' ' || c === '-' || c === '\t') continue;
        c = c.toUpperCase();
        if (c === 'O') c = '0';
        if (c === 'I' || c === 'L') c = '1';
        if (!ALPHABET.includes(c) || out.length === SYMBOLS) throw fail('EINVAL', 'code');
        out += c;
    }
    if (out.length !== SYMBOLS) throw fail('EINVAL', 'code');
    return out;
}

export function codeFormat(canonical) {
    return canonical.match(/.{1,5}/g).join('-');
}

export function derive(canonical) {
    if (canonical.length !== SYMBOLS || [...canonical].some((c) => !ALPHABET.includes(c))) throw fail('EINVAL', 'code');
    const master = na().crypto_generichash(32, concat(utf8('lotse-mail-code-v1'), utf8(canonical)), null);
    const lookup = na().crypto_kdf_derive_from_key(32, 1, 'lotsmail', master);
    const boxSeed = na().crypto_kdf_derive_from_key(32, 2, 'lotsmail', master);
    const box = na().crypto_box_seed_keypair(boxSeed);
    const signSeed = na().crypto_kdf_derive_from_key(32, 3, 'lotsmail', master);
    const sign = na().crypto_sign_seed_keypair(signSeed);
    na().memzero(master);
    na().memzero(boxSeed);
    na().memzero(signSeed);
    return { lookup, boxPk: box.publicKey, boxSk: box.privateKey, signPk: sign.publicKey, signSk: sign.privateKey };
}

function hashCtx(len, ctx, data) {
    return na().crypto_generichash(32, concat(utf8(ctx), data), null).slice(0, len);
}

export function lookupHash(lookup) {
    return hashCtx(32, 'lotse-mail-lookup-v1', lookup);
}

export function keyId(pk) {
    return hashCtx(KEYID, 'lotse-mail-keyid-v1', pk);
}

const statement = (devicePk, mailPk) => concat(utf8('lotse-mailkey-v1'), devicePk, mailPk);

export function mailKeySign(devicePk, mailPk, deviceSk) {
    return na().crypto_sign_detached(statement(devicePk, mailPk), deviceSk);
}

export function mailKeyVerify(sig, devicePk, mailPk) {
    try {
        return sig.length === 64 && na().crypto_sign_verify_detached(sig, statement(devicePk, mailPk), devicePk);
    } catch {
        return false;
    }
}

const headLen = (kind) => HEAD + (kind === 2 ? CERT_BYTES : 0);
const bucketFor = (n) => BUCKETS.find((b) => n + 1 <= b) || 0;

function signedMessage(threadPk, unsignedPart) {
    return concat(utf8('lotse-mail-v1'), threadPk, na().crypto_generichash(64, unsignedPart, null));
}

/** {kind 1|2, signSk, cert (counsellor), threadPk, recipients [pk], time (ms), body bytes} -> envelope. */
export function seal({ kind, signSk, cert, threadPk, recipients, time, body }) {
    if (body.length > MAX_BODY) throw fail('EMSGSIZE', 'body');
    if (recipients.length + 1 > MAX_RECIPIENTS) throw fail('EINVAL', 'recipients');
    const key = na().crypto_aead_xchacha20poly1305_ietf_keygen();
    const parts = [Uint8Array.of(1, kind, recipients.length + 1)];
    if (kind === 2) parts.push(cert);
    for (const pk of [threadPk, ...recipients]) parts.push(keyId(pk), na().crypto_box_seal(key, pk));
    const head = concat(...parts);
    const bucket = bucketFor(INNER_HEAD + body.length);
    const inner = new Uint8Array(INNER_HEAD + body.length);
    inner[0] = 1;
    new DataView(inner.buffer).setBigUint64(1, BigInt(time));
    inner.set(body, INNER_HEAD);
    const padded = na().pad(inner, bucket);
    const ct = na().crypto_aead_xchacha20poly1305_ietf_encrypt(padded, head, null, new Uint8Array(24), key);
    na().memzero(key);
    na().memzero(padded);
    const unsigned = concat(head, ct);
    return concat(unsigned, na().crypto_sign_detached(signedMessage(threadPk, unsigned), signSk));
}

const same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

/** {envelope, myPk, mySk, threadPk, threadSpk, orgPk, now} -> {kind, time, counsellorId, devicePk, body}. */
export function open({ envelope: env, myPk, mySk, threadPk, threadSpk, orgPk, now }) {
    if (env.length < HEAD || env.length > ENVELOPE_MAX || env[0] !== 1 || (env[1] !== 1 && env[1] !== 2)) throw fail('EBADMSG', 'envelope');
    const kind = env[1];
    const count = env[2];
    const fixed = headLen(kind) + count * ENTRY + 16 + 64;
    if (count < 1 || count > MAX_RECIPIENTS || env.length <= fixed || !BUCKETS.includes(env.length - fixed)) throw fail('EBADMSG', 'envelope size');
    const entries = headLen(kind);
    if (!same(env.slice(entries, entries + KEYID), keyId(threadPk))) throw fail('EBADMSG', 'thread key');
    let spk = threadSpk;
    let counsellorId = 0;
    let devicePk = null;
    if (kind === 2) {
        const c = verifyCert(env.slice(HEAD, HEAD + CERT_BYTES), orgPk, now);
        counsellorId = c.counsellorId;
        devicePk = c.devicePk;
        spk = devicePk;
    }
    const sigAt = env.length - 64;
    if (!na().crypto_sign_verify_detached(env.slice(sigAt), signedMessage(threadPk, env.slice(0, sigAt)), spk)) throw fail('EPERM', 'signature');
    const id = keyId(myPk);
    let key = null;
    for (let i = 0; i < count && !key; i++) {
        const e = env.slice(entries + i * ENTRY, entries + (i + 1) * ENTRY);
        if (!same(e.slice(0, KEYID), id)) continue;
        try {
            key = na().crypto_box_seal_open(e.slice(KEYID), myPk, mySk);
        } catch {
            key = null;
        }
    }
    if (!key) throw fail('ENOKEY', 'not for me');
    const ctAt = entries + count * ENTRY;
    const padded = na().crypto_aead_xchacha20poly1305_ietf_decrypt(null, env.slice(ctAt, sigAt), env.slice(0, ctAt), new Uint8Array(24), key);
    na().memzero(key);
    const inner = na().unpad(padded, padded.length);
    if (inner.length < INNER_HEAD || bucketFor(inner.length) !== padded.length || inner[0] !== 1) throw fail('EBADMSG', 'inner');
    const time = new DataView(inner.buffer, inner.byteOffset).getBigUint64(1);
    return { kind, time, counsellorId, devicePk, body: inner.slice(INNER_HEAD) };
}
