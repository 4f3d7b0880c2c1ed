// Browser end-to-end: no stranded chats (issue #14, point 2). A counsellor at
// 1280 px with two chats open is warned before logging out; on logout both
// chats go back to the queue at their old places, the young people (360 px)
// read that someone else takes over, and a colleague takes the older one,
// re-keyed. A counsellor whose tab is simply gone: the young person reads
// "verbindet sich gerade neu" for the resume grace (run.sh: 15 s), then the
// chat is handed back the same way, and what the young person wrote meanwhile
// (never confirmed) reaches the colleague who takes over. Closing the console's tab with chats open
// asks first. Set up by run.sh like e2e.test.mjs.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import {
    LAPTOP, PHONE, certifiedCounsellor, env, launch, newContext, shotsDir, takeNext, youngWaiting
} from './kit.mjs';

let SHOTS;
let browser;
const problems = [];

before(async () => {
    SHOTS = shotsDir();
    browser = await launch();
});

after(async () => {
    if (browser) await browser.close();
});

/** A console at 1280 px, logged in and available for capacity chats. */
async function counsellor(handle, password, capacity = 1) {
    const context = await newContext(browser, problems, { viewport: LAPTOP });
    return { context, page: await certifiedCounsellor(context, handle, password, capacity > 1 ? capacity : 0) };
}

/** A young person on a phone, queued in topic. */
async function young(topic) {
    const context = await newContext(browser, problems, { viewport: PHONE });
    return { context, page: await youngWaiting(context, topic) };
}

async function say(from, to, text) {
    await from.fill('#text', text);
    await from.press('#text', 'Enter');
    await to.locator('.msg.theirs', { hasText: text }).first().waitFor({ state: 'attached' }); // a panel behind another tab is hidden
}

test('logout with two chats: warned first, both back in the queue, the young read someone else takes over, a colleague takes one', async () => {
    const anna = await counsellor(env('LOTSE_COUNSELLOR'), env('LOTSE_COUNSELLOR_PASSWORD'), 2);
    const c = anna.page;
    const y1 = await young('family');
    await takeNext(c, y1.page);
    const y2 = await young('family');
    await takeNext(c, y2.page);
    const panel1 = c.locator('#panels [role="tabpanel"]').first();
    await say(y1.page, panel1, 'Bist du noch da?');

    // "Abmelden" asks first; cancelling keeps everything as it was
    const asked = [];
    c.once('dialog', (d) => { asked.push(d.message()); d.dismiss(); });
    await c.click('#logout');
    await c.waitForTimeout(300);
    assert.equal(asked.length, 1);
    assert.match(asked[0], /2 offene Chats/);
    assert.match(asked[0], /zurück in die Warteschlange/);
    assert.equal(await c.locator('#view-console').isVisible(), true);
    await say(y2.page, c.locator('#panels [role="tabpanel"]').nth(1), 'Hallo?');

    // closing the tab with chats open asks too (the browser's own question)
    const unload = [];
    c.once('dialog', (d) => { unload.push(d.type()); d.dismiss(); });
    await c.close({ runBeforeUnload: true });
    await c.waitForTimeout(300);
    assert.deepEqual(unload, ['beforeunload']);
    assert.equal(c.isClosed(), false);

    c.once('dialog', (d) => d.accept());
    await c.click('#logout');
    await c.locator('#view-login').waitFor();

    // both young people: told, their conversation still there, waiting again
    for (const y of [y1.page, y2.page]) {
        await y.locator('.msg.system', { hasText: 'Anna musste das Gespräch verlassen. Jemand anderes übernimmt.' }).waitFor();
        await y.locator('#chat-notice', { hasText: 'Du behältst deinen Platz' }).waitFor();
        assert.equal(await y.locator('#text').isDisabled(), true);
        assert.equal(await y.locator('#view-queue').isVisible(), false);
    }
    await y1.page.screenshot({ path: join(SHOTS, 'handback-after-logout-360.png') });

    // a colleague takes the chat that waited longest first, re-keyed; it goes on
    const ben = await counsellor(env('LOTSE_COUNSELLOR2'), env('LOTSE_COUNSELLOR2_PASSWORD'), 2);
    await ben.page.locator('#queue-total').filter({ hasText: '2 warten' }).waitFor();
    await takeNext(ben.page, y1.page);
    assert.equal(await y2.page.locator('#text').isDisabled(), true, 'y2 came later: still waiting');
    await y1.page.locator('.msg.system', { hasText: 'Jetzt schreibst du mit Ben' }).waitFor();
    const bp = ben.page.locator('#panels [role="tabpanel"]').first();
    await say(y1.page, bp, 'Hallo Ben');
    await bp.locator('textarea').fill('Ich bin da.');
    await bp.locator('button[type="submit"]').click();
    await y1.page.locator('.msg.theirs', { hasText: 'Ich bin da.' }).waitFor();
    await y1.page.screenshot({ path: join(SHOTS, 'handback-colleague-360.png') });
    await takeNext(ben.page, y2.page);
    await say(y2.page, ben.page.locator('#panels [role="tabpanel"]').nth(1), 'Und ich?');

    for (const y of [y1.page, y2.page]) {
        await y.click('#end-chat');
        await y.click('#end-yes');
    }
    for (const s of [y1, y2, ben, anna]) await s.context.close();
    assert.deepEqual(problems.splice(0), [], 'console errors');
});

