// console-mailkey.js — this device's X25519 mail key (proto/PROTOCOL.md §9.2):
// made on first use, kept in IndexedDB beside the device key, and registered
// with the server (`mail_key`) with the device key's signature over
// "lotse-mailkey-v1" ‖ device pk ‖ mail pk. The secret is stored only wrapped
// (AES-GCM) under a non-extractable WebCrypto key of the same database, so it
// can be read out only by this origin's page, as the device key.
import { b64encode, concat, msg, utf8 } from './protocol.js';
import { wipe } from './crypto.js';
import { sendOnline, st } from './console-state.js';
import { deviceSign, idbRequest, openDb } from './console-device.js';
import { mailKeyStatement } from './console-mailcrypto.js';

const WRAP_CONTEXT = utf8('lotse-mailkey-wrap-v1');

async function wrapKey(db) {
    let key = await idbRequest(db, 'readonly', (store) => store.get('mailwrap'));
    if (!key) {
        key = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
        await idbRequest(db, 'readwrite', (store) => store.put(key, 'mailwrap'));
    }
    return key;
}

async function unwrap(key, kept) {
    const ad = concat(WRAP_CONTEXT, kept.publicKey);
    const raw = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: kept.iv, additionalData: ad }, key, kept.wrapped);
    const secretKey = new Uint8Array(raw);
    const check = globalThis.sodium.crypto_scalarmult_base(secretKey);
    if (check.some((x, i) => x !== kept.publicKey[i])) throw new Error('mail key does not match');
    return { publicKey: kept.publicKey, secretKey };
}

async function makeKey(db, key) {
    const kp = globalThis.sodium.crypto_box_keypair();
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const ad = concat(WRAP_CONTEXT, kp.publicKey);
    const wrapped = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: ad }, key, kp.privateKey));
    await idbRequest(db, 'readwrite', (store) => store.put({ publicKey: kp.publicKey, iv, wrapped }, 'mail'));
    return { publicKey: kp.publicKey, secretKey: kp.privateKey };
}

/** This device's mail key {publicKey, secretKey} (secret in memory until wiped). */
export async function loadMailKey() {
    const db = await openDb();
    try {
        const key = await wrapKey(db);
        const kept = await idbRequest(db, 'readonly', (store) => store.get('mail'));
        if (kept) {
            try {
                return await unwrap(key, kept);
            } catch (e) {
                console.warn('lotse: the stored mail key cannot be read; a new one is made', e.name || '');
            }
        }
        return await makeKey(db, key);
    } finally {
        db.close();
    }
}

/** After a login with a valid certificate: the mail key loaded (or made) and registered. */
export async function registerMailKey() {
    if (!st.cert) return false;
    if (!st.mailKey) st.mailKey = await loadMailKey();
    const sig = await deviceSign(mailKeyStatement(st.device.publicKey, st.mailKey.publicKey));
    return sendOnline(msg('mail_key', { pk: b64encode(st.mailKey.publicKey), sig: b64encode(sig) }));
}

/** Logout: the secret leaves memory (it stays wrapped in IndexedDB). */
export function forgetMailKey() {
    if (st.mailKey) wipe(st.mailKey.secretKey);
    st.mailKey = null;
}
