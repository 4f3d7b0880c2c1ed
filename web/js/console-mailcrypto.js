// console-mailcrypto.js — what the console's Post area needs of the mail
// cryptography (proto/PROTOCOL.md §9.2–9.3, web/js/mail-crypto.js), in the
// console's terms: the mail key statement, opening an envelope as this device,
// sealing an answer signed by the device key (which may be a non-extractable
// WebCrypto key, so signing is asynchronous).
import * as mc from './mail-crypto.js';
import { st } from './console-state.js';

export const mailKeyStatement = mc.mailKeyStatement;

/** True when sig is the device key's signature over the mail key statement. */
export function mailKeyVerify(sig, devicePk, mailPk) {
    try {
        mc.mailKeyVerify(sig, devicePk, mailPk);
        return true;
    } catch {
        return false;
    }
}

/** Opens an envelope as the holder of (myPk, mySk): {kind, time, counsellorId, text}. */
export function openMail(envelope, { myPk, mySk, threadPk, threadSpk, orgKeys, now }) {
    const o = mc.open({ envelope, myPk, mySk, threadPk, threadSpk, orgKeys, now });
    return { kind: o.kind, time: o.time, counsellorId: o.counsellorId, text: o.text };
}

/** Seals an answer to threadPk and the recipients, signed with sign(bytes) by this device. */
export async function sealMail({ kind, sign, cert, threadPk, recipients, time, text }) {
    return mc.sealWith({ kind, devicePk: st.device.publicKey, sign, cert, threadPk, recipients, time, body: text });
}
