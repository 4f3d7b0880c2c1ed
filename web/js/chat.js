// chat.js — one end-to-end encrypted conversation on the wire: sequence
// numbers, sealing and opening DATA frames, and ACKs (PROTOCOL.md §3, §6).
// Shared by the young person's page and the counsellor console.
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
        this.sendBinary(frame);
        return seq;
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
            return { ack: this.peerAcked };
        }
        let m;
        try {
            m = open({ key: this.keys.rx, dir: 1 - this.keys.txDir, sid: this.sid, lastRxSeq: this.rxSeq, frame: bytes });
        } catch (e) {
            if (e.code === 'EALREADY') return null;
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
    }
}
