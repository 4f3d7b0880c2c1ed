// mail-counsellor.mjs — a counsellor's device for the mail browser test, with
// the real web/js crypto and the real protocol (node --experimental-websocket;
// Node 20 has WebSocket only behind that flag). It makes a device key, has
// lotsectl certify it, logs in with it, registers a mail key
// (`mail_key`, PROTOCOL.md §9.1) and prints one JSON line {"ready":true}.
// Then it reads commands, one JSON object a line, on stdin, and answers each
// with one JSON line:
//   {"cmd":"answer","text":T}  claim the oldest waiting thread, open every
//                              message (mail key), seal T to the thread and
//                              every device mail key, signed with the device
//                              key and its certificate → {"read":[…],"n":N}
//   {"cmd":"read"}             claim (re-read) the last thread → {"read":[…]}
//   {"cmd":"tamper","text":T}  like answer, but one ciphertext byte flipped after
//                              signing (the young person must refuse it)
//   {"cmd":"assigned"}         wait (10 s) for a chat given to this counsellor
//                              → {"sid":hex,"same":bool} ("same person", §9.1)
// Environment: LOTSE_URL, LOTSECTL, LOTSE_DB, LOTSE_ORGKEY, LOTSE_ORG_PUB, MAIL_HANDLE, MAIL_PASSWORD.
import { execFileSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { loadSodium } from './sodium-node.mjs';

const na = await loadSodium();
const { b64decode, b64encode, hexdecode, loginProofMessage } = await import('../../web/js/protocol.js');
const mc = await import('../../web/js/mail-crypto.js');
const { encodeMailFrame, MailLink } = await import('../../web/js/mail.js');

const env = (n) => {
    if (!process.env[n]) throw new Error(`${n} is not set`);
    return process.env[n];
};
const handle = env('MAIL_HANDLE');
const out = (obj) => process.stdout.write(`${JSON.stringify(obj)}\n`);

// ---- one connection as a queue (MailLink's reading, over Node's WebSocket) ----
const link = Object.create(MailLink.prototype);
Object.assign(link, { events: [], wake: null, closed: false });
const ws = new WebSocket(`${env('LOTSE_URL').replace(/^http/, 'ws')}/ws`, 'lotse.v1');
ws.binaryType = 'arraybuffer';
ws.addEventListener('message', (ev) => {
    if (typeof ev.data === 'string') link.push({ m: JSON.parse(ev.data) });
    else link.push({ frame: new Uint8Array(ev.data) });
});
ws.addEventListener('close', (ev) => {
    link.closed = true;
    link.push({ closed: ev.code });
});
link.conn = { sendJson: (t) => ws.send(t), sendBinary: (b) => ws.send(b), isOpen: () => ws.readyState === 1, close: () => ws.close() };
await new Promise((resolve, reject) => {
    ws.addEventListener('open', resolve);
    ws.addEventListener('error', reject);
});

// ---- device, certificate, login, mail key ----
const device = na.crypto_sign_keypair();
execFileSync(env('LOTSECTL'), ['--db', env('LOTSE_DB'), 'device-certify', '--handle', handle,
    '--device', b64encode(device.publicKey), '--orgkey', env('LOTSE_ORGKEY')], { stdio: 'ignore' });
link.send({ t: 'login', v: 1, handle, password: env('MAIL_PASSWORD'), device: b64encode(device.publicKey) });
const ch = await link.expect(['login_challenge']);
const proof = na.crypto_sign_detached(loginProofMessage(b64decode(ch.nonce), device.publicKey, handle), device.privateKey);
link.send({ t: 'login_proof', sig: b64encode(proof) });
const ok = await link.expect(['login_ok']);
const cert = b64decode(ok.cert);
const mail = na.crypto_box_keypair();
link.send({ t: 'mail_key', pk: b64encode(mail.publicKey), sig: b64encode(mc.mailKeySign(device.publicKey, mail.publicKey, device.privateKey)) });
await link.expect(['mail_key_ok']);
out({ ready: true, id: ok.id });

// ---- commands ----
let lastTid = null;

async function claim(tid) {
    link.send({ t: 'mail_claim', tid });
    const m = await link.expect(['mail_claimed']);
    const boxPk = b64decode(m.box_pk);
    const signPk = b64decode(m.sign_pk);
    const read = [];
    for (let i = 0; i < m.n; i++) {
        const f = await link.frame();
        const o = mc.open({
            envelope: f.envelope, myPk: mail.publicKey, mySk: mail.privateKey, threadPk: boxPk, threadSpk: signPk,
            orgKeys: [b64decode(env('LOTSE_ORG_PUB'))], now: Math.floor(Date.now() / 1000),
        });
        read.push({ n: f.n, kind: o.kind, text: o.text });
    }
    return { tid: m.tid, tidBytes: hexdecode(m.tid), boxPk, n: m.n, read };
}

/** The oldest waiting thread; the board follows a new thread within about a second. */
async function oldestWaiting() {
    for (let attempt = 0; attempt < 20; attempt++) {
        link.send({ t: 'mail_list' });
        let found = null;
        for (;;) {
            const m = await link.expect(['mail_item', 'mail_list_end']);
            if (m.t === 'mail_list_end') break;
            if (!found && m.waiting) found = m.tid;
        }
        if (found) return found;
        await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error('no waiting thread');
}

/**
 * Claims the oldest waiting thread. The board is the server's memory of the
 * database, read anew at the tick after a mail_list: a thread deleted through
 * another lotsed on the same database (mail.e2e's closed one) can still be
 * named once; the claim then says mail_unknown_thread and the board is asked
 * again.
 */
async function claimOldest() {
    for (let attempt = 0; ; attempt++) {
        const tid = await oldestWaiting();
        try {
            return await claim(tid);
        } catch (e) {
            if (e.mailCode !== 'mail_unknown_thread' || attempt >= 10) throw e;
            await new Promise((r) => setTimeout(r, 300));
        }
    }
}

async function deviceKeys() {
    link.send({ t: 'mail_keys' });
    const parts = [];
    for (;;) {
        const m = await link.expect(['mail_keys']);
        parts.push(b64decode(m.keys));
        if (!m.more) break;
    }
    const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let o = 0;
    for (const p of parts) {
        all.set(p, o);
        o += p.length;
    }
    const keys = [];
    for (let i = 0; i + 206 <= all.length; i += 206) keys.push(all.slice(i + 110, i + 142));
    return keys;
}

async function answer(text, tamper) {
    const t = await claimOldest();
    lastTid = t.tid;
    const recipients = await deviceKeys();
    const envelope = mc.seal({
        kind: 2, signSk: device.privateKey, cert, threadPk: t.boxPk, recipients, time: Date.now(), body: text,
    });
    if (tamper) envelope[envelope.length - 100] ^= 1;
    link.sendBinary(encodeMailFrame(t.tidBytes, t.n + 1, envelope));
    const stored = await link.expect(['mail_stored']);
    return { read: t.read, n: stored.n, tid: t.tid };
}

for await (const line of createInterface({ input: process.stdin })) {
    if (!line.trim()) continue;
    try {
        const cmd = JSON.parse(line);
        if (cmd.cmd === 'answer') out(await answer(cmd.text, false));
        else if (cmd.cmd === 'tamper') out(await answer(cmd.text, true));
        else if (cmd.cmd === 'read') out({ read: (await claim(lastTid)).read });
        else if (cmd.cmd === 'assigned') {
            const a = await link.expect(['assigned'], 10000);
            out({ sid: a.sid, same: a.same === true });
        }
        else out({ error: `unknown command ${cmd.cmd}` });
    } catch (e) {
        out({ error: e.mailCode || e.message });
    }
}
ws.close();
