// console-post.js — the counsellor console's "Post" area (written counselling,
// proto/PROTOCOL.md §9): the board of threads, claiming one (atomic on the
// server; a colleague may be faster), reading it (each envelope opened with this
// device's mail key, the young person's signature checked against the thread's
// sign_pk, a colleague's answer against the organisation key), answering
// (sealed to the thread's key and every valid device mail key, each checked
// against the pinned organisation key), release, hand over, close.
// Drafts stay in this page's memory: they are never sent, never stored.
import { HEADER_BYTES, VERSION, b64decode, concat, encodeHeader, fail, hexdecode, hexencode, msg } from './protocol.js';
import { FROM_COUNSELLOR, openMail, sealAnswer, validMailKeys } from './console-mailcrypto.js';
import { sendOnline, st } from './console-state.js';
import { deviceSign } from './console-device.js';
import { forgetMailKey, registerMailKey } from './console-mailkey.js';
import * as view from './console-post-view.js';
import { trustOrgCerts } from './trust.js';


export const KIND_MAIL = 3;
const MAIL_ENVELOPE_MAX = 40960;
const KEYS_TIMEOUT_MS = 10000;

const post = {
    items: [], // the board as last listed
    incoming: null, // mail_item rows of the list in flight
    again: false, // mail_changed while a list was in flight
    thread: null, // the claimed thread on screen
    drafts: new Map(), // tid -> text, in memory only
    keys: null, // {entries: [], waiters: []} while a mail_keys answer comes in
    sending: null, // {tid, n, text} until mail_stored
    colleagues: new Set(), // counsellor ids seen in the mail keys' certificates
};

const ACTIONS = {
    claim, release, handover, close, send, draft, back: backToBoard, refresh: requestList,
    colleagues: knownColleagues, loadColleagues: refreshColleagues,
};

/** A MAIL frame (§9.1): header (kind 3, sid = thread id, seq = message number) ‖ envelope. */
function mailFrame(tid, n, envelope) {
    return concat(encodeHeader(KIND_MAIL, tid, n), envelope);
}

/** Parses a MAIL frame into {tid, n, envelope}; throws EPROTO or EMSGSIZE. */
function decodeMailFrame(bytes) {
    if (bytes.length <= HEADER_BYTES || bytes.length > HEADER_BYTES + MAIL_ENVELOPE_MAX) throw fail('EMSGSIZE', 'mail frame size');
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (bytes[0] !== VERSION || bytes[1] !== KIND_MAIL || view.getUint16(2) !== 0) throw fail('EPROTO', 'mail header');
    const n = view.getBigUint64(20);
    if (n === 0n || n > 1000n) throw fail('EPROTO', 'mail seq');
    return { tid: bytes.slice(4, 20), n: Number(n), envelope: bytes.slice(HEADER_BYTES) };
}

/** Logged in with a certificate: the mail key is registered and the board asked for. */
export async function postStart() {
    view.init(ACTIONS);
    closeThread();
    try {
        await registerMailKey();
    } catch (e) {
        console.warn('mail key', e.name || e.message);
        view.notice('post.keyfailed');
    }
    requestList();
}

/** Logout: thread, drafts and the mail key's secret leave memory. */
export function postStop() {
    closeThread();
    post.items = [];
    post.drafts.clear();
    post.colleagues.clear();
    forgetMailKey();
    view.reset();
}

function requestList() {
    if (post.incoming) {
        post.again = true;
        return;
    }
    if (sendOnline(msg('mail_list'))) post.incoming = [];
}

/** A server message of the Post area; false when it is not one. */
export function postMessage(m) {
    switch (m.t) {
    case 'mail_key_ok': return true;
    case 'mail_item': if (post.incoming && post.incoming.length < 200) post.incoming.push(m); return true;
    case 'mail_list_end': listed(); return true;
    case 'mail_changed': requestList(); return true;
    case 'mail_claimed': claimed(m); return true;
    case 'mail_keys': keysPart(m); return true;
    case 'mail_orgcerts': trustOrgCerts(st.trust, Array.isArray(m.certs) ? m.certs.slice(0, 64) : [], Math.floor(Date.now() / 1000)); return true;
    case 'mail_stored': stored(m); return true;
    case 'mail_released': case 'mail_handed_over': case 'mail_closed': done(m); return true;
    default: return false;
    }
}

