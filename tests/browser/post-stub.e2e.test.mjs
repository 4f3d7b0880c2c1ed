// The console's Post area against a stand-in for the server's mail messages
// (proto/PROTOCOL.md §9.1, counsellor side), while lotsed does not carry them
// yet: pages, login, device certificates and the chat run on the real lotsed
// (run.sh); Playwright's routeWebSocket passes everything through except the
// mail_* messages and MAIL frames, which a small in-memory board in this file
// answers (atomic claim, mail_taken, mail_keys from the registered mail keys
// with the certificate of login_ok). The cryptography is the real one on both
// sides: the young person seals in Node with web/js/mail-crypto.js, the
// console opens with its device's mail key and answers signed by its
// WebCrypto device key; Node opens the answer and checks certificate and signature.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { chromium } from 'playwright-core';

import { loadSodium } from './sodium-node.mjs';

const env = (name) => {
    const v = process.env[name];
    if (!v) throw new Error(`${name} is not set: run tests/browser/run.sh`);
    return v;
};
const URL = env('LOTSE_URL');
const SHOTS = join(env('LOTSE_ARTIFACTS'), 'screenshots');

let browser;
let MC; // web/js/mail-crypto.js
let P; // web/js/protocol.js
const problems = [];

before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    await loadSodium();
    MC = await import('../../web/js/mail-crypto.js');
    P = await import('../../web/js/protocol.js');
    browser = await chromium.launch({
        executablePath: process.env.CHROMIUM || '/usr/lib/chromium/chromium',
        headless: true,
        args: ['--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
});

after(async () => {
    if (browser) await browser.close();
});

// ---- the stand-in board --------------------------------------------------------------------

const board = {
    threads: new Map(), // tid hex -> {topic, boxPk, signPk, envs: [Uint8Array], claimedBy, createdAt, state}
    keys: new Map(), // console id -> cert ‖ mail pk ‖ sig
    consoles: new Map(), // console id -> routed socket
};

function item(tid, th, me) {
    const lastYoung = th.senders.lastIndexOf(1);
    const waiting = th.state === 'open' && lastYoung === th.senders.length - 1;
    return {
        t: 'mail_item', tid, topic: th.topic, age: Math.floor((Date.now() - th.createdAt) / 3600000) * 3600, waiting,
        claimed: th.claimedBy === null ? 'none' : th.claimedBy === me ? 'me' : 'other', n: th.envs.length, state: th.state,
    };
}

function changed() {
    for (const ws of board.consoles.values()) ws.send(JSON.stringify({ t: 'mail_changed' }));
}

function mailFrame(tid, n, envelope) {
    return Buffer.from(P.concat(P.encodeHeader(3, P.hexdecode(tid), n), envelope));
}

/** Answers one mail message of console `me`; true when it was one. */
function stubMessage(me, ws, m) {
    const send = (x) => ws.send(JSON.stringify(x));
    const th = m.tid ? board.threads.get(m.tid) : null;
    switch (m.t) {
    case 'mail_key': {
        const cert = board.consoles.get(me).cert;
        board.keys.set(me, P.concat(cert, P.b64decode(m.pk), P.b64decode(m.sig)));
        send({ t: 'mail_key_ok' });
        return true;
    }
    case 'mail_keys':
        send({ t: 'mail_keys', keys: P.b64encode(P.concat(...board.keys.values())), more: false });
        return true;
    case 'mail_list': {
        const list = [...board.threads].sort((a, b) => a[1].createdAt - b[1].createdAt);
        for (const [tid, t] of list) send(item(tid, t, me));
        send({ t: 'mail_list_end', count: list.length });
        return true;
    }
    case 'mail_claim':
        if (!th) send({ t: 'error', code: 'mail_unknown_thread', tid: m.tid });
        else if (th.claimedBy !== null && th.claimedBy !== me) send({ t: 'error', code: 'mail_taken', tid: m.tid });
        else {
            th.claimedBy = me;
            send({ t: 'mail_claimed', tid: m.tid, topic: th.topic, box_pk: P.b64encode(th.boxPk),
                sign_pk: P.b64encode(th.signPk), n: th.envs.length });
            th.envs.forEach((e, i) => ws.send(mailFrame(m.tid, i + 1, e)));
            changed();
        }
        return true;
    case 'mail_release':
        if (th && th.claimedBy === me) th.claimedBy = null;
        send({ t: 'mail_released', tid: m.tid });
        changed();
        return true;
    default:
        return m.t.startsWith('mail_');
    }
}

function stubFrame(me, ws, bytes) {
    const tid = P.hexencode(bytes.subarray(4, 20));
    const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(20));
    const th = board.threads.get(tid);
    if (!th || th.claimedBy !== me) return ws.send(JSON.stringify({ t: 'error', code: 'mail_not_claimed', tid }));
    if (n !== th.envs.length + 1) return ws.send(JSON.stringify({ t: 'error', code: 'mail_conflict', tid }));
    const envelope = bytes.slice(28);
    MC.envelopeCheck(envelope);
    th.envs.push(envelope);
    th.senders.push(envelope[1]);
    ws.send(JSON.stringify({ t: 'mail_stored', tid, n }));
    return changed();
}

