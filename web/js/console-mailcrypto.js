// console-mailcrypto.js — what the console's Post area needs of the mail
// cryptography (web/js/mail-crypto.js, proto/PROTOCOL.md §9.2–9.3), in the
// console's terms: the mail key statement, opening an envelope as this device,
// and an answer signed by the device key, which may be a non-extractable
// WebCrypto key (so signing is asynchronous: mail-crypto.js's sealWith).
import { FROM_COUNSELLOR, mailKeyStatement, mailKeyVerify, open, sealWith, validMailKeys } from './mail-crypto.js';

export { FROM_COUNSELLOR, mailKeyStatement, validMailKeys };

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

/** Seals a counsellor's answer to threadPk and the recipients, signed by the
 * device ({publicKey}) through sign(bytes) → Promise<signature>. */
export function sealAnswer({ device, sign, cert, threadPk, recipients, time, text }) {
    return sealWith({
        kind: FROM_COUNSELLOR, devicePk: device.publicKey, sign, cert, threadPk, recipients, time, body: text,
    });
}
