// Browser end-to-end tests: web/ in headless Chromium against a real lotsed
// and PostgreSQL, set up by run.sh (which passes everything in LOTSE_* env).
// Each test proves one thing and leaves nobody waiting in the queue.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { chromium } from 'playwright-core';
import { youngSays, counsellorSays } from './kit.mjs';

const env = (name) => {
    const v = process.env[name];
    if (!v) throw new Error(`${name} is not set: run tests/browser/run.sh`);
    return v;
};
const URL = env('LOTSE_URL');
// A second lotsed whose configuration names another organisation key than the
// one pinned in the client it serves (run.sh).
const ATTACK_URL = env('LOTSE_ATTACK_URL');
const SHOTS = join(env('LOTSE_ARTIFACTS'), 'screenshots');
const NEUTRAL = 'https://www.google.de/';
// What lotsed must send with every page (PROTOCOL.md §8); every document the
// tests load is checked for it, so the pages are proven to run under it.
// script-src also names the SHA-256 of the pages' import map (server/src/csp.c;
// sri.test.mjs checks that it is that map's).
const CSP = new RegExp("^default-src 'self'; script-src 'self' 'wasm-unsafe-eval'( 'sha256-[A-Za-z0-9+/]{43}=')+; "
    + "connect-src 'self'; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'$");

let browser;
const problems = []; // console errors, page errors, CSP violations of any page

before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    browser = await chromium.launch({
        executablePath: process.env.CHROMIUM || '/usr/lib/chromium/chromium',
        headless: true,
        args: ['--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
});

after(async () => {
    if (browser) await browser.close();
});

/** A fresh browser profile (own storage); every page it loads from lotsed must
 * come with the server's CSP. */
async function newContext() {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'de-DE' });
    context.on('response', (res) => {
        if (res.request().resourceType() === 'document' && res.url().startsWith(URL)
            && !CSP.test(res.headers()['content-security-policy'] || ''))
            problems.push(`${res.url()}: missing or different Content-Security-Policy`);
    });
    // the neutral site of the quick exit, answered locally (no network here)
    await context.route('https://www.google.de/**', (route) =>
        route.fulfill({ contentType: 'text/html', body: '<!doctype html><title>Google</title><p>neutral</p>' }));
    context.on('page', watch);
    return context;
}

