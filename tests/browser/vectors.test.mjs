// Interop: every case of proto/vectors/crypto.txt, frames.txt and mail.txt,
// checked byte for byte with web/js/crypto.js, protocol.js and mail-crypto.js on the vendored
// libsodium.js. Run: node --test tests/browser/vectors.test.mjs
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';

import { WEB, loadSodium } from './sodium-node.mjs';

const VECTORS = join(WEB, '..', 'proto', 'vectors');
let C; // web/js/crypto.js
let P; // web/js/protocol.js
let M; // web/js/mail-crypto.js

/** Parses "key = value" blocks separated by blank lines; '#' lines are comments. */
function readCases(file) {
    const cases = [];
    let cur = null;
    for (const raw of readFileSync(join(VECTORS, file), 'utf8').split('\n')) {
        const line = raw.trimEnd();
        if (line.startsWith('#')) continue;
        if (line === '') {
            cur = null;
            continue;
        }
        const eq = line.indexOf(' =');
        if (eq < 0) throw new Error(`${file}: cannot parse line: ${line}`);
        const key = line.slice(0, eq);
        const value = line.slice(eq + 2).trim();
        if (key === 'name') {
            cur = { name: value };
            cases.push(cur);
        } else {
            if (!cur) throw new Error(`${file}: field outside a case: ${line}`);
            cur[key] = value;
        }
    }
    return cases;
}

const hex = (s) => P.hexdecode(s ?? '');
const toHex = (b) => P.hexencode(b);

/** Runs fn and returns 'ok' or the errno-style code it threw. */
function outcome(fn) {
    try {
        fn();
        return 'ok';
    } catch (e) {
        if (!e.code) throw e;
        return e.code;
    }
}

const crypto = readCases('crypto.txt');
const frames = readCases('frames.txt');
const mail = readCases('mail.txt');

before(async () => {
    await loadSodium();
    C = await import('../../web/js/crypto.js');
    P = await import('../../web/js/protocol.js');
    M = await import('../../web/js/mail-crypto.js');
});

describe('crypto.txt', () => {
    test('has cases of every operation', () => {
        const ops = new Set(crypto.map((c) => c.op));
        for (const op of ['session', 'cert_verify', 'kx_verify', 'seal', 'open', 'safety', 'ack', 'ack_open', 'timed',
            'typing', 'orgcert_sign', 'orgcert_verify', 'chain_verify']) {
            assert.ok(ops.has(op), op);
        }
    });

    for (const v of crypto) {
        test(`${v.name} (${v.op}) → ${v.expect}`, () => CHECKS[v.op](v));
    }
});

