// The browser's conversation logic (web/js/chat.js) over a hostile link:
// authenticated ACKs (a forged ACK never marks a message delivered), resending
// after a timeout, duplicates and gaps dropped, and the stall notices of
// PROTOCOL.md §6. Two Channels with real keys; the "server" between them is a
// function that may drop, reorder, corrupt, truncate or forge frames.
// Run: node --test tests/browser/chat.test.mjs
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';

import { loadSodium } from './sodium-node.mjs';

let C; // crypto.js
let P; // protocol.js
let Chat; // chat.js

const FAST = { resendFirstMs: 40, resendMaxMs: 320, stallMs: 400 };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

before(async () => {
    await loadSodium();
    C = await import('../../web/js/crypto.js');
    P = await import('../../web/js/protocol.js');
    Chat = await import('../../web/js/chat.js');
});

/**
 * A young person and a counsellor joined by `link(frame, toCounsellor)`, which
 * returns the frames to deliver (none, the same, changed ones, more).
 */
function pair(link) {
    const S = globalThis.sodium;
    const sid = S.randombytes_buf(16);
    const y = S.crypto_kx_keypair();
    const c = S.crypto_kx_keypair();
    const side = (name) => ({ name, got: [], delivered: [], stalls: [], rejected: 0 });
    const Y = side('young');
    const K = side('counsellor');
    const deliver = (to, bytes) => {
        setTimeout(() => {
            let r;
            try {
                r = to.ch.receive(bytes);
            } catch {
                to.rejected++;
                return;
            }
            if (r && r.text !== undefined) to.got.push(r.text);
        }, 1);
    };
    const mk = (me, other, keys, toCounsellor) => new Chat.Channel({
        sid,
        keys,
        timing: FAST,
        sendBinary: (b) => {
            for (const f of link(Uint8Array.from(b), toCounsellor)) deliver(other, f);
        },
        onDelivered: (seq) => me.delivered.push(seq),
        onStall: (st) => me.stalls.push({ ...st }),
    });
    Y.ch = mk(Y, K, C.youngKeys(y.publicKey, y.privateKey, c.publicKey), true);
    K.ch = mk(K, Y, C.counsellorKeys(c.publicKey, c.privateKey, y.publicKey), false);
    return { Y, K, sid };
}

const kind = (f) => f[1];
const seqOf = (f) => new DataView(f.buffer, f.byteOffset).getBigUint64(20);

async function until(what, fn, ms = 5000) {
    const end = Date.now() + ms;
    while (!fn()) {
        if (Date.now() > end) throw new Error(`timed out: ${what}`);
        await sleep(10);
    }
}

describe('chat.js over a hostile link (PROTOCOL.md §6)', () => {
    test('a dropped message with a forged ACK is not marked delivered, is sent again and arrives once', async () => {
        let dropped = 0;
        let forged = 0;
        let p;
        p = pair((f, toC) => {
            if (toC && kind(f) === P.KIND_DATA && seqOf(f) === 1n && dropped === 0) {
                dropped++;
                // the relay drops it and answers in the counsellor's name: an ACK
                // of seq 1 with a zero tag, and one in the old form without a tag
                const fake = P.concat(P.encodeHeader(P.KIND_ACK, f.slice(4, 20), 1n), new Uint8Array(16));
                forged += 2;
                setTimeout(() => {
                    p.Y.ch.receive(fake);
                    try {
                        p.Y.ch.receive(P.encodeHeader(P.KIND_ACK, f.slice(4, 20), 1n));
                    } catch (e) {
                        assert.equal(e.code, 'EPROTO');
                    }
                }, 1);
                return [];
            }
            return [f];
        });
        const { Y, K } = p;
        Y.ch.sendText('hallo');
        await sleep(20);
        assert.equal(forged, 2);
        assert.equal(Y.ch.forgedAcks, 1, 'the tagged forgery was checked and ignored');
        assert.deepEqual(Y.delivered, [], 'not delivered on a forged ACK');
        assert.equal(Y.ch.unackedFrames.size, 1, 'still kept for resending');
        await until('arrives', () => K.got.length === 1);
        await until('delivered', () => Y.delivered.length === 1);
        await sleep(200);
        assert.deepEqual(K.got, ['hallo']);
        assert.deepEqual(Y.delivered, [1n]);
        assert.equal(Y.ch.unackedFrames.size, 0);
        Y.ch.close();
        K.ch.close();
    });

    test('drops, reordering, corruption and truncation: every message arrives once, in order', async () => {
        const copies = new Map();
        let held = null;
        const p = pair((f, toC) => {
            if (!toC || kind(f) !== P.KIND_DATA) return [f];
            const seq = Number(seqOf(f));
            const n = (copies.get(seq) || 0) + 1;
            copies.set(seq, n);
            if (seq === 1 && n === 1) { const x = Uint8Array.from(f); x[60] ^= 0x40; return [x]; } // corrupted
            if (seq === 1 && n === 2) return [f.slice(0, 100)]; // truncated
            if (n > 1) return [f];
            switch (seq) {
            case 3: return []; // dropped
            case 5: held = f; return []; // reordered: after 6
            case 6: return [f, held];
            case 11: return [f, f, f]; // duplicated
            default: return [f];
            }
        });
        const { Y, K } = p;
        const want = [];
        for (let i = 1; i <= 12; i++) {
            want.push(`m${i}`);
            Y.ch.sendText(`m${i}`);
        }
        await until('all arrive', () => K.got.length >= 12);
        await sleep(300);
        assert.deepEqual(K.got, want);
        await until('all delivered', () => Y.ch.unackedFrames.size === 0);
        assert.equal(Y.delivered.at(-1), 12n);
        assert.ok(K.rejected >= 2, 'the corrupted and the truncated frame were refused');
        Y.ch.close();
        K.ch.close();
    });

    test('no progress for the stall time: both sides are told, and the notice goes when it heals', async () => {
        let broken = true;
        const p = pair((f, toC) => {
            if (broken && toC && kind(f) === P.KIND_DATA && seqOf(f) === 1n) return [];
            return [f];
        });
        const { Y, K } = p;
        Y.ch.sendText('eins');
        Y.ch.sendText('zwei'); // arrives past the gap: the counsellor waits for 1
        await until('sender told', () => Y.stalls.some((s) => s.tx));
        await until('receiver told', () => K.stalls.some((s) => s.rx));
        assert.equal(Chat.stallNotice(Y.stalls.at(-1)), 'stall.tx');
        assert.equal(Chat.stallNotice(K.stalls.at(-1)), 'stall.rx');
        assert.deepEqual(K.got, []);
        broken = false;
        await until('healed', () => K.got.length === 2);
        await until('sender calm', () => !Y.stalls.at(-1).tx);
        await until('receiver calm', () => !K.stalls.at(-1).rx);
        assert.deepEqual(K.got, ['eins', 'zwei']);
        Y.ch.close();
        K.ch.close();
    });

    test('while paused (connection down, peer away) nothing is resent and nobody is told', async () => {
        let sent = 0;
        const p = pair((f, toC) => {
            if (toC && kind(f) === P.KIND_DATA) sent++;
            return toC ? [] : [f];
        });
        const { Y } = p;
        Y.ch.pause(true);
        Y.ch.sendText('später');
        await sleep(FAST.stallMs + 200);
        assert.equal(sent, 1);
        assert.deepEqual(Y.stalls, []);
        Y.ch.pause(false);
        await until('resent after unpause', () => sent >= 2);
        Y.ch.close();
        p.K.ch.close();
    });
});