function watch(page) {
    page.on('console', (m) => {
        if (m.type() === 'error') problems.push(`${page.url()}: console: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`${page.url()}: ${e.message}`));
}

async function openPage(context, path, base = URL) {
    const page = await context.newPage();
    await page.goto(base + path);
    return page;
}

function assertNoProblems() {
    const found = problems.splice(0);
    assert.deepEqual(found, [], 'console errors or CSP violations');
}

/** Screenshots at phone (360×740) and desktop (1280×800) width. */
async function shoot(page, name) {
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.setViewportSize({ width: 360, height: 740 });
    await page.screenshot({ path: join(SHOTS, `${name}-360.png`), fullPage: true });
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.screenshot({ path: join(SHOTS, `${name}-1280.png`), fullPage: true });
}

function lotsectl(...args) {
    return execFileSync(env('LOTSECTL'), ['--db', env('LOTSE_DB'), ...args], { encoding: 'utf8' });
}

const ANNA = { handle: () => env('LOTSE_COUNSELLOR'), password: () => env('LOTSE_COUNSELLOR_PASSWORD') };
const BEN = { handle: () => env('LOTSE_COUNSELLOR2'), password: () => env('LOTSE_COUNSELLOR2_PASSWORD') };

async function counsellorLogin(page, who = ANNA) {
    await page.fill('#handle', who.handle());
    await page.fill('#password', who.password());
    await page.click('#login-button');
    await page.locator('#view-console').waitFor();
}

/** A counsellor console whose device key is certified, logged in and available. */
async function certifiedCounsellor(who = ANNA) {
    const context = await newContext();
    const page = await openPage(context, '/counsellor/');
    await page.locator('#view-login').waitFor();
    const pk = (await page.locator('#device-pk').textContent()).trim();
    lotsectl('device-certify', '--handle', who.handle(), '--device', pk, '--orgkey', env('LOTSE_ORGKEY'));
    await counsellorLogin(page, who);
    assert.equal(await page.locator('#uncertified').isHidden(), true);
    await page.check('#available');
    await page.locator('#status-line.on').waitFor();
    return { context, page };
}

/** A young person who chose a topic and is waiting in the queue. */
async function youngInQueue(context, topicId = 'family', base = URL) {
    const page = await openPage(context, '/', base);
    await page.locator('#view-start').waitFor();
    await page.check(`input[name="topic"][value="${topicId}"]`);
    await page.click('#start-form button[type="submit"]');
    await page.locator('#view-queue').waitFor();
    return page;
}

/** Everything the page's origin keeps: sessionStorage, localStorage, cookies, IndexedDB. */
async function originState(page) {
    return page.evaluate(async () => ({
        session: Object.keys(sessionStorage),
        local: Object.keys(localStorage),
        cookie: document.cookie,
        idb: (await indexedDB.databases()).map((d) => d.name),
    }));
}

test('a young person and a counsellor chat both ways, end to end encrypted', async () => {
    const cctx = await newContext();
    const c = await openPage(cctx, '/counsellor/');
    await c.locator('#view-login').waitFor();
    await shoot(c, 'counsellor-login');
    const pk = (await c.locator('#device-pk').textContent()).trim();
    assert.match(pk, /^[A-Za-z0-9_-]{43}$/);
    await c.fill('#handle', 'anna');
    assert.equal((await c.locator('#device-cmd').textContent()).trim(),
        `lotsectl device-certify --handle anna --device ${pk}`);

    // first login: this device is not certified yet, the console says so
    await counsellorLogin(c);
    await c.locator('#uncertified').waitFor();
    assert.match(await c.locator('#uncert-cmd').textContent(), new RegExp(`--device ${pk}\\s*$`));

    // an admin runs the command shown; after a new login the console can take chats
    lotsectl('device-certify', '--handle', 'anna', '--device', pk, '--orgkey', env('LOTSE_ORGKEY'));
    await c.click('#logout');
    await counsellorLogin(c);
    assert.equal(await c.locator('#uncertified').isHidden(), true);
    await c.check('#available');
    await c.locator('#status-line.on').waitFor();

    const yctx = await newContext();
    const y = await openPage(yctx, '/');
    await y.locator('#view-start').waitFor();
    await shoot(y, 'young-welcome');
    await y.check('input[name="topic"][value="family"]');
    await y.click('#start-form button[type="submit"]');
    await y.locator('#view-queue').waitFor();
    await y.locator('#queue-pos').filter({ hasText: 'Du bist als Nächstes dran.' }).waitFor();
    await shoot(y, 'young-queue');

    await c.locator('#queue-total').filter({ hasText: '1 warten' }).waitFor();
    await c.click('#take');
    const panel = c.locator('#panels [role="tabpanel"]');
    await panel.waitFor();

    await y.locator('#view-chat').waitFor();
    assert.match(await y.locator('#chat-title').textContent(), /Anna/);

    await y.fill('#text', 'Hallo, ich bin neu hier. 🙂');
    await y.press('#text', 'Enter');
    await panel.locator('.msg.theirs', { hasText: 'Hallo, ich bin neu hier. 🙂' }).waitFor();
    await panel.locator('textarea').fill('Hallo! Schön, dass du da bist.');
    await panel.locator('button[type="submit"]').click();
    await y.locator('.msg.theirs', { hasText: 'Hallo! Schön, dass du da bist.' }).waitFor();

    // delivered = the other side's ACK covered the message
    await y.locator('.msg.mine .state.delivered').waitFor();
    await panel.locator('.msg.mine .state.delivered').waitFor();
    await shoot(y, 'young-chat');
    await shoot(c, 'counsellor-chat');

    // the safety code: both sides show the same code of this session's keys
    await y.click('#safety-toggle');
    const yCode = (await y.locator('#safety-code').textContent()).trim();
    await panel.locator('.safety-toggle').click();
    const cCode = (await panel.locator('.safety-code').textContent()).trim();
    assert.match(yCode, /^\d{4} \d{4} \d{4} \d{4}$/);
    assert.equal(cCode, yCode, 'both sides show the same safety code');
    await shoot(y, 'young-safety-code');
    await c.screenshot({ path: join(SHOTS, 'counsellor-safety-code-1280.png') });
    await panel.locator('.safety-toggle').click();
    await y.click('#safety-toggle');

    await y.click('#end-chat');
    await y.click('#end-yes');
    // the conversation stays on screen with the end below it (issue #14 point 3)
    await y.locator('#chat-ended').waitFor();
    assert.equal(await y.locator('#ended-reason').textContent(), 'Du hast den Chat beendet.');
    await panel.locator('.msg.system', { hasText: 'Die junge Person hat den Chat beendet.' }).waitFor();
    assert.equal(await panel.getAttribute('data-ended'), 'ended_by_young');
    await cctx.close();
    await yctx.close();
    assertNoProblems();
});

test('the device secret key is a non-extractable WebCrypto key, the login proves it, and a chat works', async () => {
    const { context: cctx, page: c } = await certifiedCounsellor();
    const stored = await c.evaluate(async () => {
        const db = await new Promise((res, rej) => {
            const r = indexedDB.open('lotse-counsellor', 1);
            r.onsuccess = () => res(r.result);
            r.onerror = () => rej(r.error);
        });
        const kp = await new Promise((res, rej) => {
            const r = db.transaction('keys', 'readonly').objectStore('keys').get('device');
            r.onsuccess = () => res(r.result);
            r.onerror = () => rej(r.error);
        });
        db.close();
        const k = kp.privateKey;
        let exported = true;
        try { await crypto.subtle.exportKey('pkcs8', k); } catch (e) { exported = false; }
        return {
            kind: kp.kind,
            cryptoKey: k instanceof CryptoKey,
            extractable: k.extractable,
            algorithm: k.algorithm && k.algorithm.name,
            type: k.type,
            exported,
            rawBytes: k instanceof Uint8Array || ArrayBuffer.isView(k),
            publicKeyLength: kp.publicKey.length,
        };
    });
    assert.deepEqual(stored, { kind: 'webcrypto', cryptoKey: true, extractable: false, algorithm: 'Ed25519',
        type: 'private', exported: false, rawBytes: false, publicKeyLength: 32 });
    assert.equal(await c.locator('#device-weak').count(), 0, 'no weak-key warning where WebCrypto has Ed25519');
    const yctx = await newContext();
    const { y, panel } = await chatting(c, yctx); // the young person verified the WebCrypto signature
    await youngSays(y, 'Hallo mit WebCrypto');
    await arrivesOnce(panel, 'Hallo mit WebCrypto');
    await counsellorSays(panel, 'Antwort mit WebCrypto');
    await arrivesOnce(y, 'Antwort mit WebCrypto');
    await y.click('#end-chat');
    await y.click('#end-yes');
    await panel.locator('.msg.system', { hasText: 'Die junge Person hat den Chat beendet.' }).waitFor();
    await cctx.close();
    await yctx.close();
    assertNoProblems();
});

test('without Ed25519 in WebCrypto the console falls back to libsodium, says so, and a chat works', async () => {
    const context = await newContext();
    // a browser without Ed25519 in WebCrypto: generateKey/importKey refuse it
    await context.addInitScript(() => {
        const s = globalThis.crypto && crypto.subtle;
        if (!s) return; // about:blank is no secure context
        const gen = s.generateKey.bind(s), imp = s.importKey.bind(s);
        const isEd = (a) => (typeof a === 'string' ? a : a && a.name) === 'Ed25519';
        s.generateKey = (a, ...r) => (isEd(a) ? Promise.reject(new DOMException('no Ed25519', 'NotSupportedError')) : gen(a, ...r));
        s.importKey = (f, k, a, ...r) => (isEd(a) ? Promise.reject(new DOMException('no Ed25519', 'NotSupportedError')) : imp(f, k, a, ...r));
    });
    const c = await openPage(context, '/counsellor/');
    await c.locator('#view-login').waitFor();
    await c.locator('#device-weak').waitFor();
    assert.match(await c.locator('#device-weak').textContent(), /nicht geschützt/);
    const pk = (await c.locator('#device-pk').textContent()).trim();
    lotsectl('device-certify', '--handle', ANNA.handle(), '--device', pk, '--orgkey', env('LOTSE_ORGKEY'));
    await counsellorLogin(c, ANNA); // the login proof is signed with libsodium here
    assert.equal(await c.locator('#uncertified').isHidden(), true);
    await c.check('#available');
    await c.locator('#status-line.on').waitFor();
    const yctx = await newContext();
    const { y, panel } = await chatting(c, yctx);
    await youngSays(y, 'Hallo ohne WebCrypto');
    await arrivesOnce(panel, 'Hallo ohne WebCrypto');
    await counsellorSays(panel, 'Antwort ohne WebCrypto');
    await arrivesOnce(y, 'Antwort ohne WebCrypto');
    await y.click('#end-chat');
    await y.click('#end-yes');
    await panel.locator('.msg.system', { hasText: 'Die junge Person hat den Chat beendet.' }).waitFor();
    await context.close();
    await yctx.close();
    assertNoProblems();
});

/** The attacker's own console: mallory on the attacker's server, with the
 * client the attacker published with its own key (web-attack) served to this
 * page instead of the real one, and a device the attacker certified. It runs in
 * a browser of its own: a page Playwright fulfils counts as public for
 * Chromium's local network access checks, which would block its WebSocket to
 * 127.0.0.1. The young person's browser keeps every check. */
async function attackerCounsellor() {
    const own = await chromium.launch({
        executablePath: process.env.CHROMIUM || '/usr/lib/chromium/chromium',
        headless: true,
        args: ['--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run',
            '--disable-features=LocalNetworkAccessChecks'],
    });
    const context = await own.newContext({ viewport: { width: 1280, height: 800 }, locale: 'de-DE' });
    context.on('close', () => own.close());
    context.on('page', watch);
    const web = env('LOTSE_ATTACK_WEB');
    await context.route(`${ATTACK_URL}/**`, async (route) => {
        const u = new globalThis.URL(route.request().url());
        const file = join(web, u.pathname.endsWith('/') ? `${u.pathname}index.html` : u.pathname);
        if (!file.startsWith(web) || !existsSync(file) || !statSync(file).isFile()) return route.continue();
        const res = await route.fetch(); // the server's headers, the attacker's bytes
        return route.fulfill({ response: res, body: readFileSync(file) });
    });
    const page = await openPage(context, '/counsellor/', ATTACK_URL);
    await page.locator('#view-login').waitFor();
    const pk = (await page.locator('#device-pk').textContent()).trim();
    execFileSync(env('LOTSECTL'), ['--db', env('LOTSE_ATTACK_DB'), 'device-certify', '--handle',
        env('LOTSE_ATTACK_COUNSELLOR'), '--device', pk, '--orgkey', env('LOTSE_ATTACK_ORGKEY')], { encoding: 'utf8' });
    await page.fill('#handle', env('LOTSE_ATTACK_COUNSELLOR'));
    await page.fill('#password', env('LOTSE_ATTACK_COUNSELLOR_PASSWORD'));
    await page.click('#login-button');
    await page.locator('#view-console').waitFor();
    assert.equal(await page.locator('#uncertified').isHidden(), true);
    await page.check('#available');
    await page.locator('#status-line.on').waitFor();
    return { context, page };
}

test('a server that names another organisation key than the pinned root: the pages refuse and say why', async () => {
    const yctx = await newContext();
    const sockets = [];
    yctx.on('page', (p) => p.on('websocket', (ws) => sockets.push(ws.url())));
    const y = await openPage(yctx, '/', ATTACK_URL);
    await y.locator('#view-untrusted').waitFor();
    assert.match(await y.locator('#untrusted-why').textContent(), /anderen Schlüssel als den, der fest in dieser Seite steht/);
    assert.equal(await y.locator('#view-start').isHidden(), true);
    assert.equal(await y.locator('#start-form').isVisible(), false);
    await shoot(y, 'young-untrusted');
    await y.selectOption('#lang', 'en');
    assert.match(await y.locator('#untrusted-why').textContent(), /different key from the one built into this page/);
    assert.deepEqual(sockets, [], 'no WebSocket was opened');
    // the counsellor console of the published client refuses that server too
    const c = await openPage(yctx, '/counsellor/', ATTACK_URL);
    await c.locator('#load-failed').waitFor();
    assert.match(await c.locator('#load-failed').textContent(), /anderen Schlüssel/);
    assert.equal(await c.locator('#view-login').isHidden(), true);
    await yctx.close();
    assertNoProblems();
});

test('a changed module or trust root is not run: the browser enforces the pages\' integrity hashes', async () => {
    // one changed byte in a module the page imports: the page's code never runs
    const ctx = await newContext();
    const sockets = [];
    ctx.on('page', (p) => p.on('websocket', (ws) => sockets.push(ws.url())));
    await ctx.route(`${URL}/js/chat.js`, async (route) => {
        const res = await route.fetch();
        await route.fulfill({ response: res, body: `${await res.text()}\n;globalThis.stolen = 1;\n` });
    });
    const y = await openPage(ctx, '/');
    await y.waitForTimeout(1500);
    assert.equal(await y.locator('#view-start').isHidden(), true);
    assert.equal(await y.evaluate(() => globalThis.stolen), undefined);
    // a trust root with the attacker's key in it: refused, and said so
    const ctx2 = await newContext();
    ctx2.on('page', (p) => p.on('websocket', (ws) => sockets.push(ws.url())));
    await ctx2.route(`${URL}/trust-root.json`, (route) => route.fulfill({
        contentType: 'application/json',
        body: JSON.stringify({ format: 'lotse-trust-root-v1', roots: [{ kind: 'org', label: 'x', key: 'A'.repeat(43) }] }),
    }));
    const y2 = await openPage(ctx2, '/');
    await y2.locator('#view-untrusted').waitFor();
    assert.match(await y2.locator('#untrusted-why').textContent(), /nicht geprüft werden/);
    assert.deepEqual(sockets, [], 'no WebSocket was opened');
    await ctx.close();
    await ctx2.close();
    // the browser's own integrity errors are what this test expects
    const found = problems.splice(0);
    assert.ok(found.length > 0 && found.every((p) => /integrity|digest/i.test(p)), found.join('\n'));
});

test('an attacker that hides its key and certifies its own device: the young person refuses the keys and sends nothing', async () => {
    const { context: cctx, page: c } = await attackerCounsellor();
    const yctx = await newContext();
    // the attacker's /config.json names no key: the page starts, the keys decide
    await yctx.route(`${ATTACK_URL}/config.json`, async (route) => {
        const res = await route.fetch();
        const body = await res.json();
        delete body.org_public_key;
        await route.fulfill({ response: res, body: JSON.stringify(body) });
    });
    const binarySent = [];
    yctx.on('page', (p) => p.on('websocket', (ws) => ws.on('framesent', (f) => {
        if (typeof f.payload !== 'string') binarySent.push(f.payload.length);
    })));
    const y = await youngInQueue(yctx, 'family', ATTACK_URL);
    await c.click('#take');
    await y.locator('#view-refused').waitFor();
    const panel = c.locator('#panels [role="tabpanel"]');
    await panel.locator('.msg.system', { hasText: 'Schlüssel abgelehnt' }).waitFor();
    assert.equal(await panel.getAttribute('data-ended'), 'key_rejected');
    assert.deepEqual(binarySent, [], 'the young person sent no frame');
    assert.deepEqual((await originState(y)).session, []);
    await cctx.close();
    await yctx.close();
    assertNoProblems();
});

test('the supervisor sees a waiting young person, today\'s count and a counsellor\'s escalation', async () => {
    const sctx = await newContext();
    const s = await openPage(sctx, '/supervisor/');
    await s.fill('#handle', env('LOTSE_SUPERVISOR'));
    await s.fill('#password', env('LOTSE_SUPERVISOR_PASSWORD'));
    await s.click('#login-button');
    await s.locator('#view-dash').waitFor();
    // the server's feed arrived: the escalation card and the p90 note exist only there
    await s.locator('#esc-card:not([hidden])').waitFor();
    assert.equal(await s.locator('#source-note').isHidden(), true);

    const yctx = await newContext();
    const y = await youngInQueue(yctx, 'prison');
    const row = s.locator('#topic-rows tr[data-topic="prison"]');
    await row.locator('td.waiting', { hasText: /^1$/ }).waitFor();
    assert.match(await row.locator('th').textContent(), /Elternteil ist im Gefängnis/);
    await s.locator('#v-waiting', { hasText: /^1$/ }).waitFor();
    // someone waits and no counsellor is available: the server's alarm, in words
    await s.locator('#trouble [data-alarm="no_counsellor"]', { hasText: 'verfügbar' }).waitFor();
    assert.equal(await s.locator('#stat-available').getAttribute('class'), 'stat bad');
    // today's count of started sessions includes this one
    await s.waitForFunction(() => Number(document.getElementById('v-started').textContent) >= 1);
    await s.waitForTimeout(1200); // let the chart draw a step
    await shoot(s, 'supervisor');

    // a counsellor takes the chat and escalates it: metadata only reaches the supervisor
    const { context: cctx, page: c } = await certifiedCounsellor();
    await c.click('#take');
    const panel = c.locator('#panels [role="tabpanel"]').first();
    await panel.waitFor();
    const sid = await panel.getAttribute('data-sid');
    await y.locator('#view-chat').waitFor();
    await s.locator('#v-waiting', { hasText: /^0$/ }).waitFor();
    await s.locator('#trouble').waitFor({ state: 'hidden' });
    await s.locator('#all-well').waitFor();
    await s.locator('#v-active', { hasText: /^1$/ }).waitFor();
    await panel.locator('button.escalate', { hasText: 'An Supervision melden' }).click();
    await panel.locator('.escalate-state', { hasText: 'Supervision ist informiert' }).waitFor();
    assert.equal(await panel.locator('button.escalate').isDisabled(), true);

    const esc = s.locator(`#esc-list li[data-sid="${sid}"]`);
    await esc.waitFor();
    assert.match(await esc.locator('.esc-topic').textContent(), /Elternteil ist im Gefängnis/);
    // named by the handle from the list of counsellors
    assert.equal(await esc.locator('.esc-who').textContent(), `gemeldet von ${ANNA.handle()}`);
    assert.match(await esc.locator('.esc-since').textContent(), /^seit \d\d:\d\d Uhr \(vor \d+ s\)$/);
    assert.equal(await s.locator('#esc-count').textContent(), '1');
    assert.equal(await s.locator('#v-esc').textContent(), '1');
    // announced: in the live region for screen readers and in the page title
    assert.equal(await s.locator('#announce').getAttribute('aria-live'), 'assertive');
    await s.locator('#announce', { hasText: /^Neue Meldung an die Supervision: Thema Ein Elternteil ist im Gefängnis, gemeldet von anna, um \d\d:\d\d Uhr\.$/ }).waitFor();
    assert.match(await s.title(), /^\(1\) Meldung offen/);
    // nothing from the chat: no message text, no key, no session id shown
    assert.equal((await s.locator('#view-dash').textContent()).includes(sid), false);
    // English on switch
    await s.click('#lang');
    await s.locator('#esc-list .esc-who', { hasText: /^reported by anna$/ }).waitFor();
    assert.match(await s.title(), /^\(1\) escalation open/);
    await s.click('#lang');
    await s.waitForTimeout(1200);
    await shoot(s, 'supervisor-escalation');

    // the chat ends (confirmed, no closing message): the escalation is closed,
    // the title calm again, "ended" counts it
    await panel.locator('button.danger', { hasText: 'Chat beenden' }).click();
    await panel.locator('.end-yes').click();
    await s.locator('#esc-none').waitFor();
    assert.equal(await s.locator('#esc-list li').count(), 0);
    assert.equal(await s.title(), 'Supervision');
    await s.waitForFunction(() => Number(document.getElementById('v-ended').textContent) >= 1);
    await yctx.close();
    await cctx.close();
    await sctx.close();
    assertNoProblems();
});

test('quick exit leaves the neutral site and no chat state behind', async () => {
    const yctx = await newContext();
    const y = await youngInQueue(yctx);
    assert.ok((await originState(y)).session.includes('lotse.sid'));
    await y.click('#quick-exit');
    await y.waitForURL(NEUTRAL);
    // Back does not return to the chat
    await y.goBack().catch(() => null);
    assert.ok(!y.url().startsWith(URL), `back went to ${y.url()}`);
    // the origin's storage in this very tab, seen from a file that runs no app code
    await y.goto(`${URL}/favicon.svg`);
    const state = await originState(y);
    assert.deepEqual(state, { session: [], local: [], cookie: '', idb: [] });
    assert.deepEqual(await yctx.cookies(), []);
    await yctx.close();
    assertNoProblems();
});

test('a reload while waiting keeps the place; a reload whose resume fails says so and starts clean', async () => {
    const yctx = await newContext();
    const y = await youngInQueue(yctx);
    const sid = await y.evaluate(() => sessionStorage.getItem('lotse.sid'));
    // the session resumes (PROTOCOL.md §5.2): still in the queue, same session
    await y.reload();
    await y.locator('#view-queue').waitFor();
    // the place, or (no counsellor online at this point of the run) that nobody is there yet
    await y.locator('#queue-pos:visible:has-text("Du bist als Nächstes dran."), #queue-nobody:visible').first().waitFor();
    assert.equal(await y.evaluate(() => sessionStorage.getItem('lotse.sid')), sid);
    // leave the queue (nobody is left waiting), then a session the server does
    // not know: resume_failed
    await y.click('#leave-queue');
    await y.locator('#view-over').waitFor();
    assert.deepEqual((await originState(y)).session, []);
    await y.evaluate((old) => {
        sessionStorage.setItem('lotse.sid', old);
        sessionStorage.setItem('lotse.resume', 'A'.repeat(43));
    }, sid);
    await y.reload();
    await y.locator('#view-start').waitFor();
    await y.locator('#interrupted').waitFor();
    assert.equal(await y.locator('#view-queue').isHidden(), true);
    assert.equal(await y.locator('#view-chat').isHidden(), true);
    assert.equal(await y.locator('#messages li').count(), 0);
    assert.deepEqual((await originState(y)).session, []);
    await yctx.close();
    assertNoProblems();
});

/** A young person in a running chat with the counsellor page c; returns {y, panel}. */
async function chatting(c, yctx) {
    const y = await youngInQueue(yctx);
    const before = await c.locator('#panels [role="tabpanel"]').count();
    await c.click('#take');
    await c.locator('#panels [role="tabpanel"]').nth(before).waitFor();
    const sid = await c.locator('#panels [role="tabpanel"]').nth(before).getAttribute('data-sid');
    await y.locator('#view-chat').waitFor();
    await y.locator('#text:enabled').waitFor();
    assert.equal(await y.evaluate(() => sessionStorage.getItem('lotse.sid')), sid);
    return { y, panel: c.locator(`#panel-${sid}`) };
}

/** Waits until exactly one message with this text is shown (and stays one). */
async function arrivesOnce(scope, text) {
    const m = scope.locator('.msg.theirs', { hasText: text });
    await m.first().waitFor();
    await new Promise((r) => setTimeout(r, 700)); // a duplicate would come right behind
    assert.equal(await m.count(), 1, `"${text}" shown ${await m.count()} times`);
}

test('the young person says goodbye and ends while the counsellor is offline: the console gets both when it is back', async () => {
    const { context: cctx, page: c } = await certifiedCounsellor();
    const yctx = await newContext();
    const { y, panel } = await chatting(c, yctx);
    await youngSays(y, 'Hallo');
    await arrivesOnce(panel, 'Hallo');

    // the counsellor's laptop loses its network (a train in a tunnel)
    await cctx.setOffline(true);
    await y.locator('#chat-notice', { hasText: 'verbindet sich gerade neu' }).waitFor();
    await youngSays(y, 'Danke dir. Ich muss jetzt los, tschüss!');
    await y.locator('.msg.mine', { hasText: 'tschüss' }).waitFor();
    await y.click('#end-chat');
    await y.click('#end-yes');
    await y.locator('#text:disabled').waitFor({ state: 'attached' });

    // back online: the last words arrive, then the reason the chat ended
    await cctx.setOffline(false);
    await arrivesOnce(panel, 'Danke dir. Ich muss jetzt los, tschüss!');
    await panel.locator('.msg.system', { hasText: 'Die junge Person hat den Chat beendet.' }).waitFor();
    assert.equal(await panel.locator('.msg.system', { hasText: 'Deine Verbindung war weg' }).count(), 0);
    await shoot(c, 'counsellor-ended-while-away');
    await cctx.close();
    await yctx.close();
    assertNoProblems();
});

test('a reload mid-chat resumes with new keys, the counsellor sees the key change, messages flow', async () => {
    const { context: cctx, page: c } = await certifiedCounsellor();
    const yctx = await newContext();
    const { y, panel } = await chatting(c, yctx);
    await youngSays(y, 'Vor dem Neuladen');
    await arrivesOnce(panel, 'Vor dem Neuladen');
    await counsellorSays(panel, 'Antwort vor dem Neuladen');
    await arrivesOnce(y, 'Antwort vor dem Neuladen');
    const sid = await y.evaluate(() => sessionStorage.getItem('lotse.sid'));

    await y.reload();
    // the same session, the same counsellor, verified again with fresh keys
    await y.locator('#view-chat').waitFor();
    await y.locator('.msg.system', { hasText: 'Der Chat geht weiter.' }).waitFor();
    await y.locator('#chat-title', { hasText: 'Anna' }).waitFor();
    await y.locator('#text:enabled').waitFor();
    assert.equal(await y.evaluate(() => sessionStorage.getItem('lotse.sid')), sid);
    // the conversation so far is shown again, once (this tab's sessionStorage, young-keep.js)
    assert.equal(await y.locator('.msg.theirs', { hasText: 'Antwort vor dem Neuladen' }).count(), 1);
    assert.equal(await y.locator('.msg.mine', { hasText: 'Vor dem Neuladen' }).count(), 1);
    // the counsellor: the key change is visible, announced (role=alert) and in the log
    const marker = panel.locator('.key-changed');
    await marker.waitFor();
    assert.equal(await marker.getAttribute('role'), 'alert');
    assert.match(await marker.textContent(), /neuen Schlüssel/);
    await panel.locator('.msg.system', { hasText: 'Schlüssel der jungen Person hat sich geändert' }).waitFor();
    assert.equal(await c.locator('.tab.key-changed-tab').count(), 1);
    assert.equal(await panel.getAttribute('data-ended'), null);

    await youngSays(y, 'Nach dem Neuladen');
    await arrivesOnce(panel, 'Nach dem Neuladen');
    await counsellorSays(panel, 'Antwort nach dem Neuladen');
    await arrivesOnce(y, 'Antwort nach dem Neuladen');
    await y.locator('.msg.mine .state.delivered').waitFor();
    await shoot(y, 'young-resumed-after-reload');
    await shoot(c, 'counsellor-key-changed');

    await y.click('#end-chat');
    await y.click('#end-yes');
    await panel.locator('.msg.system', { hasText: 'Die junge Person hat den Chat beendet.' }).waitFor();
    await cctx.close();
    await yctx.close();
    assertNoProblems();
});

test('a network drop loses nothing: messages sent meanwhile on both sides arrive once', async () => {
    const { context: cctx, page: c } = await certifiedCounsellor();
    const yctx = await newContext();
    const { y, panel } = await chatting(c, yctx);
    await youngSays(y, 'Erste Nachricht');
    await arrivesOnce(panel, 'Erste Nachricht');

    // the young person's device loses its network (Chromium keeps an open
    // WebSocket through emulated offline; the page's `offline` handler drops it)
    await yctx.setOffline(true);
    await y.locator('#conn-banner', { hasText: 'Verbindung unterbrochen' }).waitFor();
    await youngSays(y, 'Geschrieben ohne Netz');
    await y.locator('.msg.mine', { hasText: 'Geschrieben ohne Netz' }).waitFor();
    // the counsellor learns that the young person is away, not that the chat ended
    await panel.locator('.chat-notice', { hasText: 'nicht verbunden' }).waitFor();
    await counsellorSays(panel, 'Während du weg warst');
    await shoot(y, 'young-reconnecting');
    await shoot(c, 'counsellor-peer-away');

    await yctx.setOffline(false);
    await arrivesOnce(panel, 'Geschrieben ohne Netz');
    await arrivesOnce(y, 'Während du weg warst');
    await y.locator('#conn-banner', { hasText: 'Verbindung unterbrochen' }).waitFor({ state: 'hidden' });
    await panel.locator('.chat-notice', { hasText: 'nicht verbunden' }).waitFor({ state: 'hidden' });
    // both sides' messages are acknowledged in the end
    await y.locator('.msg.mine', { hasText: 'Geschrieben ohne Netz' }).locator('.state.delivered').waitFor();
    await panel.locator('.msg.mine', { hasText: 'Während du weg warst' }).locator('.state.delivered').waitFor();
    assert.equal(await y.locator('.msg.theirs').count(), 1);
    assert.equal(await panel.locator('.msg.theirs').count(), 2);

    await y.click('#end-chat');
    await y.click('#end-yes');
    await panel.locator('.msg.system', { hasText: 'Die junge Person hat den Chat beendet.' }).waitFor();
    await cctx.close();
    await yctx.close();
    assertNoProblems();
});

test('a transfer back to the queue: a colleague takes it, the young person sees the new name', async () => {
    const { context: actx, page: a } = await certifiedCounsellor(ANNA);
    const yctx = await newContext();
    const { y, panel: apanel } = await chatting(a, yctx);
    await youngSays(y, 'Hallo Anna');
    await arrivesOnce(apanel, 'Hallo Anna');
    // the colleague logs in with their own certified device, but takes nothing yet
    const { context: bctx, page: b } = await certifiedCounsellor(BEN);

    await apanel.locator('button.transfer-open').click();
    await apanel.locator('form.transfer').waitFor();
    await shoot(a, 'counsellor-transfer-form');
    await apanel.locator('button.transfer-queue').click();
    await apanel.locator('.msg.system', { hasText: 'Du hast den Chat weitergegeben.' }).waitFor();
    assert.equal(await apanel.getAttribute('data-ended'), 'transferred');
    await y.locator('.msg.system', { hasText: 'weitergegeben' }).first().waitFor();
    assert.equal(await y.locator('#text').isDisabled(), true, 'nothing is sent until the new keys verify');
    await shoot(y, 'young-transfer-waiting');

    await b.locator('#queue-total').filter({ hasText: '1 warten' }).waitFor();
    await b.click('#take');
    const bpanel = b.locator('#panels [role="tabpanel"]');
    await bpanel.waitFor();
    await y.locator('#chat-title', { hasText: 'Ben' }).waitFor();
    await y.locator('.msg.system', { hasText: 'Jetzt schreibst du mit Ben' }).waitFor();
    await y.locator('#text:enabled').waitFor();
    await youngSays(y, 'Hallo Ben');
    await arrivesOnce(bpanel, 'Hallo Ben');
    await counsellorSays(bpanel, 'Hallo, ich bin Ben.');
    await arrivesOnce(y, 'Hallo, ich bin Ben.');
    // the previous counsellor got nothing of it
    assert.equal(await apanel.locator('.msg.theirs', { hasText: 'Hallo Ben' }).count(), 0);
    await shoot(y, 'young-after-transfer');
    await shoot(b, 'counsellor-after-transfer');

    await y.click('#end-chat');
    await y.click('#end-yes');
    await bpanel.locator('.msg.system', { hasText: 'Die junge Person hat den Chat beendet.' }).waitFor();
    await actx.close();
    await bctx.close();
    await yctx.close();
    assertNoProblems();
});
