// mail.js — mail counselling on the wire (proto/PROTOCOL.md §9): MAIL frames,
// the counsellor devices' mail keys (each certificate checked against the
// pinned organisation keys and each mail key statement verified before
// anything is sealed to it), and one connection read as a queue of events.
// The cryptography itself is mail-crypto.js; the thin wrappers here are the
// only place the young person's page calls it.
import { HEADER_BYTES, SID_BYTES, VERSION, b64decode, concat, encodeHeader, fail } from './protocol.js';
import { CERT_BYTES, wipe } from './crypto.js';
import * as mc from './mail-crypto.js';
import { chainOrgKeys } from './trust.js';
import { NodeRoute, connect } from './ws.js';

export const KIND_MAIL = 3;
export const ENVELOPE_MAX = 40960;
export const MAX_CHARS = 8000;
/** One `mail_keys` entry: cert (110) ‖ mail_pk (32) ‖ statement signature (64). */
export const MAIL_KEY_ENTRY = CERT_BYTES + 32 + 64;
/** At most 64 recipients: the thread's key and 63 device mail keys. */
export const MAX_DEVICE_KEYS = 63;
export const FROM_YOUNG = 1;
export const FROM_COUNSELLOR = 2;
const WAIT_MS = 20000;

/** Characters as a person counts them (code points, as the server's limit does). */
export function charCount(text) {
    let n = 0;
    for (const _ of text) n++; // eslint-disable-line no-unused-vars
    return n;
}

// ---- frames --------------------------------------------------------------------

export function encodeMailFrame(tid, n, envelope) {
    return concat(encodeHeader(KIND_MAIL, tid, n), envelope);
}

/** {tid, n, envelope} of a MAIL frame; throws EPROTO for anything else. */
export function decodeMailFrame(bytes) {
    if (bytes.length <= HEADER_BYTES || bytes.length > HEADER_BYTES + ENVELOPE_MAX) throw fail('EPROTO', 'mail frame size');
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (bytes[0] !== VERSION || bytes[1] !== KIND_MAIL || view.getUint16(2) !== 0) throw fail('EPROTO', 'mail frame header');
    const seq = view.getBigUint64(20);
    if (seq < 1n || seq > 1000n) throw fail('EPROTO', 'mail frame seq');
    return { tid: bytes.slice(4, 4 + SID_BYTES), n: Number(seq), envelope: bytes.slice(HEADER_BYTES) };
}

// ---- the access code and its keys (mail-crypto.js) ----------------------------------

export function newCode() {
    return mc.codeNew();
}

/** The canonical code for what a person typed, or null when it is not one. */
export function parseCode(typed) {
    try {
        return mc.codeParse(String(typed || ''));
    } catch {
        return null;
    }
}

export function formatCode(canonical) {
    return mc.codeFormat(canonical);
}

/** {lookup, boxPk, boxSk, signPk, signSk} of a canonical code; wipe with wipeKeys. */
export function deriveKeys(canonical) {
    return mc.derive(canonical);
}

export function wipeKeys(k) {
    if (k) wipe(k.lookup, k.boxSk, k.signSk);
}

/** The young person's envelope: text sealed to the thread key and every device key. */
export function sealYoung(keys, recipients, text) {
    return mc.seal({ kind: FROM_YOUNG, signSk: keys.signSk, threadPk: keys.boxPk, recipients, time: Date.now(), body: text });
}

/**
 * Opens one envelope of the thread with the code's keys: a counsellor's only
 * when its certificate verifies under a pinned organisation key and its
 * signature under that certificate's device key; the young person's own under
 * the thread's signing key. Returns {kind, time (ms), text}; throws otherwise.
 */
export function openEnvelope(keys, envelope, orgKeys) {
    const o = mc.open({
        envelope, myPk: keys.boxPk, mySk: keys.boxSk, threadPk: keys.boxPk, threadSpk: keys.signPk, orgKeys,
        now: Math.floor(Date.now() / 1000),
    });
    wipe(o.body);
    return { kind: o.kind, time: Number(o.time), text: o.text };
}

/**
 * The mail keys of `mail_keys` entries that may be sealed to: the certificate
 * valid under a pinned organisation key at `now`, the statement signed by the
 * certificate's device key. Returns {keys: [Uint8Array(32)], rejected: N}.
 */
export function verifyMailKeys(entries, orgKeys, now) {
    const valid = mc.validMailKeys(entries, orgKeys, now);
    const keys = [];
    for (const { mailPk } of valid) {
        if (keys.length < MAX_DEVICE_KEYS && !keys.some((k) => k.every((x, i) => x === mailPk[i]))) keys.push(mailPk);
    }
    return { keys, rejected: Math.floor(entries.length / MAIL_KEY_ENTRY) - valid.length };
}

// ---- one connection ------------------------------------------------------------------

/** An error the server named ({"t":"error","code":…}) or the connection's end. */
export function mailError(code) {
    return Object.assign(fail('EMAIL', code), { mailCode: code });
}