let nextConsole = 1;

/** Routes a page's WebSocket through the stand-in. */
async function route(page) {
    const me = nextConsole++;
    await page.routeWebSocket(/\/ws$/, (ws) => {
        const server = ws.connectToServer();
        board.consoles.set(me, ws);
        server.onMessage((m) => {
            if (typeof m === 'string' && m.startsWith('{"t":"login_ok"')) {
                const ok = JSON.parse(m);
                ws.cert = ok.cert ? P.b64decode(ok.cert) : null;
            }
            ws.send(m);
        });
        ws.onMessage((m) => {
            if (typeof m !== 'string') {
                const b = new Uint8Array(m);
                if (b[1] === 3) return stubFrame(me, ws, b);
                return server.send(m);
            }
            const j = JSON.parse(m);
            if (!stubMessage(me, ws, j)) server.send(m);
        });
    });
    return me;
}

function youngWrites(topic, text, hoursAgo = 0) {
    const code = MC.codeNew();
    const k = MC.derive(code);
    const recipients = MC.validMailKeys(P.concat(...board.keys.values()), [P.b64decode(env('LOTSE_ORG_PUB'))],
        Math.floor(Date.now() / 1000)).map((x) => x.mailPk);
    const e = MC.seal({ kind: MC.FROM_YOUNG, signSk: k.signSk, threadPk: k.boxPk, recipients, time: Date.now(), body: text });
    const tid = P.hexencode(globalThis.sodium.randombytes_buf(16));
    board.threads.set(tid, { topic, boxPk: k.boxPk, signPk: k.signPk, envs: [e], senders: [1], claimedBy: null,
        createdAt: Date.now() - hoursAgo * 3600000, state: 'open' });
    changed();
    return { tid, keys: k };
}

function youngReads(tid, k) {
    return board.threads.get(tid).envs.map((envelope) => MC.open({ envelope, myPk: k.boxPk, mySk: k.boxSk,
        threadPk: k.boxPk, threadSpk: k.signPk, orgKeys: [P.b64decode(env('LOTSE_ORG_PUB'))], now: Math.floor(Date.now() / 1000) }));
}

// ---- consoles ----------------------------------------------------------------------------------