function listed() {
    post.items = post.incoming || [];
    post.incoming = null;
    const t = post.thread;
    view.renderBoard(post.items, t && t.tidHex);
    // the young person wrote again into the thread on screen: read it anew
    const item = t && post.items.find((x) => x.tid === t.tidHex);
    if (item && item.claimed === 'me' && (item.n | 0) > t.n && !post.sending) {
        sendOnline(msg('mail_claim', { tid: t.tidHex }));
    }
    if (post.again) {
        post.again = false;
        requestList();
    }
}

/** A server error of the Post area (true), or not one of ours (false). */
export function postError(m) {
    const code = m.code;
    if (code === 'mail_key_rejected') {
        view.notice('post.keyrejected');
        return true;
    }
    if (code === 'mail_taken') {
        view.notice('post.taken');
        if (post.thread && post.thread.tidHex === m.tid) closeThread();
        requestList();
        return true;
    }
    if (['mail_not_claimed', 'mail_unknown_thread'].includes(code)) {
        view.notice(`post.${code}`);
        closeThread();
        requestList();
        return true;
    }
    if (post.sending && ['mail_conflict', 'thread_full', 'bad_envelope', 'busy', 'mail_full', 'mail_closed', 'mail_off'].includes(code)) {
        post.sending = null;
        if (post.thread) view.sendFailed(post.thread, code);
        if (code === 'mail_conflict' && post.thread) sendOnline(msg('mail_claim', { tid: post.thread.tidHex }));
        return true;
    }
    return false;
}

// ---- claim and read ------------------------------------------------------------------

function claim(tidHex) {
    view.notice(null);
    sendOnline(msg('mail_claim', { tid: tidHex }));
}

/** `mail_claimed`: ours now; its N messages follow as MAIL frames. */
function claimed(m) {
    let t;
    try {
        t = {
            tidHex: m.tid,
            tid: hexdecode(m.tid),
            topic: m.topic,
            boxPk: b64decode(m.box_pk),
            signPk: b64decode(m.sign_pk),
            n: m.n | 0,
            messages: new Map(), // n -> {from, time, text, counsellorId, problem}
            state: 'open',
        };
        if (t.tid.length !== 16 || t.boxPk.length !== 32 || t.signPk.length !== 32) throw new Error('field size');
    } catch (e) {
        console.warn('mail_claimed with bad fields', e.message);
        return;
    }
    const item = post.items.find((x) => x.tid === m.tid);
    if (item) t.state = item.state;
    post.thread = t;
    view.renderThread(t, post.drafts.get(t.tidHex) || '');
    view.renderBoard(post.items, t.tidHex);
    requestList(); // the board shows it as ours
}

/** A MAIL frame: a message of the thread on screen, opened and shown. */
export function postFrame(bytes) {
    let f;
    try {
        f = decodeMailFrame(bytes);
    } catch {
        return;
    }
    const t = post.thread;
    if (!t || hexencode(f.tid) !== t.tidHex || !st.mailKey) return;
    t.messages.set(f.n, readEnvelope(t, f.envelope));
    if (f.n > t.n) t.n = f.n;
    view.renderMessages(t);
}

function readEnvelope(t, env) {
    try {
        const o = openMail(env, {
            myPk: st.mailKey.publicKey, mySk: st.mailKey.secretKey, threadPk: t.boxPk, threadSpk: t.signPk,
            orgKeys: st.trust.orgKeys, now: Math.floor(Date.now() / 1000),
        });
        return { from: o.kind === FROM_COUNSELLOR ? 'counsellor' : 'young', time: Number(o.time), text: o.text,
            counsellorId: o.counsellorId };
    } catch (e) {
        // ENOKEY: written before this device had its mail key; EPERM: a signature does not hold
        return { problem: e.code === 'ENOKEY' ? 'nokey' : 'bad' };
    }
}