const CHECKS = {
    session(v) {
        const S = globalThis.sodium;
        const org = S.crypto_sign_seed_keypair(hex(v.org_seed));
        assert.equal(toHex(org.publicKey), v.org_pk);
        const dev = S.crypto_sign_seed_keypair(hex(v.device_seed));
        assert.equal(toHex(dev.publicKey), v.device_pk);
        const cert = C.makeCert(org.privateKey, Number(v.counsellor_id), v.expires, dev.publicKey);
        assert.equal(toHex(cert), v.cert);
        const young = S.crypto_kx_seed_keypair(hex(v.young_seed));
        assert.equal(toHex(young.publicKey), v.young_pk);
        assert.equal(toHex(young.privateKey), v.young_sk);
        const couns = S.crypto_kx_seed_keypair(hex(v.counsellor_seed));
        assert.equal(toHex(couns.publicKey), v.counsellor_pk);
        assert.equal(toHex(couns.privateKey), v.counsellor_sk);
        const sid = hex(v.sid);
        assert.equal(toHex(C.transcript(sid, young.publicKey, couns.publicKey)), v.transcript);
        const sig = C.signTranscript(dev.privateKey, sid, young.publicKey, couns.publicKey);
        assert.equal(toHex(sig), v.transcript_sig);
        // what the young person's client checks before sending a word
        const checked = C.verifyCounsellorKeys({
            cert, sig, counsellorPk: couns.publicKey, sid, ownPk: young.publicKey,
            orgKeys: [org.publicKey], now: Number(v.now),
        });
        assert.equal(checked.counsellorId, Number(v.counsellor_id));
        const yk = C.youngKeys(young.publicKey, young.privateKey, couns.publicKey);
        const ck = C.counsellorKeys(couns.publicKey, couns.privateKey, young.publicKey);
        assert.equal(toHex(yk.tx), v.key_y2c);
        assert.equal(toHex(ck.rx), v.key_y2c);
        assert.equal(toHex(ck.tx), v.key_c2y);
        assert.equal(toHex(yk.rx), v.key_c2y);
        const body = hex(v.msg);
        const inner = Number(v.inner_type);
        const y2c = C.seal({ key: yk.tx, dir: yk.txDir, sid, seq: 1n, body, innerType: inner });
        assert.equal(toHex(y2c), v.frame_y2c_1);
        const c2y = C.seal({ key: ck.tx, dir: ck.txDir, sid, seq: 1n, body, innerType: inner });
        assert.equal(toHex(c2y), v.frame_c2y_1);
        const got1 = C.open({ key: ck.rx, dir: 0, sid, lastRxSeq: 0n, frame: y2c });
        assert.equal(toHex(got1.body), v.msg);
        const got2 = C.open({ key: yk.rx, dir: 1, sid, lastRxSeq: 0n, frame: c2y });
        assert.equal(toHex(got2.body), v.msg);
    },

    safety(v) {
        const input = hex(v.input);
        assert.equal(toHex(globalThis.sodium.crypto_generichash(32, input)), v.hash);
        assert.equal(C.safetyCode(hex(v.sid), hex(v.young_pk), hex(v.counsellor_pk)), v.code);
    },

    cert_verify(v) {
        let got;
        const r = outcome(() => {
            got = C.verifyCert(hex(v.cert), hex(v.org_pk), Number(v.now));
        });
        assert.equal(r, v.expect);
        if (r !== 'ok') return;
        if (v.counsellor_id) assert.equal(got.counsellorId, Number(v.counsellor_id));
        if (v.expires) assert.equal(got.expires, BigInt(v.expires));
        if (v.device_pk) assert.equal(toHex(got.devicePk), v.device_pk);
    },

    orgcert_sign(v) {
        const net = globalThis.sodium.crypto_sign_seed_keypair(hex(v.net_seed));
        assert.equal(toHex(net.publicKey), v.net_pk);
        const name = new TextDecoder().decode(hex(v.org_name));
        assert.equal(toHex(C.makeOrgCert(net.privateKey, Number(v.org_id), v.expires, hex(v.org_pk), name)), v.orgcert);
    },

    orgcert_verify(v) {
        let got;
        const r = outcome(() => {
            got = C.verifyOrgCert(hex(v.orgcert), hex(v.net_pk), Number(v.now));
        });
        assert.equal(r, v.expect);
        if (r !== 'ok') return;
        assert.equal(got.orgId, Number(v.org_id));
        assert.equal(got.expires, BigInt(v.expires));
        assert.equal(toHex(got.orgPk), v.org_pk);
        assert.equal(toHex(P.utf8(got.name)), v.org_name);
    },

    chain_verify(v) {
        let got;
        const r = outcome(() => {
            got = C.verifyChain(hex(v.orgcert), hex(v.cert), [hex(v.net_pk)], Number(v.now));
        });
        assert.equal(r, v.expect);
        if (r !== 'ok') return;
        assert.equal(got.org.orgId, Number(v.org_id));
        assert.equal(toHex(P.utf8(got.org.name)), v.org_name);
        assert.equal(toHex(got.org.orgPk), v.org_pk);
        assert.equal(got.cert.counsellorId, Number(v.counsellor_id));
        assert.equal(toHex(got.cert.devicePk), v.device_pk);
    },

    kx_verify(v) {
        for (const f of ['device_pk', 'sid', 'young_pk', 'counsellor_pk', 'sig']) {
            assert.ok(v[f] !== undefined, `vector lacks ${f}`);
        }
        const r = outcome(() => C.verifyTranscript(hex(v.sig), hex(v.device_pk), hex(v.sid),
            hex(v.young_pk), hex(v.counsellor_pk)));
        assert.equal(r, v.expect);
    },

    seal(v) {
        let frame;
        const r = outcome(() => {
            frame = C.seal({
                key: hex(v.key), dir: Number(v.dir), sid: hex(v.sid), seq: BigInt(v.seq),
                body: hex(v.msg), innerType: Number(v.inner_type ?? 1),
            });
        });
        assert.equal(r, v.expect);
        if (r === 'ok') assert.equal(toHex(frame), v.frame);
    },

    open(v) {
        let got;
        const r = outcome(() => {
            got = C.open({
                key: hex(v.key), dir: Number(v.dir), sid: hex(v.sid),
                lastRxSeq: BigInt(v.last_rx_seq), frame: hex(v.frame),
            });
        });
        assert.equal(r, v.expect);
        if (r !== 'ok') return;
        if (v.seq) assert.equal(got.seq, BigInt(v.seq));
        if (v.inner_type) assert.equal(got.innerType, Number(v.inner_type));
        if (v.msg !== undefined) assert.equal(toHex(got.body), v.msg);
    },

    ack(v) {
        let frame;
        const r = outcome(() => {
            frame = C.sealAck({ key: hex(v.key), dir: Number(v.dir), sid: hex(v.sid), seq: BigInt(v.seq) });
        });
        assert.equal(r, v.expect);
        if (r === 'ok') assert.equal(toHex(frame), v.frame);
    },

    ack_open(v) {
        let seq;
        const r = outcome(() => {
            seq = C.openAck({
                key: hex(v.key), dir: Number(v.dir), sid: hex(v.sid),
                nextTxSeq: BigInt(v.next_tx_seq), frame: hex(v.frame),
            });
        });
        assert.equal(r, v.expect);
        if (r === 'ok') assert.equal(seq, BigInt(v.seq));
    },

    timed(v) {
        let got;
        const r = outcome(() => { got = C.parseTimed(hex(v.body)); });
        assert.equal(r, v.expect);
        if (r !== 'ok') return;
        assert.equal(got.timeMs, Number(v.time_ms));
        assert.equal(toHex(P.utf8(got.text)), v.text);
        assert.equal(toHex(C.packTimed(got.timeMs, hex(v.text))), v.body);
    },

    typing(v) {
        let on;
        const r = outcome(() => { on = C.parseTyping(hex(v.body)); });
        assert.equal(r, v.expect);
        if (r === 'ok') assert.equal(on, v.on === '1');
    },
};

