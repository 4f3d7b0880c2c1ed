// chat.js — one end-to-end encrypted conversation on the wire: sequence
// numbers, sealing and opening DATA frames, authenticated ACKs, resending and
// the delivery marks (PROTOCOL.md §3, §5.2, §6). Shared by the young person's
// page and the counsellor console: the acknowledgement logic lives only here.
//
// Every DATA frame sent is kept (ciphertext only) until an ACK whose tag
// verifies with the peer's direction key covers it (a forged or reflected ACK
// is ignored). Unacknowledged frames are sent again after a dropped connection
// (`resumed`), the peer's return (`peer` `back`) and after a timeout (first
// 2 s, doubling to 30 s); the receiver drops duplicates and frames past a gap
// and waits for the resend. After 20 s without progress either way the page is
// told (onStall) so it can say so in plain words.
import { KIND_ACK, decodeFrame, utf8 } from './protocol.js';
import {
    INNER_TEXT, INNER_TIMED_TEXT, INNER_TYPING, MAX_TIMED_TEXT_BYTES, open, openAck, packTimed, parseTimed, parseTyping,
    seal, sealAck, wipe,
} from './crypto.js';
import { currentLocale, setText } from './i18n.js';

const ACK_EVERY = 16;
const ACK_DELAY_MS = 250; // well within the 1 s the protocol allows

/** §6 "Resending" and "Telling people". */
export const TIMING = Object.freeze({ resendFirstMs: 2000, resendMaxMs: 30000, stallMs: 20000 });
/** §6 "Typing": a writer repeats typing 1 at most this often; a reader shows it this long. */
export const TYPING = Object.freeze({ repeatMs: 4000, showMs: 6000 });

export class Channel {
    /**
     * sid: 16 bytes; keys: {tx, rx, txDir} from crypto.js (the channel owns and
     * wipes them); sendBinary(bytes) puts a frame on the socket.
     * onDelivered(seq): every message up to seq has reached the peer (a verified ACK).
     * onStall({tx, rx}): the stall state changed (tx: our messages do not arrive;
     * rx: a message of the peer is missing). timing: TIMING unless a test says otherwise.
     */
    constructor({ sid, keys, sendBinary, onDelivered = () => {}, onStall = () => {}, timing = TIMING }) {
        this.sid = sid;
        this.keys = keys;
        this.sendBinary = sendBinary;
        this.onDelivered = onDelivered;
        this.onStall = onStall;
        this.timing = timing;
        this.txSeq = 0n;
        this.rxSeq = 0n;
        this.unacked = 0;
        this.ackTimer = null;
        this.peerAcked = 0n;
        this.unackedFrames = new Map(); // seq (BigInt) -> frame bytes, until a verified ACK
        this.paused = false; // connection down or peer away: no timed resend
        this.resendMs = timing.resendFirstMs;
        this.resendTimer = null;
        this.progressAt = 0; // last ACK progress, or when the first kept frame went out
        this.stallTimer = null;
        this.gapSince = 0;
        this.gapTimer = null;
        this.txStalled = false;
        this.rxStalled = false;
        this.forgedAcks = 0;
        this.duplicates = 0;
    }

    /** UTF-8 length of a text, to refuse a message that is too long before sending. */
    static fits(text) {
        return utf8(text).length <= MAX_TIMED_TEXT_BYTES;
    }

    /** Encrypts and sends one text message as a timed text (§6) with the sender
     * time timeMs (ms since the epoch); returns its seq (BigInt). */
    sendText(text, timeMs = Date.now()) {
        if (!this.keys) throw new Error('channel closed');
        const raw = utf8(text);
        const body = packTimed(timeMs, raw);
        wipe(raw);
        return this.sendInner(INNER_TIMED_TEXT, body);
    }

    /** A typing notice (§6): true = our person writes, false = stopped. Not sent
     * (false returned) while the connection is down or the peer away. */
    sendTyping(on) {
        if (!this.keys || this.paused) return false;
        this.sendInner(INNER_TYPING, Uint8Array.of(on ? 1 : 0));
        return true;
    }