/**
 * One WebSocket for mail requests, read in order: next() gives the next event
 * ({m} a control message, {frame} binary, {closed} the end), expect() the next
 * control message of some types (an `error` or the end throw mailError).
 */
export class MailLink {
    constructor() {
        this.events = [];
        this.wake = null;
        this.closed = false;
        this.conn = null;
        // With two nodes the generic /ws may reach the standby, which answers
        // the first mail message with `moved` (PROTOCOL.md §5.4): fetchKeys
        // then opens again on the serving node's path.
        this.route = new NodeRoute();
    }

    open() {
        if (this.conn) this.conn.close(); // after `moved`: the old one says nothing more
        this.events = [];
        this.closed = false;
        return new Promise((resolve, reject) => {
            let opened = false;
            const c = connect({
                route: this.route,
                onMoved: (m) => c === this.conn && this.push({ m }),
                onOpen: () => {
                    opened = true;
                    resolve();
                },
                onMessage: (m) => c === this.conn && this.push({ m }),
                onFrame: (frame) => c === this.conn && this.push({ frame }),
                onClose: (code) => {
                    if (!opened) reject(mailError('lost'));
                    if (c !== this.conn) return;
                    this.closed = true;
                    this.push({ closed: code });
                },
            });
            this.conn = c;
        });
    }

    isOpen() {
        return !this.closed && this.conn && this.conn.isOpen();
    }

    push(ev) {
        this.events.push(ev);
        if (this.wake) this.wake();
    }

    async next(ms = WAIT_MS) {
        if (!this.events.length) {
            if (this.closed) return { closed: 1006 };
            await new Promise((resolve, reject) => {
                const timer = setTimeout(() => {
                    this.wake = null;
                    reject(mailError('lost'));
                }, ms);
                this.wake = () => {
                    clearTimeout(timer);
                    this.wake = null;
                    resolve();
                };
            });
        }
        return this.events.shift() || { closed: 1000 };
    }

    /** The next control message whose `t` is one of `types` (others are skipped). */
    async expect(types, ms) {
        for (;;) {
            const ev = await this.next(ms);
            if (ev.closed !== undefined) throw mailError('lost');
            if (!ev.m) continue;
            if (ev.m.t === 'error') throw mailError(typeof ev.m.code === 'string' ? ev.m.code : 'other');
            if (ev.m.t === 'moved') throw mailError('moved');
            if (types.includes(ev.m.t)) return ev.m;
        }
    }

    /** The next binary frame (a MAIL frame of the thread). */
    async frame(ms) {
        for (;;) {
            const ev = await this.next(ms);
            if (ev.closed !== undefined) throw mailError('lost');
            if (ev.m && ev.m.t === 'error') throw mailError(typeof ev.m.code === 'string' ? ev.m.code : 'other');
            if (ev.frame) return decodeMailFrame(ev.frame);
        }
    }

    send(obj) {
        this.conn.sendJson(JSON.stringify(obj));
    }

    sendBinary(bytes) {
        this.conn.sendBinary(bytes);
    }

    close() {
        this.closed = true;
        if (this.conn) this.conn.close();
        if (this.wake) this.wake();
    }

    /**
     * `mail_keys` until `more` is false; the verified keys (see verifyMailKeys).
     * The `mail_orgcerts` before them add the organisation keys that the pinned
     * network keys certify (§9.1): this.orgKeys is then every organisation key
     * this connection trusts, for the keys and for opening answers.
     */
    async fetchKeys(trust) {
        // the first message of every link: a `moved` answer to it means
        // another node serves; the same request goes there (a few times)
        for (let moves = 0; ; moves++) {
            try {
                return await this.readKeys(trust);
            } catch (e) {
                if (e.mailCode !== 'moved' || moves >= 4) throw e;
            }
            await new Promise((resolve) => setTimeout(resolve, this.route.takeWait()));
            await this.open();
        }
    }

    async readKeys(trust) {
        this.send({ t: 'mail_keys' });
        const now = Math.floor(Date.now() / 1000);
        const certs = [];
        const parts = [];
        for (let i = 0; i < 32; i++) {
            const m = await this.expect(['mail_keys', 'mail_orgcerts']);
            if (m.t === 'mail_orgcerts') {
                for (const c of Array.isArray(m.certs) ? m.certs.slice(0, 64) : []) {
                    if (typeof c === 'string') certs.push(b64decode(c));
                }
                continue;
            }
            const bytes = typeof m.keys === 'string' ? b64decode(m.keys) : new Uint8Array(0);
            if (bytes.length % MAIL_KEY_ENTRY !== 0) throw mailError('other');
            parts.push(bytes);
            if (m.more !== true) break;
        }
        this.orgKeys = [...trust.orgKeys, ...chainOrgKeys(certs, trust, now).map((o) => o.orgPk)];
        return verifyMailKeys(concat(...parts), this.orgKeys, now).keys;
    }
}