describe('frames.txt', () => {
    test('has accepted and rejected frames', () => {
        assert.ok(frames.some((f) => f.expect === 'ok'));
        assert.ok(frames.some((f) => f.expect !== 'ok'));
    });

    for (const v of frames) {
        test(`${v.name} → ${v.expect}`, () => {
            const bytes = hex(v.frame);
            let f;
            const r = outcome(() => {
                f = P.decodeFrame(bytes);
            });
            assert.equal(r, v.expect);
            if (r !== 'ok') return;
            assert.equal(f.version, Number(v.version));
            assert.equal(f.kind, Number(v.kind));
            assert.equal(f.flags, Number(v.flags));
            assert.equal(toHex(f.sid), v.sid);
            assert.equal(f.seq, BigInt(v.seq));
            assert.equal(f.payload.length, Number(v.payload_len));
            // and encoding the decoded header gives the same bytes back
            const again = P.encodeHeader(f.kind, f.sid, f.seq);
            assert.equal(toHex(P.concat(again, f.payload)), v.frame);
        });
    }
});

describe('base64url', () => {
    test('round trip without padding, all lengths 0..40', () => {
        const S = globalThis.sodium;
        for (let n = 0; n <= 40; n++) {
            const b = S.randombytes_buf(n);
            const text = P.b64encode(b);
            assert.equal(text, S.to_base64(b, S.base64_variants.URLSAFE_NO_PADDING));
            assert.deepEqual(P.b64decode(text), b);
        }
    });

    test('padding, standard alphabet and non-canonical tails are rejected', () => {
        for (const bad of ['AA==', 'AB+/', 'AB', 'A', 'AAA=']) {
            assert.throws(() => P.b64decode(bad), (e) => e.code === 'EBADMSG', bad);
        }
    });
});

