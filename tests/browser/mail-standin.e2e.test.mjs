// Browser end-to-end, phone size: the young person's mail pages (issue #13)
// against a STAND-IN for the mail messages. The page, the client and its
// certificates are the real lotsed's (run.sh); Playwright's routeWebSocket
// answers mail_keys / mail_new / mail_open / MAIL frames / mail_delete as
// proto/PROTOCOL.md §9.1 says, and this test plays the counsellor with the real
// web/js crypto (a device certified by lotsectl, its mail key statement).
// mail.e2e.test.mjs runs the same story against the real server's mail side.
// The stand-in also delivers a tampered answer: the page must refuse it.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { loadSodium } from './sodium-node.mjs';
const na = await loadSodium();
const { b64decode, b64encode, hexencode, concat } = await import('../../web/js/protocol.js');
const mc = await import('../../web/js/mail-crypto.js');
const { encodeMailFrame, decodeMailFrame } = await import('../../web/js/mail.js');
const URL = process.env.LOTSE_URL, SHOTS = join(process.env.LOTSE_ARTIFACTS, 'screenshots');
const env = process.env;

test('mail pages (stand-in server): write, the code once, a verified answer, a refused forgery, reply, delete, unknown', async () => {
  const device = na.crypto_sign_keypair();
  const cert = b64decode(execFileSync(env.LOTSECTL, ['--db', env.LOTSE_DB, 'device-certify', '--handle', env.LOTSE_COUNSELLOR2, '--device', b64encode(device.publicKey), '--orgkey', env.LOTSE_ORGKEY], { encoding: 'utf8' }).trim().split('\n').pop());
  const mail = na.crypto_box_keypair();
  const entry = concat(cert, mail.publicKey, mc.mailKeySign(device.publicKey, mail.publicKey, device.privateKey));
  let thread = null; // {lookup, boxPk, tid, msgs: []}
  const browser = await chromium.launch({ executablePath: '/usr/lib/chromium/chromium', headless: true });
  const ctx = await browser.newContext({ viewport: { width: 360, height: 740 }, locale: 'de-DE' });
  const errs = [];
  await ctx.route(`${URL}/config.json`, async (route) => { const r = await route.fetch(); const cfg = await r.json(); route.fulfill({ response: r, json: { ...cfg, mail: true, open: false, mail_target_hours: 24, mail_wait_threshold: 900 } }); });
  await ctx.routeWebSocket(/\/ws$/, (ws) => {
    const send = (o) => ws.send(JSON.stringify(o));
    ws.onMessage((data) => {
      if (typeof data !== 'string') {
        const f = decodeMailFrame(new Uint8Array(data));
        thread.msgs.push(f.envelope); send({ t: 'mail_stored', tid: hexencode(f.tid), n: thread.msgs.length }); return;
      }
      const m = JSON.parse(data);
      if (m.t === 'mail_keys') send({ t: 'mail_keys', keys: b64encode(entry), more: false });
      else if (m.t === 'mail_new') { thread = { lookup: m.lookup, boxPk: b64decode(m.box_pk), tid: new Uint8Array(16).fill(7), msgs: [], topic: m.topic }; send({ t: 'mail_ready', tid: hexencode(thread.tid) }); }
      else if (m.t === 'mail_open') setTimeout(() => {
        if (!thread || thread.lookup !== m.lookup) { send({ t: 'mail_unknown' }); return; }
        send({ t: 'mail_thread', tid: hexencode(thread.tid), topic: thread.topic, state: 'open', n: thread.msgs.length });
        thread.msgs.forEach((e, i) => ws.send(Buffer.from(encodeMailFrame(thread.tid, i + 1, e))));
      }, 500);
      else if (m.t === 'mail_delete') { thread = null; send({ t: 'mail_deleted', tid: m.tid }); }
    });
  });
  const p = await ctx.newPage();
  p.on('console', (m) => errs.push(m.type() + ': ' + m.text())); p.on('pageerror', (e) => errs.push(e.message));
  await p.goto(URL + '/'); await p.locator('#view-start').waitFor();
  await p.click('#mail-write-button'); await p.check('input[name="mail-topic"][value="family"]');
  await p.fill('#mail-text', 'Hallo, ich schreibe euch, weil es zu Hause gerade schwierig ist.');
  await p.click('#mail-send');
  await p.locator('#view-mail-code').waitFor();
  const code = (await p.locator('#mail-code').textContent()).trim();
  await p.evaluate(() => window.scrollTo(0, 0));
  await p.screenshot({ path: join(SHOTS, 'mail-standin-code-360.png'), fullPage: true });
  // counsellor answers
  const k = mc.derive(mc.codeParse(code));
  const o = mc.open({ envelope: thread.msgs[0], myPk: mail.publicKey, mySk: mail.privateKey, threadPk: thread.boxPk, threadSpk: k.signPk, orgKeys: [], now: 1 });
  assert.match(o.text, /schwierig/);
  thread.msgs.push(mc.seal({ kind: 2, signSk: device.privateKey, cert, threadPk: thread.boxPk, recipients: [mail.publicKey], time: Date.now(), body: 'Hallo, danke für deine Nachricht. Magst du mehr erzählen?' }));
  const bad = mc.seal({ kind: 2, signSk: device.privateKey, cert, threadPk: thread.boxPk, recipients: [mail.publicKey], time: Date.now(), body: 'NIE ZEIGEN' }); bad[bad.length - 100] ^= 1; thread.msgs.push(bad);
  await p.click('#mail-code-done'); await p.click('#mail-done-home');
  await p.click('#mail-code-button'); await p.fill('#mail-code-input', code.toLowerCase().replace(/-/g, ' ')); await p.click('#mail-open');
  await p.locator('#view-mail-thread').waitFor();
  await p.fill('#mail-reply', 'Danke!');
  await p.click('#mail-reply-send'); await p.locator('#mail-thread-wait:has-text("angekommen")').waitFor();
  await p.evaluate(() => window.scrollTo(0, 0));
  await p.screenshot({ path: join(SHOTS, 'mail-standin-thread-360.png'), fullPage: true });
  assert.equal((await p.content()).includes('NIE ZEIGEN'), false);
  await p.click('#mail-delete'); await p.click('#mail-delete-yes'); await p.locator('#view-mail-done').waitFor();
  await p.click('#mail-done-home'); await p.click('#mail-code-button'); await p.fill('#mail-code-input', code); await p.click('#mail-open');
  await p.locator('#mail-enter-error:has-text("nichts gefunden")').waitFor();
  await p.screenshot({ path: join(SHOTS, 'mail-standin-unknown-360.png'), fullPage: true });
  assert.deepEqual(errs.filter((e) => !e.startsWith('warning')), []);
  await browser.close();
});

