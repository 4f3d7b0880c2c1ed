// Browser end-to-end: the young person's side of mail counselling (issue #13),
// phone-sized (360×740), against a real lotsed and PostgreSQL (run.sh). A
// second lotsed on the same database runs with the chat closed; the counsellor
// is mail-counsellor.mjs, a device with the real web/js crypto and protocol.
// Write while the chat is closed → the code once → the counsellor answers →
// back with the code typed loosely → the answer, verified → reply → a tampered
// answer is refused with a warning → delete → the code gets the neutral answer.
// Nothing about the code or the texts is left in the page's storage.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { chromium } from 'playwright-core';

import { startChildLotsed } from './child-lotsed.mjs';

const env = (name) => {
    const v = process.env[name];
    if (!v) throw new Error(`${name} is not set: run tests/browser/run.sh`);
    return v;
};
const HERE = dirname(fileURLToPath(import.meta.url));
const URL = env('LOTSE_URL');
const SHOTS = join(env('LOTSE_ARTIFACTS'), 'screenshots');
const PHONE = { width: 360, height: 740 };
const CODE_RE = /^[0-9A-HJKMNP-TV-Z]{5}(-[0-9A-HJKMNP-TV-Z]{5}){3}$/;
const YOUNG_TEXT = 'Hallo, ich schreibe euch, weil es zu Hause gerade schwierig ist. Meine Eltern streiten jeden Abend.';
const ANSWER = 'Hallo, danke, dass du uns geschrieben hast. Das klingt anstrengend. Magst du erzählen, wie es dir dabei geht?';
const REPLY = 'Danke für die Antwort. Mir geht es nicht so gut, aber besser, seit ich geschrieben habe.';

// The server's mail side (r/mailyoung, r/mailpost) says "mail": true in
// /config.json; without it these tests are skipped, saying why.
const serverConfig = await (await fetch(`${URL}/config.json`)).json();
const NO_MAIL = serverConfig.mail === true ? false : 'this lotsed has no mail side yet (/config.json "mail" is not true)';

let browser;
let closedLotsed; // {proc, url}
let counsellor; // {proc, next()}
const problems = [];

/** A lotsed on the run's database and published client whose chat is closed now. */
function startClosedLotsed() {
    return startChildLotsed('mail-lotsed', ['--opening-hours', 'mon 00:00-00:01', '--pow-source-free', '1000']);
}

/** mail-counsellor.mjs as a child; next(cmd) sends one command and resolves with its answer line. */
async function startCounsellor(url) {
    const proc = spawn(process.execPath, ['--experimental-websocket', '--no-warnings', join(HERE, 'mail-counsellor.mjs')], {
        env: { ...process.env, LOTSE_URL: url, MAIL_HANDLE: env('LOTSE_COUNSELLOR2'), MAIL_PASSWORD: env('LOTSE_COUNSELLOR2_PASSWORD') },
        stdio: ['pipe', 'pipe', 'inherit'],
    });
    const lines = createInterface({ input: proc.stdout })[Symbol.asyncIterator]();
    const read = async () => {
        const { value, done } = await lines.next();
        if (done) throw new Error('mail-counsellor.mjs ended');
        return JSON.parse(value);
    };
    const ready = await read();
    assert.equal(ready.ready, true, 'the counsellor device logged in and registered its mail key');
    return {
        proc,
        async next(cmd) {
            proc.stdin.write(`${JSON.stringify(cmd)}\n`);
            const r = await read();
            assert.equal(r.error, undefined, `counsellor ${cmd.cmd}: ${r.error}`);
            return r;
        },
    };
}

