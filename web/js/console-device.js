// console-device.js — the counsellor device's Ed25519 key: made on first use,
// kept in IndexedDB (a non-extractable WebCrypto key where the browser has
// Ed25519), signing with it, and the device panel of the login view.
import { setText } from './i18n.js';
import { b64encode, hexencode } from './protocol.js';
import { wipe } from './crypto.js';
import { $, st } from './console-state.js';

/** The console's IndexedDB (one object store 'keys'). */
export function openDb() {
    return new Promise((resolve, reject) => {
        const r = indexedDB.open('lotse-counsellor', 1);
        r.onupgradeneeded = () => r.result.createObjectStore('keys');
        r.onsuccess = () => resolve(r.result);
        r.onerror = () => reject(r.error);
    });
}

/** One request on the 'keys' store in its own transaction; resolves with its result. */
export function idbRequest(db, mode, fn) {
    return new Promise((resolve, reject) => {
        const tx = db.transaction('keys', mode);
        const r = fn(tx.objectStore('keys'));
        tx.oncomplete = () => resolve(r.result);
        tx.onerror = () => reject(tx.error);
    });
}

// PKCS#8 wrapping of a 32-byte Ed25519 seed (RFC 8410), to move a raw key into WebCrypto.
const ED25519_PKCS8_PREFIX = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b,
    0x65, 0x70, 0x04, 0x22, 0x04, 0x20]);

/** A new non-extractable WebCrypto key, or null where the browser has no Ed25519. */
async function webcryptoKey(seed) {
    try {
        let privateKey, publicKey;
        if (seed) {
            const der = new Uint8Array(ED25519_PKCS8_PREFIX.length + 32);
            der.set(ED25519_PKCS8_PREFIX);
            der.set(seed, ED25519_PKCS8_PREFIX.length);
            privateKey = await crypto.subtle.importKey('pkcs8', der, { name: 'Ed25519' }, false, ['sign']);
            wipe(der);
            publicKey = null;
        } else {
            const kp = await crypto.subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify']);
            privateKey = kp.privateKey;
            publicKey = new Uint8Array(await crypto.subtle.exportKey('raw', kp.publicKey));
        }
        if (privateKey.extractable) return null;
        return { kind: 'webcrypto', privateKey, publicKey };
    } catch (e) {
        return null;
    }
}

/** The device's Ed25519 key: made on first use, then kept in IndexedDB. Where
 * WebCrypto has Ed25519 the secret key is a non-extractable CryptoKey (a key
 * kept as raw bytes by an older console is moved into one, same public key). */
export async function loadDeviceKey() {
    const db = await openDb();
    let kp = await idbRequest(db, 'readonly', (store) => store.get('device'));
    if (kp && kp.kind !== 'webcrypto' && kp.privateKey instanceof Uint8Array) {
        const moved = await webcryptoKey(kp.privateKey.subarray(0, 32));
        if (moved) {
            moved.publicKey = kp.publicKey;
            await idbRequest(db, 'readwrite', (store) => store.put(moved, 'device'));
            wipe(kp.privateKey);
            kp = moved;
        } else {
            kp.kind = 'sodium';
        }
    }
    if (!kp) {
        kp = await webcryptoKey(null);
        if (!kp) {
            const k = globalThis.sodium.crypto_sign_keypair();
            kp = { kind: 'sodium', publicKey: k.publicKey, privateKey: k.privateKey };
        }
        await idbRequest(db, 'readwrite', (store) => store.put(kp, 'device'));
    }
    db.close();
    if (kp.kind !== 'webcrypto') console.warn('lotse: no Ed25519 in WebCrypto; the device key is stored as raw bytes');
    return kp;
}

/** Signs bytes with the device key (Ed25519, detached, 64 bytes). */
export async function deviceSign(bytes) {
    if (st.device.kind === 'webcrypto')
        return new Uint8Array(await crypto.subtle.sign({ name: 'Ed25519' }, st.device.privateKey, bytes));
    return globalThis.sodium.crypto_sign_detached(bytes, st.device.privateKey);
}

function fingerprint(pk) {
    const h = hexencode(globalThis.sodium.crypto_generichash(8, pk));
    return h.match(/.{4}/g).join(' ');
}

/** The part of the lotsectl command that names this device for handle; the
 * admin adds the database and the organisation key (device.command.where). */
export function certifyCommand(handle) {
    return `lotsectl device-certify --handle ${handle || '<handle>'} --device ${b64encode(st.device.publicKey)}`;
}

/** The device panel of the login view: fingerprint, public key, command. */
export function showDevice() {
    if (st.device.kind !== 'webcrypto' && !$('device-weak')) {
        const p = document.createElement('p');
        p.id = 'device-weak';
        p.className = 'error';
        setText(p, 'device.weak');
        $('device-fp').parentElement.after(p);
    }
    $('device-pk').textContent = b64encode(st.device.publicKey);
    $('device-fp').textContent = fingerprint(st.device.publicKey);
    $('uncert-fp').textContent = fingerprint(st.device.publicKey);
    $('device-cmd').textContent = certifyCommand($('handle').value.trim());
}