test('chat start: the "same" opt-in sends the lookup id in hello, never the code; the note on "unavailable"; a long wait offers writing', async () => {
    const browser = await chromium.launch({ executablePath: '/usr/lib/chromium/chromium', headless: true });
    const ctx = await browser.newContext({ viewport: { width: 360, height: 740 }, locale: 'de-DE' });
    await ctx.route(`${URL}/config.json`, async (route) => {
        const r = await route.fetch();
        route.fulfill({ response: r, json: { ...(await r.json()), mail: true, mail_same: true, open: true, mail_wait_threshold: -1 } });
    });
    const hellos = [];
    // the real lotsed behind, which answers "same":"unavailable" for a code
    // nobody has; hello's "same" is noted on the way
    await ctx.routeWebSocket(/\/ws$/, (ws) => {
        const server = ws.connectToServer();
        ws.onMessage((data) => {
            if (typeof data === 'string' && JSON.parse(data).t === 'hello') hellos.push(JSON.parse(data).same);
            server.send(data);
        });
        server.onMessage((data) => ws.send(data));
    });
    const p = await ctx.newPage();
    await p.goto(`${URL}/`);
    await p.locator('#mail-offer').waitFor();
    assert.equal(await p.locator('#start-form').isVisible(), true, 'the chat comes first while it is open');
    await p.check('input[name="topic"][value="school"]');
    await p.check('#same-check');
    await p.fill('#same-code', 'abc');
    await p.click('#start-button');
    await p.locator('#same-bad').waitFor();
    await p.evaluate(() => window.scrollTo(0, 0));
    await p.screenshot({ path: join(SHOTS, 'mail-standin-same-360.png'), fullPage: true });
    const code = 'ABCDE-FGHJK-MNPQR-STVWX';
    await p.fill('#same-code', code.toLowerCase());
    await p.click('#start-button');
    await p.locator('#view-queue').waitFor();
    assert.deepEqual(hellos, [b64encode(mc.derive(mc.codeParse(code)).lookup)], 'hello carried the lookup id, never the code');
    await p.locator('#same-note:has-text("nicht da")').waitFor();
    await p.locator('#queue-mail').waitFor(); // above mail_wait_threshold (-1 here)
    await p.evaluate(() => window.scrollTo(0, 0));
    await p.screenshot({ path: join(SHOTS, 'mail-standin-queue-360.png'), fullPage: true });
    await p.click('#queue-mail-button');
    await p.locator('#view-mail-write').waitFor();
    assert.equal(await p.locator('input[name="mail-topic"][value="school"]').isChecked(), true);
    assert.equal(await p.locator('#same-code').inputValue(), '');
    await browser.close();
});