test('a counsellor whose tab is gone: "verbindet sich neu" within the grace, then handed back; what she never confirmed reaches the colleague', async () => {
    const anna = await counsellor(env('LOTSE_COUNSELLOR'), env('LOTSE_COUNSELLOR_PASSWORD'));
    const y = await young('school');
    await takeNext(anna.page, y.page);
    await say(y.page, anna.page.locator('#panels [role="tabpanel"]').first(), 'Hallo');
    await y.page.locator('.msg.mine .state.delivered').first().waitFor();
    await anna.context.close(); // a dropped connection: the protocol has no "tab closed"
    await y.page.locator('#chat-notice', { hasText: 'verbindet sich gerade neu' }).waitFor();
    // written while she is away: nobody confirms it
    await y.page.fill('#text', 'Bist du noch da? Mein Papa kommt morgen raus.');
    await y.page.press('#text', 'Enter');
    const unconfirmed = y.page.locator('.msg.mine', { hasText: 'Mein Papa kommt morgen raus.' });
    await unconfirmed.waitFor();
    await y.page.screenshot({ path: join(SHOTS, 'handback-before-away-360.png') });
    // run.sh's lotsed: resume grace 15 s
    await y.page.locator('.msg.system', { hasText: 'Anna musste das Gespräch verlassen' }).waitFor({ timeout: 25000 });
    await y.page.locator('#chat-notice', { hasText: /Du behältst deinen Platz|Gerade ist niemand frei/ }).waitFor();
    assert.equal(await unconfirmed.locator('.state').textContent(), '… wird gesendet');
    await y.page.screenshot({ path: join(SHOTS, 'handback-after-away-360.png') });

    // the colleague who takes over reads it (sent again on the new keys), once,
    // at its own time; the young person's line turns "angekommen"
    const ben = await counsellor(env('LOTSE_COUNSELLOR2'), env('LOTSE_COUNSELLOR2_PASSWORD'));
    const bp = await takeNext(ben.page, y.page);
    await bp.locator('.msg.theirs', { hasText: 'Mein Papa kommt morgen raus.' }).waitFor();
    await unconfirmed.locator('.state.delivered').waitFor();
    await ben.page.waitForTimeout(500);
    assert.equal(await bp.locator('.msg.theirs', { hasText: 'Mein Papa kommt morgen raus.' }).count(), 1);
    assert.equal(await bp.locator('.msg.theirs', { hasText: 'Hallo' }).count(), 0, 'what Anna confirmed stays hers');
    await say(y.page, bp, 'Danke');
    await y.page.click('#end-chat');
    await y.page.click('#end-yes');
    for (const c of [y, ben]) await c.context.close();
    assert.deepEqual(problems.splice(0), [], 'console errors');
});
