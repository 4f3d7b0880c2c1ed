// Browser end-to-end: the counsellor console with four chats at 1280 × 800
// (issue 14, points 3, 5 and 6). Its own counsellor ("cleo", capacity 4,
// made here with lotsectl) so the other files' counsellors keep theirs.
// Set up by run.sh like e2e.test.mjs.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import {
    LAPTOP, certifiedCounsellor, counsellorSays, launch, lotsectl, newContext, shotsDir, takeNext,
    youngSays, youngWaiting
} from './kit.mjs';

let SHOTS;
const CLEO = 'cleo';
const CLEO_PASSWORD = 'cleo-test-password';
// the screenshots' name: LOTSE_SHOT_TAG=before on the old client
const TAG = process.env.LOTSE_SHOT_TAG || 'after';

let browser;
const problems = [];

before(async () => {
    SHOTS = shotsDir();
    lotsectl(['account-add', '--handle', CLEO, '--role', 'counsellor', '--name', 'Cleo', '--topics',
        'family,school,friends,prison,other', '--capacity', '4', '--password-stdin', '--pwhash-cost', 'min',
        '--insecure-for-tests'], `${CLEO_PASSWORD}\n`);
    browser = await launch();
});

after(async () => {
    if (browser) await browser.close();
});

function assertNoProblems() {
    const found = problems.splice(0);
    assert.deepEqual(found, [], 'console errors');
}

/** Cleo's console: device certified, logged in, available for `capacity` chats. */
async function counsellor(capacity = 4) {
    const context = await newContext(browser, problems, { viewport: LAPTOP });
    return { context, page: await certifiedCounsellor(context, CLEO, CLEO_PASSWORD, capacity) };
}

/** A young person who chose a topic and waits. */
async function young(topic) {
    const context = await newContext(browser, problems, { viewport: LAPTOP });
    return { context, page: await youngWaiting(context, topic) };
}

/** The texts of a list's messages (not the system lines), top to bottom. */
async function order(scope) {
    return scope.locator('.msg:not(.system) .body').allTextContents();
}

