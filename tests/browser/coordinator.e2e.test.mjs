// Browser end-to-end: the network coordinator's view on a 1280-pixel laptop
// (issue 15): every organisation side by side (waiting, longest wait,
// counsellors online, chats running, mail open and the oldest) with the
// network's total, from the server's `orgs`; and a supervisor of one
// organisation, who sees its name and no table of organisations. Three
// organisations besides 'main' are made in the run's database; lotsed reads
// them within 30 seconds (orgs.c), and the mail board within 30 (mail_board.c).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { LAPTOP, env, launch, lotsectl, newContext, psql, shotsDir, youngWaiting } from './kit.mjs';

const URL = env('LOTSE_URL');
const PASSWORD = 'coordinator-test-password';
let SHOTS;
let browser;
const problems = [];
const contexts = [];

before(async () => {
    SHOTS = shotsDir();
    browser = await launch();
    psql(`INSERT INTO organisations (slug, name, regions, takes_pool) VALUES
        ('nord', 'Familienhilfe Nord', '{10,11,12}', false),
        ('sued', 'Jugendhilfe Süd', '{DE-BY}', false),
        ('ost', 'Netz Ost – Beratung für Angehörige', '{}', true) ON CONFLICT (slug) DO NOTHING`);
    for (const [handle, role] of [['cora', 'coordinator'], ['nina', 'supervisor']]) {
        lotsectl(['account-add', '--handle', handle, '--role', role, '--name', handle === 'cora' ? 'Cora' : 'Nina',
            '--password-stdin', '--pwhash-cost', 'min', '--insecure-for-tests'], `${PASSWORD}\n`);
    }
    psql(`UPDATE accounts SET org_id = (SELECT id FROM organisations WHERE slug = 'nord') WHERE handle = 'nina'`);
    // open threads: two of nord, one of sued, one of the pool
    const thread = (i, slug) => psql(`INSERT INTO mail_threads (tid, lookup_hash, box_pk, sign_pk, topic,
        created_hour, last_day, waiting_since, n, bytes, org_id) VALUES (decode(md5('ct${i}'), 'hex'),
        decode(md5('cl${i}') || md5('cm${i}'), 'hex'), decode(md5('cb${i}') || md5('x'), 'hex'),
        decode(md5('cs${i}') || md5('y'), 'hex'), 'family', date_trunc('hour', now()) - interval '${i} hours',
        current_date, date_trunc('hour', now()) - interval '${i} hours', 1, 100,
        ${slug ? `(SELECT id FROM organisations WHERE slug = '${slug}')` : 'NULL'})
        ON CONFLICT DO NOTHING`);
    thread(3, 'nord');
    thread(1, 'nord');
    thread(2, 'sued');
    thread(5, null);
});

after(async () => {
    for (const c of contexts) await c.close().catch(() => {});
    if (browser) await browser.close();
    psql(`DELETE FROM mail_threads WHERE tid IN (decode(md5('ct1'), 'hex'), decode(md5('ct2'), 'hex'),
        decode(md5('ct3'), 'hex'), decode(md5('ct5'), 'hex'))`);
});

async function laptop() {
    const context = await newContext(browser, problems, { viewport: LAPTOP });
    contexts.push(context);
    return context;
}

async function login(handle) {
    const page = await (await laptop()).newPage();
    await page.goto(`${URL}/supervisor/`);
    await page.fill('#handle', handle);
    await page.fill('#password', PASSWORD);
    await page.click('#login-button');
    await page.locator('#view-dash').waitFor();
    return page;
}

/** The numbers of a row of the table: waiting, longest, online, running, mail, oldest. */
async function cells(row) {
    return row.locator('td').allTextContents();
}

test('the coordinator sees every organisation side by side and the network total; a supervisor their own', async () => {
    // two young people wait (no region: the network-wide organisations' chats)
    await youngWaiting(await laptop(), 'family');
    await youngWaiting(await laptop(), 'school');

    const c = await login('cora');
    assert.match(await c.locator('#who').textContent(), /Cora · Koordination \(alle Organisationen\)/);
    await c.locator('#orgs-card:not([hidden])').waitFor();
    // lotsed reads the new organisations and threads within 30 s each
    const nord = c.locator('#orgs-rows tr[data-org="nord"]');
    await nord.locator('.org-mail', { hasText: /^2$/ }).waitFor({ timeout: 45000 });
    await c.locator('#orgs-rows tr[data-org="sued"] .org-mail', { hasText: /^1$/ }).waitFor({ timeout: 45000 });
    await c.locator('#orgs-total .org-waiting', { hasText: /^[2-9]$/ }).waitFor({ timeout: 15000 });
    const names = await c.locator('#orgs-rows tr th').allTextContents();
    for (const n of ['Beratungsstelle', 'Familienhilfe Nord', 'Jugendhilfe Süd', 'Netz Ost – Beratung für Angehörige',
        'Pool (keine Organisation)']) assert.ok(names.includes(n), `${n} in ${names}`);
    // mail open: the total is the sum of the rows (a thread has one organisation)
    const rows = c.locator('#orgs-rows tr');
    let mail = 0;
    for (let i = 0; i < await rows.count(); i++) mail += Number((await cells(rows.nth(i)))[4]);
    const total = await cells(c.locator('#orgs-total tr'));
    assert.equal(Number(total[4]), mail);
    assert.equal(Number(total[4]), Number(psql(`SELECT count(*) FROM mail_threads WHERE state = 'open'`)));
    // the oldest of nord's waits about three hours
    assert.match((await cells(nord))[5], /Std\./);
    // at a glance at 1280 px: the whole table in view, nothing cut off
    const box = await c.locator('#orgs-table').boundingBox();
    assert.ok(box.width <= 1280 && box.x >= 0, `table width ${box.width}`);
    const overflow = await c.locator('#orgs-card .table-scroll').evaluate((e) => e.scrollWidth > e.clientWidth);
    assert.equal(overflow, false);
    await c.locator('#orgs-card').scrollIntoViewIfNeeded();
    await c.screenshot({ path: join(SHOTS, 'coordinator-1280.png'), fullPage: false });
    await c.click('#lang');
    await c.locator('#orgs-title', { hasText: 'Organisations in the network' }).waitFor();
    await c.locator('#orgs-total th', { hasText: 'Network total' }).waitFor();

    // nord's supervisor: the organisation's name, no table, nord's mail only
    const s = await login('nina');
    assert.match(await s.locator('#who').textContent(), /Nina · Familienhilfe Nord/);
    await s.locator('#v-mail-open', { hasText: /^2$/ }).waitFor({ timeout: 15000 });
    assert.equal(await s.locator('#orgs-card').isHidden(), true);
    assert.deepEqual(problems, []);
});