    sendInner(innerType, body) {
        const seq = this.txSeq + 1n;
        const frame = seal({ key: this.keys.tx, dir: this.keys.txDir, sid: this.sid, seq, body, innerType });
        wipe(body);
        this.txSeq = seq;
        if (this.unackedFrames.size === 0) this.progressAt = Date.now();
        this.unackedFrames.set(seq, frame);
        this.sendBinary(frame);
        this.armTimers();
        return seq;
    }

    /** receive() for a page: {seq, text, timeMs} for a message (timeMs null for
     * a plain text), {seq, typing} for a typing notice, or null for an ACK (its
     * marks go to onDelivered), a duplicate, or a frame refused (its code logged). */
    receiveMessage(bytes) {
        let r;
        try {
            r = this.receive(bytes);
        } catch (e) {
            console.warn('frame rejected:', e.code || e.message);
            return null;
        }
        if (!r || r.ack !== undefined) return null;
        return r;
    }

    /** Sends every frame the peer has not acknowledged yet again, in order. */
    resendUnacked() {
        if (!this.keys) return 0;
        let n = 0;
        for (const frame of this.unackedFrames.values()) {
            this.sendBinary(frame);
            n++;
        }
        if (n) this.schedule('resendTimer', this.resendMs, () => this.onResendTimer());
        return n;
    }

    /** ACKs again what was received (an ACK may have died with the old connection). */
    reack() {
        if (!this.keys || this.rxSeq === 0n) return;
        this.unacked = Math.max(this.unacked, 1);
        this.sendAck();
    }

    /**
     * No timed resends while our connection is down or the peer is away (§6):
     * `resumed` / `peer` `back` resend everything and unpause.
     */
    pause(paused) {
        this.paused = paused;
        if (paused) {
            this.clear('resendTimer');
            this.clear('stallTimer');
            this.clear('gapTimer');
            return;
        }
        // the clocks start again from now
        if (this.unackedFrames.size) this.progressAt = Date.now();
        if (this.gapSince) this.gapSince = Date.now();
        this.armTimers();
        if (this.gapSince && !this.rxStalled) this.schedule('gapTimer', this.timing.stallMs, () => this.onGapTimer());
    }

    /**
     * Handles one binary frame of this session. Returns {ack: seq} when a
     * verified ACK covered something new (onDelivered was called too),
     * {seq, text} for a message, or null for anything not to show (a forged or
     * stale ACK, a duplicate, a frame past a gap). Throws (code EBADMSG/EPROTO)
     * for a frame that failed its checks; it is never shown and the sender's
     * resend brings the authentic one.
     */
    receive(bytes) {
        if (!this.keys) return null;
        const f = decodeFrame(bytes);
        if (f.kind === KIND_ACK) return this.receiveAck(bytes);
        let m;
        try {
            m = open({ key: this.keys.rx, dir: 1 - this.keys.txDir, sid: this.sid, lastRxSeq: this.rxSeq, frame: bytes });
        } catch (e) {
            if (e.code === 'EALREADY') {
                // a resent frame we already have: the ACK for it may have been
                // lost, so acknowledge again (the sender then stops resending)
                this.duplicates++;
                this.scheduleAck();
                return null;
            }
            if (e.code === 'ERANGE') {
                // past a gap: dropped; the sender resends from the gap in order
                this.noteGap();
                return null;
            }
            throw e;
        }
        this.rxSeq = m.seq;
        this.gapSince = 0;
        this.clear('gapTimer');
        if (this.rxStalled) {
            this.rxStalled = false;
            this.stallChanged();
        }
        this.scheduleAck();
        const out = innerMessage(m);
        wipe(m.body);
        return out;
    }

    receiveAck(bytes) {
        let seq;
        try {
            seq = openAck({ key: this.keys.rx, dir: 1 - this.keys.txDir, sid: this.sid, nextTxSeq: this.txSeq + 1n, frame: bytes });
        } catch {
            this.forgedAcks++; // forged, reflected, for old keys: it changes nothing
            return null;
        }
        if (seq <= this.peerAcked) return null;
        this.peerAcked = seq;
        for (const s of this.unackedFrames.keys()) {
            if (s <= seq) this.unackedFrames.delete(s);
        }
        // progress: the back-off and the stall clock start again
        this.resendMs = this.timing.resendFirstMs;
        this.progressAt = Date.now();
        this.clear('resendTimer');
        this.clear('stallTimer');
        if (this.txStalled) {
            this.txStalled = false;
            this.stallChanged();
        }
        this.armTimers();
        this.onDelivered(seq);
        return { ack: seq };
    }

