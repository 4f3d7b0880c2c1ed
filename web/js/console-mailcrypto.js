// console-mailcrypto.js — what the console's Post area needs of the mail
// cryptography (web/js/mail-crypto.js, proto/PROTOCOL.md §9.2–9.3), in the
// console's terms. The one addition: an answer signed by the device key when
// that key is a non-extractable WebCrypto key (mail-crypto.js's seal wants the
// raw Ed25519 secret). The envelope is sealed with a stand-in secret whose
// public half is the device key (all seal checks against the certificate), its
// signature replaced by the device's over "lotse-mail-v1" ‖ thread pk ‖
// BLAKE2b-512(envelope before the signature) (§9.3).
import { concat, utf8 } from './protocol.js';
import { wipe } from './crypto.js';
import { FROM_COUNSELLOR, mailKeyVerify, open, seal, validMailKeys } from './mail-crypto.js';

const STATEMENT_CONTEXT = utf8('lotse-mailkey-v1');
const SIG_CONTEXT = utf8('lotse-mail-v1');
const SIG_BYTES = 64;

export { FROM_COUNSELLOR, validMailKeys };

/** The bytes a device key signs for a mail key (lotse_mail_key_sign). */
export function mailKeyStatement(devicePk, mailPk) {
    return concat(STATEMENT_CONTEXT, devicePk, mailPk);
}

/** True when sig is the device key's signature over the mail key statement. */
export function mailKeyValid(sig, devicePk, mailPk) {
    try {
        mailKeyVerify(sig, devicePk, mailPk);
        return true;
    } catch {
        return false;
    }
}

/** Opens an envelope as this device: {kind, time, counsellorId, devicePk, text}; throws with a code. */
export function openMail(envelope, { myPk, mySk, threadPk, threadSpk, orgKeys, now }) {
    return open({ envelope, myPk, mySk, threadPk, threadSpk, orgKeys, now });
}

/** Seals a counsellor's answer to threadPk and the recipients, signed by device
 * ({kind, publicKey, privateKey}) through sign(bytes) → Promise<signature>. */
export async function sealAnswer({ device, sign, cert, threadPk, recipients, time, text }) {
    if (device.kind !== 'webcrypto') {
        return seal({ kind: FROM_COUNSELLOR, signSk: device.privateKey, cert, threadPk, recipients, time, body: text });
    }
    const standIn = concat(globalThis.sodium.randombytes_buf(32), device.publicKey);
    let env;
    try {
        env = seal({ kind: FROM_COUNSELLOR, signSk: standIn, cert, threadPk, recipients, time, body: text });
    } finally {
        wipe(standIn);
    }
    const unsigned = env.subarray(0, env.length - SIG_BYTES);
    const digest = globalThis.sodium.crypto_generichash(64, unsigned);
    const sig = await sign(concat(SIG_CONTEXT, threadPk, digest));
    return concat(unsigned, sig);
}