// ---- answer ------------------------------------------------------------------------------

function draft(tidHex, text) {
    if (text) post.drafts.set(tidHex, text);
    else post.drafts.delete(tidHex);
}

/** Every currently valid device mail key of the organisation, fetched and checked. */
function fetchKeys() {
    return new Promise((resolve, reject) => {
        if (!post.keys) {
            post.keys = { entries: [], waiters: [] };
            if (!sendOnline(msg('mail_keys'))) {
                post.keys = null;
                reject(new Error('offline'));
                return;
            }
        }
        const keys = post.keys;
        const timer = setTimeout(() => {
            if (post.keys === keys) post.keys = null;
            reject(new Error('timeout'));
        }, KEYS_TIMEOUT_MS);
        keys.waiters.push((list) => { clearTimeout(timer); resolve(list); });
    });
}

function keysPart(m) {
    const keys = post.keys;
    if (!keys) return;
    try {
        const now = Math.floor(Date.now() / 1000);
        for (const k of validMailKeys(b64decode(m.keys || ''), st.trust.orgKeys, now)) {
            if (keys.entries.length < 63) keys.entries.push(k.mailPk);
            if (!st.me || k.counsellorId !== st.me.id) post.colleagues.add(k.counsellorId);
        }
    } catch {
        /* a broken part: those keys are not used */
    }
    if (m.more === true) return;
    post.keys = null;
    for (const w of keys.waiters) w(keys.entries);
}

async function send(tidHex, text) {
    const t = post.thread;
    if (!t || t.tidHex !== tidHex || post.sending || !text.trim()) return;
    const n = t.n + 1;
    post.sending = { tid: tidHex, n, text };
    view.sending(t, true);
    try {
        const recipients = await fetchKeys();
        const envelope = await sealAnswer({
            device: st.device, sign: deviceSign, cert: st.cert, threadPk: t.boxPk, recipients, time: Date.now(), text,
        });
        if (post.thread !== t || !post.sending) return;
        st.conn.sendBinary(mailFrame(t.tid, n, envelope));
    } catch (e) {
        console.warn('mail answer', e.code || e.message);
        post.sending = null;
        view.sendFailed(t, e.code === 'EMSGSIZE' ? 'toolong' : 'crypto');
    }
}

/** `mail_stored`: our answer is message N; the draft goes. */
function stored(m) {
    const s = post.sending;
    const t = post.thread;
    if (!s || !t || m.tid !== s.tid) return;
    post.sending = null;
    t.messages.set(m.n | 0, { from: 'me', time: Date.now(), text: s.text });
    t.n = Math.max(t.n, m.n | 0);
    post.drafts.delete(s.tid);
    view.renderThread(t, '');
    view.notice('post.sent');
    requestList();
}

// ---- release, hand over, close ---------------------------------------------------------------

function release(tidHex) {
    sendOnline(msg('mail_release', { tid: tidHex }));
}

function handover(tidHex, to) {
    sendOnline(msg('mail_handover', { tid: tidHex, to }));
}

function close(tidHex) {
    sendOnline(msg('mail_close', { tid: tidHex }));
}

/** The colleagues this console knows by number (from the mail keys' certificates). */
export function knownColleagues() {
    return [...post.colleagues].sort((a, b) => a - b);
}

function done(m) {
    const key = { mail_released: 'post.released', mail_handed_over: 'post.handedover', mail_closed: 'post.closed' }[m.t];
    view.notice(key, { to: m.to });
    if (post.thread && post.thread.tidHex === m.tid) closeThread();
    if (m.t !== 'mail_released') post.drafts.delete(m.tid);
    requestList();
}

function closeThread() {
    post.thread = null;
    post.sending = null;
    view.hideThread();
}

function backToBoard() {
    closeThread();
    view.renderBoard(post.items, null);
}

/** For the handover list: ask the server for the keys now and then (cheap). */
export function refreshColleagues() {
    fetchKeys().catch(() => {});
}