    noteGap() {
        if (this.gapSince) return;
        this.gapSince = Date.now();
        if (!this.paused) this.schedule('gapTimer', this.timing.stallMs, () => this.onGapTimer());
    }

    armTimers() {
        if (this.paused || !this.keys || this.unackedFrames.size === 0) return;
        if (!this.resendTimer) {
            const wait = Math.max(0, this.progressAt + this.resendMs - Date.now());
            this.schedule('resendTimer', wait, () => this.onResendTimer());
        }
        if (!this.stallTimer && !this.txStalled) {
            const wait = Math.max(0, this.progressAt + this.timing.stallMs - Date.now());
            this.schedule('stallTimer', wait, () => this.onStallTimer());
        }
    }

    onResendTimer() {
        this.resendTimer = null;
        if (this.paused || !this.keys || this.unackedFrames.size === 0) return;
        this.resendMs = Math.min(this.resendMs * 2, this.timing.resendMaxMs);
        this.resendUnacked();
    }

    onStallTimer() {
        this.stallTimer = null;
        if (this.paused || !this.keys || this.unackedFrames.size === 0 || this.txStalled) return;
        this.txStalled = true;
        this.stallChanged();
    }

    onGapTimer() {
        this.gapTimer = null;
        if (this.paused || !this.keys || !this.gapSince || this.rxStalled) return;
        this.rxStalled = true;
        this.stallChanged();
    }

    stallChanged() {
        this.onStall({ tx: this.txStalled, rx: this.rxStalled });
    }

    schedule(name, ms, fn) {
        clearTimeout(this[name]);
        this[name] = setTimeout(fn, ms);
    }

    clear(name) {
        clearTimeout(this[name]);
        this[name] = null;
    }

    scheduleAck() {
        this.unacked++;
        if (this.unacked >= ACK_EVERY) {
            this.sendAck();
            return;
        }
        if (!this.ackTimer) this.ackTimer = setTimeout(() => this.sendAck(), ACK_DELAY_MS);
    }

    sendAck() {
        clearTimeout(this.ackTimer);
        this.ackTimer = null;
        if (!this.unacked || !this.keys || this.rxSeq === 0n) return;
        this.unacked = 0;
        this.sendBinary(sealAck({ key: this.keys.tx, dir: this.keys.txDir, sid: this.sid, seq: this.rxSeq }));
    }

    /** Ends the channel: the direction keys are wiped and nothing more is sent. */
    close() {
        for (const t of ['ackTimer', 'resendTimer', 'stallTimer', 'gapTimer']) this.clear(t);
        if (this.keys) wipe(this.keys.tx, this.keys.rx);
        this.keys = null;
        this.unackedFrames.clear();
    }
}

/** What an opened frame says (§6 "Messages"): {seq, text, timeMs}, {seq,
 * typing}, or null for a body that does not fit its type or a type we do not
 * know (accepted and acknowledged all the same, so the channel goes on). */
function innerMessage(m) {
    try {
        if (m.innerType === INNER_TIMED_TEXT) return { seq: m.seq, ...parseTimed(m.body) };
        if (m.innerType === INNER_TYPING) return { seq: m.seq, typing: parseTyping(m.body) };
    } catch (e) {
        console.warn('message dropped:', e.code || e.message);
        return null;
    }
    if (m.innerType !== INNER_TEXT) return null;
    return { seq: m.seq, text: new TextDecoder('utf-8', { fatal: false }).decode(m.body), timeMs: null };
}

/**
 * The delivery marks of one chat's own messages: seq -> the element that shows
 * "sent" / "waiting" / "delivered", and what was sent (text and time) while
 * unconfirmed, so that a new channel can carry it. Both pages use this one
 * implementation.
 */
export class DeliveryMarks {
    constructor() {
        this.pending = new Map();
    }

    /** A message just handed to the channel; `online` picks "sent" or "waiting". */
    add(seq, el, text = null, at = null) {
        this.pending.set(seq, { el, text, at });
    }

    /** A verified ACK covered everything up to seq. */
    delivered(seq) {
        for (const [s, m] of this.pending) {
            if (s <= seq) {
                setText(m.el, 'msg.delivered');
                m.el.classList.add('delivered');
                this.pending.delete(s);
            }
        }
    }