test('four chats at 1280 × 800: labels tell them apart, times, typing both ways, templates, take off at capacity', async () => {
    // the organisation's canned reply, made with lotsectl, reaches the console at login
    assert.match(lotsectl(['template-add', '--title', 'Willkommen', '--text-stdin'],
        'Schön, dass du schreibst.\nIch bin für dich da.\n'), /^template \d+ added/);
    assert.match(lotsectl(['template-list']), /Willkommen\s+Schön, dass du schreibst\.\\nIch bin für dich da\./);
    const { context: cctx, page: c } = await counsellor(4);
    // opt in to the sound when someone waits: the console says when it told
    await c.check('#notify-sound');
    const youngs = [];
    const panels = [];
    for (const topic of ['family', 'family', 'school', 'friends']) {
        const y = await young(topic);
        youngs.push(y);
        if (youngs.length === 1) await c.locator('#notify-last', { hasText: 'Zuletzt gemeldet' }).waitFor();
        panels.push(await takeNext(c, y.page));
    }
    // at capacity: "Nächsten Chat übernehmen" is off and says why
    assert.equal(await c.locator('#take').isDisabled(), true);
    await c.locator('#take-msg', { hasText: 'so viele Chats' }).waitFor();

    // two "Familie" chats have different labels: topic, short number, waiting time
    const labels = await c.locator('#tabs [role="tab"]').allTextContents();
    assert.equal(labels.length, 4);
    assert.match(labels[0], /^Familie\s*#1.*wartete/);
    assert.match(labels[1], /^Familie\s*#2.*wartete/);
    assert.notEqual(labels[0], labels[1]);

    for (let i = 0; i < 4; i++) {
        await c.locator(`#tab-${await panels[i].getAttribute('data-sid')}`).click();
        await youngSays(youngs[i].page, `Hallo, ich bin Nummer ${i + 1}.`);
        await panels[i].locator('.msg.theirs', { hasText: `Nummer ${i + 1}` }).waitFor();
        await counsellorSays(panels[i], `Hallo Nummer ${i + 1}, schön, dass du schreibst.`);
        await youngs[i].page.locator('.msg.theirs', { hasText: `Hallo Nummer ${i + 1}` }).waitFor();
    }
    // every message shows its time, on both sides
    const first = c.locator('#tabs [role="tab"]').first();
    await first.click();
    const y0 = youngs[0].page;
    for (const scope of [panels[0], y0]) {
        for (const at of await scope.locator('.msg:not(.system) time.at').allTextContents()) assert.match(at, /^\d\d:\d\d$/);
        assert.equal(await scope.locator('.msg:not(.system) time.at').count(), 2);
    }

    // typing travels inside the channel, both ways
    await panels[0].locator('textarea').pressSequentially('Moment');
    await y0.locator('#typing', { hasText: 'schreibt' }).waitFor();
    await y0.screenshot({ path: join(SHOTS, `console-${TAG}-young-typing-1280.png`) });
    await y0.locator('#text').pressSequentially('Ich');
    await panels[0].locator('.typing', { hasText: 'schreibt gerade' }).waitFor();
    await counsellorSays(panels[0], 'Moment, ich schaue nach.');
    await y0.locator('.msg.theirs', { hasText: 'Moment, ich schaue nach.' }).waitFor();
    await y0.locator('#typing').waitFor({ state: 'hidden' });

    // a personal template, kept in this browser, goes into the composer
    await c.locator('.templates summary').click();
    await c.fill('#tpl-title', 'Gruß');
    await c.fill('#tpl-text', 'Danke, dass du dich gemeldet hast.');
    await c.click('#tpl-add');
    await c.locator('#tpl-mine li', { hasText: 'Gruß' }).waitFor();
    await panels[0].locator('textarea').fill('');
    await panels[0].locator('.tpl-toggle').click();
    await panels[0].locator('.tpl-item', { hasText: 'Gruß' }).click();
    assert.equal(await panels[0].locator('textarea').inputValue(), 'Danke, dass du dich gemeldet hast.');
    await panels[0].locator('textarea').fill('');
    await panels[0].locator('.tpl-toggle').click();
    await panels[0].locator('.tpl-group', { hasText: 'Von der Organisation' }).locator('.tpl-item', { hasText: 'Willkommen' }).click();
    assert.equal(await panels[0].locator('textarea').inputValue(), 'Schön, dass du schreibst.\nIch bin für dich da.');
    await panels[0].locator('textarea').fill('');
    await c.locator('.templates summary').click();

    // the conversation has the height: the list takes most of the window
    const box = await panels[0].locator('.messages').boundingBox();
    assert.ok(box.height >= 300, `message area ${box.height} px high`);
    const tabBox = await first.boundingBox();
    assert.ok(tabBox.y >= 56, 'the tabs are not under the top bar');

    await c.screenshot({ path: join(SHOTS, `console-${TAG}-four-chats-1280.png`) });
    for (const y of youngs) await y.context.close();
    await cctx.close();
    assertNoProblems();
});

test('"Chat beenden" asks first; the closing message reaches the young person before the end; take comes back', async () => {
    const { context: cctx, page: c } = await counsellor(1);
    const y = await young('family');
    const panel = await takeNext(c, y.page);
    assert.equal(await c.locator('#take').isDisabled(), true, 'one chat of one: take is off');

    await panel.locator('button', { hasText: 'Chat beenden' }).click();
    await panel.locator('.end-confirm').waitFor();
    assert.equal(await panel.getAttribute('data-ended'), null, 'not ended before the confirmation');
    await panel.locator('.end-no').click();
    await panel.locator('.end-confirm').waitFor({ state: 'hidden' });

    await panel.locator('button', { hasText: 'Chat beenden' }).click();
    await panel.locator('.end-closing').fill('Alles Gute dir! Du kannst jederzeit wieder schreiben.');
    await c.screenshot({ path: join(SHOTS, `console-${TAG}-end-confirm-1280.png`) });
    await panel.locator('.end-yes').click();
    await y.page.locator('.msg.theirs', { hasText: 'Alles Gute dir!' }).waitFor({ state: 'attached' });
    await panel.locator('.msg.system', { hasText: 'beendet' }).waitFor();
    assert.equal(await panel.getAttribute('data-ended'), 'ended_by_counsellor');
    // the young person's page keeps the conversation, the closing message included (ending.e2e)
    await y.page.locator('#chat-ended').waitFor();
    assert.equal(await y.page.locator('.msg.theirs', { hasText: 'Alles Gute dir!' }).isVisible(), true);
    assert.equal(await c.locator('#take').isDisabled(), false, 'the ended chat frees the place');
    await y.context.close();
    await cctx.close();
    assertNoProblems();
});

test('after a reconnect both sides read the same order: by sender time (Y1 Y2 C1 C2)', async () => {
    const { context: cctx, page: c } = await counsellor(1);
    const y = await young('school');
    const panel = await takeNext(c, y.page);

    await y.context.setOffline(true);
    await y.page.locator('#conn-banner', { hasText: 'Verbindung unterbrochen' }).waitFor();
    await youngSays(y.page, 'Y1');
    await youngSays(y.page, 'Y2');
    await panel.locator('.chat-notice', { hasText: 'nicht verbunden' }).waitFor();
    await new Promise((r) => setTimeout(r, 50));
    await counsellorSays(panel, 'C1');
    await counsellorSays(panel, 'C2');
    await y.context.setOffline(false);
    await panel.locator('.msg.theirs', { hasText: 'Y2' }).waitFor();
    await y.page.locator('.msg.theirs', { hasText: 'C2' }).waitFor();

    assert.deepEqual(await order(y.page.locator('#messages')), ['Y1', 'Y2', 'C1', 'C2']);
    assert.deepEqual(await order(panel), ['Y1', 'Y2', 'C1', 'C2']);
    await c.screenshot({ path: join(SHOTS, `console-${TAG}-order-after-reconnect-1280.png`) });
    await y.page.screenshot({ path: join(SHOTS, `young-${TAG}-order-after-reconnect-1280.png`) });
    await y.context.close();
    await cctx.close();
    assertNoProblems();
});