describe('admission work (PROTOCOL.md §4.1.1)', () => {
    test('leading zero bits count from the most significant bit of byte 0', async () => {
        const W = await import('../../web/js/pow.js');
        assert.equal(W.leadingZeroBits(Uint8Array.of(0x00, 0x00, 0xff), 16), true);
        assert.equal(W.leadingZeroBits(Uint8Array.of(0x00, 0x01, 0xff), 16), false);
        assert.equal(W.leadingZeroBits(Uint8Array.of(0x00, 0x0f), 12), true);
        assert.equal(W.leadingZeroBits(Uint8Array.of(0x00, 0x10), 12), false);
        assert.equal(W.leadingZeroBits(Uint8Array.of(0x7f), 1), true);
        assert.equal(W.leadingZeroBits(Uint8Array.of(0x80), 1), false);
        assert.equal(W.leadingZeroBits(Uint8Array.of(0xff), 0), true);
    });

    test('a nonce found for 12 bits makes BLAKE2b-256(seed ‖ nonce) start with 12 zero bits', async () => {
        const W = await import('../../web/js/pow.js');
        const S = globalThis.sodium;
        const seed = S.randombytes_buf(16);
        const nonce = W.searchPow(seed, 12, 0, 1 << 22);
        assert.ok(nonce, 'found');
        assert.equal(nonce.length, 8);
        const h = S.crypto_generichash(32, P.concat(seed, nonce));
        assert.equal(h[0], 0);
        assert.equal(h[1] >> 4, 0);
        assert.equal(W.checkPow(seed, nonce, 12), true);
        // the main-thread fallback gives a valid answer through the public entry too
        const { promise } = W.solvePow(P.b64encode(seed), 8);
        const b64 = await promise;
        assert.equal(W.checkPow(seed, P.b64decode(b64), 8), true);
    });
});

// ---- mail (PROTOCOL.md §9.2, §9.3) ---------------------------------------------

const MAIL_CHECKS = {
    code(v) {
        let canonical;
        const typed = new TextDecoder().decode(hex(v.typed));
        const r = outcome(() => {
            canonical = M.codeParse(typed);
        });
        assert.equal(r, v.expect);
        if (r !== 'ok') return;
        assert.equal(canonical, v.canonical);
        assert.equal(M.codeFormat(canonical), v.formatted);
    },

    derive(v) {
        const k = M.derive(v.code);
        assert.equal(toHex(k.lookup), v.lookup);
        assert.equal(toHex(M.lookupHash(k.lookup)), v.lookup_hash);
        assert.equal(toHex(k.boxPk), v.box_pk);
        assert.equal(toHex(k.boxSk), v.box_sk);
        assert.equal(toHex(k.signPk), v.sign_pk);
        assert.equal(toHex(k.signSk), v.sign_sk);
        assert.equal(toHex(M.keyid(k.boxPk)), v.box_keyid);
    },

    mail_key(v) {
        const r = outcome(() => M.mailKeyVerify(hex(v.sig), hex(v.device_pk), hex(v.mail_pk)));
        assert.equal(r, v.expect);
    },

    async seal(v) {
        const rcp = hex(v.recipients);
        const recipients = [];
        for (let o = 0; o < rcp.length; o += 32) recipients.push(rcp.slice(o, o + 32));
        let env;
        const r = outcome(() => {
            env = M.seal({
                kind: Number(v.kind), signSk: hex(v.sign_sk), cert: v.cert ? hex(v.cert) : null,
                threadPk: hex(v.thread_pk), recipients, time: BigInt(v.time), body: hex(v.body),
                key: hex(v.key), ephSeeds: hex(v.eph_seeds),
            });
        });
        assert.equal(r, v.expect);
        if (r !== 'ok') return;
        assert.equal(toHex(env), v.envelope);
        assert.equal(env.length, M.envelopeLen(Number(v.kind), recipients.length + 1, hex(v.body).length));
        // The same envelope from a key that only signs (a counsellor's WebCrypto key).
        const signSk = hex(v.sign_sk);
        const viaSigner = await M.sealWith({
            kind: Number(v.kind), devicePk: signSk.slice(32), cert: v.cert ? hex(v.cert) : null,
            sign: async (m) => globalThis.sodium.crypto_sign_detached(m, signSk),
            threadPk: hex(v.thread_pk), recipients, time: BigInt(v.time), body: hex(v.body),
            key: hex(v.key), ephSeeds: hex(v.eph_seeds),
        });
        assert.equal(toHex(viaSigner), v.envelope);
    },

    open(v) {
        const env = hex(v.envelope);
        assert.equal(outcome(() => M.envelopeCheck(env)), v.check);
        let got;
        const r = outcome(() => {
            got = M.open({
                envelope: env, myPk: hex(v.my_pk), mySk: hex(v.my_sk), threadPk: hex(v.thread_pk),
                threadSpk: hex(v.thread_spk), orgKeys: [hex(v.org_pk)], now: Number(v.now),
            });
        });
        assert.equal(r, v.expect);
        if (r !== 'ok') return;
        assert.equal(got.kind, Number(v.kind));
        assert.equal(got.time, Number(v.time));
        assert.equal(got.counsellorId, Number(v.counsellor_id));
        assert.equal(toHex(got.devicePk), v.device_pk);
        assert.equal(toHex(got.body), v.body);
        assert.equal(got.text, new TextDecoder().decode(hex(v.body)));
    },
};