    /** Sent again after the connection came back: "waiting" becomes "sent". */
    resent() {
        for (const m of this.pending.values()) {
            if (m.el.dataset.i18n === 'msg.waiting') setText(m.el, 'msg.sent');
        }
    }

    /**
     * The channel these went out on is gone before a verified ACK covered them
     * (the chat was handed on): each shows "waiting" again, and comes back,
     * oldest first, as {el, text, at} for the next channel to send.
     */
    unconfirmed() {
        const out = [...this.pending.values()];
        this.pending.clear();
        for (const m of out) setText(m.el, 'msg.waiting');
        return out;
    }

    clear() {
        this.pending.clear();
    }
}

/** "14:05": a sender time in the page's language and the device's time zone. */
export function clockTime(timeMs) {
    return new Date(timeMs).toLocaleTimeString(currentLocale(), { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
}

/**
 * Puts a line (an <li>) into a chat's list (an <ol>) at its time (§6 "Order on
 * screen"): after every line whose time is not later, never above a line
 * without a time (the chat's start, a key change: a barrier). Lines of the same
 * time keep the order they came in. Scrolls to the end.
 */
export function placeLine(list, li, timeMs) {
    li.dataset.t = String(timeMs);
    let before = null;
    for (let el = list.lastElementChild; el; el = el.previousElementSibling) {
        if (el.dataset.t === undefined || Number(el.dataset.t) <= timeMs) break;
        before = el;
    }
    list.insertBefore(li, before);
    list.scrollTop = list.scrollHeight;
}

/**
 * Adds one message to a chat's list at its sender time (ms; now when null):
 * the text, the time, and for one of ours (mine) its delivery mark with the
 * text stateKey. Returns the mark's element (for DeliveryMarks), or null. Both
 * pages use this one.
 */
export function appendMessage(list, text, mine, stateKey, timeMs = null) {
    const at = timeMs ?? Date.now();
    const li = document.createElement('li');
    li.className = `msg ${mine ? 'mine' : 'theirs'}`;
    const body = document.createElement('span');
    body.className = 'body';
    body.textContent = text;
    const time = document.createElement('time');
    time.className = 'at';
    time.dateTime = new Date(at).toISOString();
    time.textContent = clockTime(at);
    li.append(body, time);
    let state = null;
    if (mine) {
        state = document.createElement('span');
        state.className = 'state';
        setText(state, stateKey);
        li.append(state);
    }
    placeLine(list, li, at);
    return state;
}

/** Our person writes: typing notices to the peer (§6 "Typing"), at most one
 * typing 1 per TYPING.repeatMs and a typing 0 when the field is emptied.
 * send(on) puts one on the channel and says whether it went. */
export class TypingSignal {
    constructor(send, repeatMs = TYPING.repeatMs) {
        this.send = send;
        this.repeatMs = repeatMs;
        this.on = false;
        this.at = 0;
    }

    /** The text field changed; hasText: something is in it. */
    changed(hasText) {
        const now = Date.now();
        if (hasText) {
            if ((!this.on || now - this.at >= this.repeatMs) && this.send(true)) {
                this.on = true;
                this.at = now;
            }
        } else if (this.on) {
            this.send(false);
            this.on = false;
        }
    }

    /** The message went: the peer stops showing "writes" when it arrives. */
    sent() {
        this.on = false;
    }
}

/** The peer writes: shows el while typing 1 holds (at most TYPING.showMs after the last). */
export class TypingShown {
    constructor(el, showMs = TYPING.showMs) {
        this.el = el;
        this.showMs = showMs;
        this.timer = null;
    }

    set(on) {
        clearTimeout(this.timer);
        this.timer = null;
        this.el.hidden = !on;
        if (on) this.timer = setTimeout(() => { this.el.hidden = true; }, this.showMs);
    }
}

/** The notice key for a stall state ({tx, rx} from onStall), or null when none. */
export function stallNotice({ tx, rx }) {
    if (tx && rx) return 'stall.both';
    if (tx) return 'stall.tx';
    if (rx) return 'stall.rx';
    return null;
}

/** True when a notice element currently shows a stall text. */
export function showsStall(el) {
    return (el.dataset.i18n || '').startsWith('stall.');
}
