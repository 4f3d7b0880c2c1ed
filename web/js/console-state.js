// console-state.js — what the counsellor console's modules share: one state
// object (a module's `let` cannot be assigned from another module) and two
// DOM helpers.
import { setText } from './i18n.js';

export const $ = (id) => document.getElementById(id);

/** Empties an element's text and forgets its i18n key. */
export function clearText(el) {
    delete el.dataset.i18n;
    el.textContent = '';
}

/** Shows a translated text in el, or hides and empties it when key is null. */
export function showText(el, key, vars) {
    if (!key) {
        el.hidden = true;
        clearText(el);
        return;
    }
    setText(el, key, vars);
    el.hidden = false;
}

export const st = {
    trust: null, // the pinned roots of trust.js: {orgKeys, netKeys, roots}; orgKeys grows by the certified organisations
    // Ed25519 device key, kept in IndexedDB: {kind: 'webcrypto', privateKey: a
    // non-extractable CryptoKey, publicKey: 32 bytes}, or where the browser lacks
    // Ed25519 in WebCrypto {kind: 'sodium', privateKey: 64 raw bytes, publicKey}.
    device: null,
    loginHandle: '', // the handle of the login in progress, for login_proof
    conn: null,
    first: null, // what the current connection sent first (login or resume), again after `moved`
    me: null, // login_ok
    cert: null, // Uint8Array, verified against the pinned roots and this device
    mailKey: null, // this device's X25519 mail key {publicKey, secretKey} (console-mailkey.js)
    chats: new Map(), // sidHex -> chat
    selected: null,
    newChatNotice: false,
    lastSummary: null,
    orgTemplates: [], // the organisation's canned replies of this login (console-templates.js)
    chatNo: 0, // the last chat's short number (its label: topic #n)
    status: { available: false, capacity: 1 },
    // After a dropped connection the console resumes with the session token
    // (PROTOCOL.md §4.2, §5.2); chats and their keys stay in memory meanwhile.
    online: false, // logged in or resumed on the current connection
    recon: null, // {lostAt, attempt, timer} while reconnecting
    // the console's handlers of a connection's messages and frames (counsellor.js)
    onMessage: () => {},
    onFrame: () => {},
};

/** Sends a JSON message when logged in on a live connection; false when not. */
export function sendOnline(m) {
    if (!st.conn || !st.online) return false;
    st.conn.sendJson(m);
    return true;
}
