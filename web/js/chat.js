// chat.js — one end-to-end encrypted conversation on the wire: sequence
// numbers, sealing and opening DATA frames, and ACKs (PROTOCOL.md §3, §6).
// Shared by the young person's page and the counsellor console.
//
// Every DATA frame sent is kept (ciphertext only) until the peer's ACK covers
// it, so that after a dropped connection (`resumed`) or the peer's return
// (`peer` `back`) the unacknowledged ones can be sent again (§5.2); the
// receiver drops duplicates by sequence number and ACKs again.
import { KIND_ACK, MAX_BODY_BYTES, decodeFrame, encodeAck, utf8 } from './protocol.js';
import { open, seal, wipe, INNER_TEXT } from './crypto.js';

const ACK_EVERY = 16;
const ACK_DELAY_MS = 250; // well within the 1 s the protocol allows

export class Channel {
    /**
     * sid: 16 bytes; keys: {tx, rx, txDir} from crypto.js (the channel owns and
     * wipes them); sendBinary(bytes) puts a frame on the socket.
     */
    constructor({ sid, keys, sendBinary }) {
        this.sid = sid;
        this.keys = keys;
        this.sendBinary = sendBinary;
        this.txSeq = 0n;
        this.rxSeq = 0n;
        this.unacked = 0;
        this.ackTimer = null;
        this.peerAcked = 0n;
        this.unackedFrames = new Map(); // seq (BigInt) -> frame bytes, until ACKed
    }

    /** UTF-8 length of a text, to refuse a message that is too long before sending. */
    static fits(text) {
        return utf8(text).length <= MAX_BODY_BYTES;
    }

    /** Encrypts and sends one text message; returns its seq (BigInt). */
    sendText(text) {
        if (!this.keys) throw new Error('channel closed');
        const body = utf8(text);
        const seq = this.txSeq + 1n;
        const frame = seal({ key: this.keys.tx, dir: this.keys.txDir, sid: this.sid, seq, body });
        wipe(body);
        this.txSeq = seq;
        this.unackedFrames.set(seq, frame);
        this.sendBinary(frame);
        return seq;
    }

    /** Sends every frame the peer has not acknowledged yet again, in order. */
    resendUnacked() {
        if (!this.keys) return 0;
        let n = 0;
        for (const frame of this.unackedFrames.values()) {
            this.sendBinary(frame);
            n++;
        }
        return n;
    }

    /** ACKs again what was received (an ACK may have died with the old connection). */
    reack() {
        if (!this.keys || this.rxSeq === 0n) return;
        this.unacked = Math.max(this.unacked, 1);
        this.sendAck();
    }

    /**
     * Handles one binary frame of this session. Returns {ack: seq} for an ACK
     * (the peer has everything up to seq), {seq, text} for a message, or null
     * for a duplicate. Throws (code EBADMSG/ERANGE/EPROTO) for a frame that
     * must not be shown.
     */
    receive(bytes) {
        if (!this.keys) return null;
        const f = decodeFrame(bytes);
        if (f.kind === KIND_ACK) {
            if (f.seq > this.peerAcked && f.seq <= this.txSeq) this.peerAcked = f.seq;
            for (const seq of this.unackedFrames.keys()) {
                if (seq <= this.peerAcked) this.unackedFrames.delete(seq);
            }
            return { ack: this.peerAcked };
        }
        let m;
        try {
            m = open({ key: this.keys.rx, dir: 1 - this.keys.txDir, sid: this.sid, lastRxSeq: this.rxSeq, frame: bytes });
        } catch (e) {
            if (e.code === 'EALREADY') {
                // a resent frame we already have: the ACK for it may have been
                // lost, so acknowledge again (the sender then stops resending)
                this.scheduleAck();
                return null;
            }
            throw e;
        }
        this.rxSeq = m.seq;
        this.scheduleAck();
        if (m.innerType !== INNER_TEXT) return null;
        const text = new TextDecoder('utf-8', { fatal: false }).decode(m.body);
        wipe(m.body);
        return { seq: m.seq, text };
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
        if (!this.unacked || !this.keys) return;
        this.unacked = 0;
        this.sendBinary(encodeAck(this.sid, this.rxSeq));
    }

    /** Ends the channel: the direction keys are wiped and nothing more is sent. */
    close() {
        clearTimeout(this.ackTimer);
        this.ackTimer = null;
        if (this.keys) wipe(this.keys.tx, this.keys.rx);
        this.keys = null;
        this.unackedFrames.clear();
    }
}