async function counsellorInPost(handle, password) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'de-DE' });
    const page = await context.newPage();
    page.on('console', (m) => {
        if (m.type() === 'error') problems.push(`${page.url()}: console: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`${page.url()}: ${e.message}`));
    const id = await route(page);
    await page.goto(`${URL}/counsellor/`);
    await page.locator('#view-login').waitFor();
    const pk = (await page.locator('#device-pk').textContent()).trim();
    execFileSync(env('LOTSECTL'), ['--db', env('LOTSE_DB'), 'device-certify', '--handle', handle, '--device', pk,
        '--orgkey', env('LOTSE_ORGKEY')]);
    await page.fill('#handle', handle);
    await page.fill('#password', password);
    await page.click('#login-button');
    await page.locator('#view-console').waitFor();
    await page.click('#area-tab-post');
    for (let i = 0; i < 100 && !board.keys.has(id); i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok(board.keys.has(id), 'the console registered its mail key');
    return { context, page, id, devicePk: P.b64decode(pk) };
}

test('stand-in server: a thread appears in the Post area, is claimed, read and answered; the answer verifies', async () => {
    const anna = await counsellorInPost(env('LOTSE_COUNSELLOR'), env('LOTSE_COUNSELLOR_PASSWORD'));
    const ben = await counsellorInPost(env('LOTSE_COUNSELLOR2'), env('LOTSE_COUNSELLOR2_PASSWORD'));
    const c = anna.page;
    const older = youngWrites('school', 'Ich werde in der Schule gemobbt und traue mich nicht, es zu sagen.', 30);
    const question = 'Hallo, meine Eltern streiten jeden Abend. Was kann ich tun? 😟';
    const th = youngWrites('family', question);

    const row = c.locator(`.post-item[data-tid="${th.tid}"]`);
    await row.waitFor();
    assert.match(await row.textContent(), /seit weniger als 1 Std\..*wartet auf Antwort/);
    assert.match(await c.locator('.post-item').first().textContent(), /seit 30 Std\./, 'the oldest first');
    assert.equal((await c.locator('.post-group h3').allTextContents()).join('|'), 'Schule · 1|Familie · 1');
    await c.screenshot({ path: join(SHOTS, 'post-board.png'), fullPage: true });

    await row.locator('.post-claim').click();
    const view = c.locator(`#post-thread[data-tid="${th.tid}"]`);
    await view.locator('.post-msg.theirs .post-body', { hasText: question }).waitFor();
    assert.match(await view.locator('.post-when').first().textContent(), /^\d\d\.\d\d\.\d{4} \d\d:\d\d$/);
    await row.locator('.post-claimed.me').waitFor();

    // Ben's console: the thread is with a colleague; his claim is refused kindly
    const brow = ben.page.locator(`.post-item[data-tid="${th.tid}"]`);
    await brow.waitFor();
    await brow.locator('.post-claimed.other').waitFor();
    const orow = ben.page.locator(`.post-item[data-tid="${older.tid}"]`);
    await Promise.all([orow.locator('.post-claim').click(), c.locator(`.post-item[data-tid="${older.tid}"] .post-claim`).click()]);
    const taken = 'Eine Kollegin oder ein Kollege war schneller';
    const won = board.threads.get(older.tid).claimedBy;
    const loser = won === anna.id ? ben.page : c;
    await loser.locator('#post-notice', { hasText: taken }).waitFor();
    await loser.screenshot({ path: join(SHOTS, 'post-taken.png'), fullPage: true });
    if (won === anna.id) {
        await c.locator('#post-thread button', { hasText: 'Zurückgeben' }).click();
        await c.locator('#post-notice', { hasText: 'zurück in der Übersicht' }).waitFor();
        await c.locator(`.post-item[data-tid="${th.tid}"] .post-claim`).click();
        await view.waitFor();
    }

    // the draft stays on the device until "Antwort senden"
    const sent = [];
    c.on('websocket', (ws) => ws.on('framesent', (f) => sent.push(String(f.payload))));
    const answer = 'Danke, dass du schreibst. Das klingt belastend. Magst du erzählen, wie es dir dabei geht?';
    await view.locator('#post-answer-text').fill(answer);
    await c.screenshot({ path: join(SHOTS, 'post-thread.png'), fullPage: true });
    assert.ok(!sent.some((p) => p.includes('Danke')), 'the draft is not sent');
    await view.locator('#post-send').click();
    await view.locator('.post-msg.mine .post-body', { hasText: answer }).waitFor();
    await c.locator('#post-notice', { hasText: 'Deine Antwort ist gespeichert' }).waitFor();
    await c.screenshot({ path: join(SHOTS, 'post-answered.png'), fullPage: true });

    const got = youngReads(th.tid, th.keys);
    assert.equal(got.length, 2);
    assert.equal(got[0].text, question);
    assert.equal(got[1].kind, MC.FROM_COUNSELLOR);
    assert.equal(got[1].text, answer, 'the young person opens the answer: certificate and device signature hold');
    assert.equal(P.hexencode(got[1].devicePk), P.hexencode(anna.devicePk));

    // Ben (another device) reads Anna's answer too: sealed to every device mail key
    await c.locator('#post-thread button', { hasText: 'Zurückgeben' }).click();
    await brow.locator('.post-claim').click();
    await ben.page.locator('.post-msg.mine .post-msg-head', { hasText: 'Beratung Nr.' }).waitFor();
    assert.equal(await ben.page.locator('.post-msg.mine .post-body').textContent(), answer);
    await ben.context.close();
    await anna.context.close();
    assert.deepEqual(problems.splice(0), []);
});

test('stand-in feed: the supervisor\'s mail panel shows open threads, the oldest age, the shares and the alarm', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'de-DE' });
    const s = await context.newPage();
    s.on('pageerror', (e) => problems.push(`${s.url()}: ${e.message}`));
    const open = [...board.threads.values()].filter((t) => t.state === 'open');
    const oldest = Math.max(...open.map((t) => Math.floor((Date.now() - t.createdAt) / 3600000) * 3600));
    let overdue = false;
    // the feed's mail fields of §9.1 added to each real feed
    await s.routeWebSocket(/\/ws$/, (ws) => {
        const server = ws.connectToServer();
        server.onMessage((m) => {
            if (typeof m === 'string' && m.startsWith('{"t":"feed"')) {
                ws.send(JSON.stringify({ ...JSON.parse(m), mail_open: open.length, mail_oldest: oldest,
                    mail_within_today: 50, mail_within_7d: null, mail_overdue: overdue }));
            } else ws.send(m);
        });
    });
    await s.goto(`${URL}/supervisor/`);
    await s.fill('#handle', env('LOTSE_SUPERVISOR'));
    await s.fill('#password', env('LOTSE_SUPERVISOR_PASSWORD'));
    await s.click('#login-button');
    await s.locator('#mail-group').waitFor();
    assert.equal(await s.locator('#v-mail-open').textContent(), String(open.length));
    assert.equal(await s.locator('#v-mail-oldest').textContent(), '30 Std.');
    assert.equal(await s.locator('#v-mail-today').textContent(), '50 %');
    assert.equal(await s.locator('#v-mail-7d').textContent(), '–');
    assert.equal(await s.locator('#mail-alarm').isHidden(), true);

    overdue = true; // the feed is pushed on change: a new login gets one at once
    await s.reload();
    await s.fill('#handle', env('LOTSE_SUPERVISOR'));
    await s.fill('#password', env('LOTSE_SUPERVISOR_PASSWORD'));
    await s.click('#login-button');
    await s.locator('#mail-alarm:not([hidden])').waitFor();
    assert.match(await s.locator('#mail-alarm').textContent(), /Post wartet zu lange/);
    await s.locator('#trouble .trouble-line[data-alarm="mail_overdue"]').waitFor();
    await s.screenshot({ path: join(SHOTS, 'supervisor-mail.png'), fullPage: true });
    await context.close();
    assert.deepEqual(problems.splice(0), []);
});
