// console-mailcrypto.js — what the console's Post area needs of the mail
// cryptography (proto/PROTOCOL.md §9.2–9.3, web/js/mail-crypto.js), in the
// console's terms: the mail key statement, opening an envelope as this device,
// sealing an answer signed by the device key (which may be a non-extractable
// WebCrypto key, so signing is asynchronous).
import { concat, fail, utf8 } from './protocol.js';

const STATEMENT_CONTEXT = utf8('lotse-mailkey-v1');

/** The bytes a device key signs for a mail key (lotse_mail_key_sign). */
export function mailKeyStatement(devicePk, mailPk) {
    return concat(STATEMENT_CONTEXT, devicePk, mailPk);
}

/** True when sig is the device key's signature over the mail key statement. */
export function mailKeyVerify(sig, devicePk, mailPk) {
    return globalThis.sodium.crypto_sign_verify_detached(sig, mailKeyStatement(devicePk, mailPk), devicePk);
}

/** Opens an envelope as the holder of (myPk, mySk): {kind, time, counsellorId, text}. */
export function openMail() {
    throw fail('ENOSYS', 'mail-crypto.js is not there yet');
}

/** Seals an answer to threadPk and the recipients, signed with sign(bytes). */
export async function sealMail() {
    throw fail('ENOSYS', 'mail-crypto.js is not there yet');
}