describe('mail.txt', () => {
    test('has cases of every operation', () => {
        const ops = new Set(mail.map((c) => c.op));
        for (const op of Object.keys(MAIL_CHECKS)) assert.ok(ops.has(op), op);
        for (const e of ['ok', 'EINVAL', 'EPERM', 'ENOKEY', 'EKEYEXPIRED', 'EBADMSG']) {
            assert.ok(mail.some((c) => c.expect === e), e);
        }
    });

    for (const v of mail) {
        test(`${v.name} (${v.op}) → ${v.expect}`, () => MAIL_CHECKS[v.op](v));
    }
});

describe('mail-crypto.js round trips', () => {
    test('a young message and an answer, random keys, as the C code does them', () => {
        const S = globalThis.sodium;
        const code = M.codeNew();
        assert.match(code, /^[0-9A-HJKMNP-TV-Z]{20}$/);
        assert.equal(M.codeParse(M.codeFormat(code).toLowerCase()), code);
        const k = M.derive(code);
        const org = S.crypto_sign_keypair();
        const dev = S.crypto_sign_keypair();
        const mailKey = S.crypto_box_keypair();
        const cert = C.makeCert(org.privateKey, 42, 2051222400, dev.publicKey);
        const entry = P.concat(cert, mailKey.publicKey, M.mailKeySign(dev.publicKey, mailKey.publicKey, dev.privateKey));
        const junk = P.concat(cert, S.crypto_box_keypair().publicKey, new Uint8Array(64));
        const keys = M.validMailKeys(P.concat(entry, junk), [org.publicKey], 1767225600);
        assert.equal(keys.length, 1);
        assert.equal(keys[0].counsellorId, 42);
        const now = 1767225600;
        const env = M.seal({
            kind: M.FROM_YOUNG, signSk: k.signSk, threadPk: k.boxPk, recipients: keys.map((x) => x.mailPk),
            time: Date.now(), body: 'Hallo 🙂',
        });
        M.envelopeCheck(env);
        const got = M.open({
            envelope: env, myPk: mailKey.publicKey, mySk: mailKey.privateKey, threadPk: k.boxPk,
            threadSpk: k.signPk, orgKeys: [org.publicKey], now,
        });
        assert.equal(got.text, 'Hallo 🙂');
        const answer = M.seal({
            kind: M.FROM_COUNSELLOR, signSk: dev.privateKey, cert, threadPk: k.boxPk,
            recipients: [mailKey.publicKey], time: 5, body: 'Danke.',
        });
        const a = M.open({
            envelope: answer, myPk: k.boxPk, mySk: k.boxSk, threadPk: k.boxPk, threadSpk: k.signPk,
            orgKeys: [org.publicKey], now,
        });
        assert.equal(a.text, 'Danke.');
        assert.equal(a.counsellorId, 42);
        assert.equal(a.time, 5);
        answer[answer.length - 70] ^= 1;
        assert.throws(() => M.open({
            envelope: answer, myPk: k.boxPk, mySk: k.boxSk, threadPk: k.boxPk, threadSpk: k.signPk,
            orgKeys: [org.publicKey], now,
        }), (e) => e.code === 'EPERM');
        assert.throws(() => M.seal({
            kind: M.FROM_YOUNG, signSk: k.signSk, threadPk: k.boxPk, time: 1, body: 'x'.repeat(8001),
        }), (e) => e.code === 'EMSGSIZE');
    });
});