before(async () => {
    if (NO_MAIL) return;
    mkdirSync(SHOTS, { recursive: true });
    browser = await chromium.launch({
        executablePath: process.env.CHROMIUM || '/usr/lib/chromium/chromium',
        headless: true,
        args: ['--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    closedLotsed = await startClosedLotsed();
});

after(async () => {
    if (counsellor) counsellor.proc.kill('SIGTERM');
    if (browser) await browser.close();
    if (closedLotsed) closedLotsed.proc.kill('SIGTERM');
});

async function phonePage(base) {
    const context = await browser.newContext({ viewport: PHONE, locale: 'de-DE' });
    const page = await context.newPage();
    page.on('console', (m) => {
        if (m.type() === 'error') problems.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(e.message));
    await page.goto(`${base}/`);
    await page.locator('#view-start').waitFor();
    return { context, page };
}

async function shoot(page, name) {
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: join(SHOTS, `mail-${name}-360.png`), fullPage: true });
}

/** Everything the page's origin keeps. */
async function originState(page) {
    return page.evaluate(async () => ({
        session: Object.entries(sessionStorage),
        local: Object.entries(localStorage),
        cookie: document.cookie,
        idb: (await indexedDB.databases()).map((d) => d.name),
    }));
}

/** The page does not scroll sideways at 360 px. */
async function assertFitsPhone(page, what) {
    const w = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(w <= PHONE.width, `${what}: the page is ${w} px wide at 360 px`);
}

async function enterCode(page, typed) {
    await page.click('#mail-code-button');
    await page.locator('#view-mail-enter').waitFor();
    await page.fill('#mail-code-input', typed);
    await page.click('#mail-open');
}

/** The code as a person might type it: lower case, spaces, O for 0, l for 1. */
function loosely(code) {
    return code.toLowerCase().replace(/-/g, ' ').replace(/0/g, 'o').replace(/1/g, 'l');
}

test('mail: write while the chat is closed, the code once, read the answer, reply, delete', { skip: NO_MAIL }, async () => {
    const { context, page } = await phonePage(closedLotsed.url);
    counsellor = await startCounsellor(closedLotsed.url);

    // the chat is closed: the page says so and offers writing first
    await page.locator('#closed').waitFor();
    assert.equal(await page.locator('#start-form').isHidden(), true);
    await page.locator('#mail-offer').waitFor();
    assert.match(await page.locator('#mail-offer-text').textContent(), /Der Chat ist gerade zu/);
    assert.match(await page.locator('#mail-offer-text').textContent(), /24 Stunden/);
    assert.equal(await page.locator('#mail-write-button').evaluate((b) => b.classList.contains('primary')), true);
    await assertFitsPhone(page, 'start (closed)');
    await shoot(page, 'start-closed');

    // write: a topic, the text, the counter
    await page.click('#mail-write-button');
    await page.locator('#view-mail-write').waitFor();
    await page.click('#mail-send');
    await page.locator('#mail-topic-missing').waitFor();
    await page.check('input[name="mail-topic"][value="family"]');
    await page.fill('#mail-text', 'x'.repeat(8001));
    assert.match(await page.locator('#mail-count').textContent(), /8\.001 von 8\.000 Zeichen – das ist zu lang/);
    await page.fill('#mail-text', YOUNG_TEXT);
    assert.equal(await page.locator('#mail-count').textContent(), `${YOUNG_TEXT.length} von 8.000 Zeichen`);
    await assertFitsPhone(page, 'write');
    await shoot(page, 'write');
    await page.click('#mail-send');

    // the code, once, large and grouped
    await page.locator('#view-mail-code').waitFor({ timeout: 20000 });
    const code = (await page.locator('#mail-code').textContent()).trim();
    assert.match(code, CODE_RE);
    assert.match(await page.locator('#view-mail-code').textContent(), /Screenshot/);
    assert.match(await page.locator('#view-mail-code').textContent(), /keine E-Mail und kein Konto/);
    assert.match(await page.locator('#view-mail-code').textContent(), /meistens innerhalb von 24 Stunden/);
    const size = await page.locator('#mail-code').evaluate((el) => parseFloat(getComputedStyle(el).fontSize));
    assert.ok(size >= 24, `the code is large (${size} px)`);
    await assertFitsPhone(page, 'code');
    await shoot(page, 'code');
    await page.click('#mail-code-done');
    await page.locator('#view-mail-done').waitFor();
    assert.equal((await page.content()).includes(code.slice(0, 5)), false, 'the code left the page after "notiert"');
    assert.equal(await page.locator('#mail-text').inputValue(), '', 'the text left the page');
    await shoot(page, 'sent');

    // the counsellor reads the message and answers
    const answered = await counsellor.next({ cmd: 'answer', text: ANSWER });
    assert.deepEqual(answered.read.map((r) => r.text), [YOUNG_TEXT]);

    // later, with the code typed loosely: the thread, the answer verified
    await page.click('#mail-done-home');
    await enterCode(page, loosely(code));
    await page.locator('#view-mail-thread').waitFor();
    const items = page.locator('#mail-messages > li');
    assert.equal(await items.count(), 2);
    assert.equal(await items.nth(0).locator('.body').textContent(), YOUNG_TEXT);
    assert.equal(await items.nth(1).locator('.body').textContent(), ANSWER);
    assert.equal(await items.nth(1).evaluate((li) => li.classList.contains('theirs')), true);
    assert.match(await items.nth(1).locator('time').textContent(), /\d{2}:\d{2}/);
    assert.match(await page.locator('#mail-thread-topic').textContent(), /Familie/);
    assert.equal(await page.locator('#mail-code-input').inputValue(), '', 'the typed code left the field');
    await assertFitsPhone(page, 'thread');
    await shoot(page, 'thread');

    // reply; the counsellor reads it
    await page.fill('#mail-reply', REPLY);
    await page.click('#mail-reply-send');
    await page.locator('#mail-thread-wait:has-text("Deine Antwort ist angekommen")').waitFor();
    assert.equal(await items.count(), 3);
    assert.equal(await items.nth(2).locator('.body').textContent(), REPLY);
    const reread = await counsellor.next({ cmd: 'read' });
    assert.deepEqual(reread.read.map((r) => r.text), [YOUNG_TEXT, ANSWER, REPLY]);
    await shoot(page, 'reply');

    // an answer that does not verify: a clear warning, never its text
    const forged = 'Dieser Text darf nie erscheinen.';
    await counsellor.next({ cmd: 'tamper', text: forged });
    await page.click('#mail-leave');
    await page.locator('#view-start').waitFor();
    await enterCode(page, code);
    await page.locator('#view-mail-thread').waitFor();
    await page.locator('#mail-messages > li.refused').waitFor();
    assert.match(await page.locator('#mail-messages > li.refused').textContent(), /konnte nicht geprüft werden/);
    assert.equal((await page.content()).includes(forged), false, 'the unverified text is not shown');
    assert.equal(await items.count(), 4);
    await shoot(page, 'refused');

    // nothing of the code or the texts in storage
    const state = await originState(page);
    assert.deepEqual(state.local, []);
    assert.deepEqual(state.session, []);
    assert.equal(state.cookie, '');
    assert.deepEqual(state.idb, []);

    // delete now, with a confirmation; then the code finds nothing
    await page.click('#mail-delete');
    await page.locator('#mail-delete-confirm').waitFor();
    await shoot(page, 'delete-confirm');
    await page.click('#mail-delete-yes');
    await page.locator('#view-mail-done').waitFor();
    assert.match(await page.locator('#mail-done-title').textContent(), /gelöscht/);
    assert.equal(await page.locator('#mail-messages > li').count(), 0);
    await shoot(page, 'deleted');
    await page.click('#mail-done-home');
    await enterCode(page, code);
    await page.locator('#mail-enter-error:has-text("Zu diesem Code haben wir nichts gefunden")').waitFor();
    assert.equal(await page.locator('#mail-enter-error').textContent(),
        'Zu diesem Code haben wir nichts gefunden. Vielleicht ein Tippfehler – oder die Nachrichten wurden gelöscht.');
    await shoot(page, 'unknown');

    // not a code at all: said at once, nothing asked of the server
    await page.fill('#mail-code-input', 'ABC-123');
    await page.click('#mail-open');
    await page.locator('#mail-enter-error:has-text("20 Zeichen")').waitFor();

    await context.close();
    assert.deepEqual(problems.splice(0).filter((p) => !/WebSocket/.test(p)), []);
});

test('mail: with the chat open, the chat comes first, writing second, the "same person" opt-in; a long wait', { skip: NO_MAIL }, async () => {
    const { context, page } = await phonePage(URL);
    await page.locator('#mail-offer').waitFor();
    assert.equal(await page.locator('#start-form').isVisible(), true);
    assert.match(await page.locator('#mail-offer-text').textContent(), /Du musst nicht warten/);
    assert.equal(await page.locator('#mail-write-button').evaluate((b) => b.classList.contains('primary')), false);
    // the server routes by "same" (/config.json "mail_same"): offered, the code field closed
    assert.equal(await page.locator('#same-box').isVisible(), true);
    assert.equal(await page.locator('#same-field').isVisible(), false);
    await assertFitsPhone(page, 'start (open)');
    await shoot(page, 'start-open');

    await context.close();

    // above mail_wait_threshold the queue offers writing instead
    const c2 = await browser.newContext({ viewport: PHONE, locale: 'de-DE' });
    await c2.route(`${URL}/config.json`, async (route) => {
        const r = await route.fetch();
        const cfg = await r.json();
        route.fulfill({ response: r, json: { ...cfg, mail_wait_threshold: -1 } });
    });
    const p2 = await c2.newPage();
    await p2.goto(`${URL}/`);
    await p2.check('input[name="topic"][value="school"]');
    await p2.click('#start-button');
    await p2.locator('#view-queue').waitFor();
    await p2.locator('#queue-mail').waitFor();
    await shoot(p2, 'queue-offer');
    await p2.click('#queue-mail-button');
    await p2.locator('#view-mail-write').waitFor();
    assert.equal(await p2.locator('input[name="mail-topic"][value="school"]').isChecked(), true);
    await c2.close();
});

test('mail: nobody there for a topic; then chat with the same person as last time (the code from a message)', { skip: NO_MAIL }, async () => {
    // nobody is there for the topic yet: the page says so and offers writing
    const { context, page } = await phonePage(URL);
    await page.check('input[name="topic"][value="school"]');
    await page.locator('#topic-unstaffed:has-text("gerade niemand da")').waitFor();
    assert.equal(await page.locator('#unstaffed-mail-button').isVisible(), true);
    await assertFitsPhone(page, 'unstaffed');
    await shoot(page, 'unstaffed');
    // a counsellor comes online; choosing a topic asks again
    const anna = await startCounsellor(URL);
    try {
        await page.check('input[name="topic"][value="family"]');
        await page.locator('#topic-unstaffed').waitFor({ state: 'hidden' });
        await page.check('input[name="topic"][value="school"]');
        await page.waitForTimeout(300);
        assert.equal(await page.locator('#topic-unstaffed').isVisible(), false, 'someone is there for school now');
        // the counsellor answers a message written in the open chat's page
        await page.click('#mail-write-button');
        await page.check('input[name="mail-topic"][value="school"]');
        await page.fill('#mail-text', 'Kann ich mit dir auch chatten?');
        await page.click('#mail-send');
        await page.locator('#view-mail-code').waitFor({ timeout: 20000 });
        const code = (await page.locator('#mail-code').textContent()).trim();
        await page.click('#mail-code-done');
        const answered = await anna.next({ cmd: 'answer', text: 'Ja, gern. Ich bin Montags da.' });
        assert.deepEqual(answered.read.map((r) => r.text), ['Kann ich mit dir auch chatten?']);

        // the chat, with the code: the person who answered is asked first
        await page.click('#mail-done-home');
        await page.check('input[name="topic"][value="school"]');
        await page.check('#same-check');
        await page.fill('#same-code', loosely(code));
        await assertFitsPhone(page, 'same (start)');
        await shoot(page, 'same-start');
        await page.click('#start-button');
        await page.locator('#same-note:has-text("zuerst die Person")').waitFor();
        const given = await anna.next({ cmd: 'assigned' });
        assert.equal(given.same, true, 'the counsellor sees that this young person asked for her');
        assert.equal(await page.locator('#same-code').inputValue(), '', 'the code left the page');
        await shoot(page, 'same-ok');
    } finally {
        anna.proc.kill('SIGTERM');
        await context.close();
    }
    assert.deepEqual(problems.splice(0).filter((p) => !/WebSocket/.test(p)), []);
});
