// The young person's kept conversation (web/js/young-keep.js, issue #14 point
// 7) against a sessionStorage stand-in: lines come back in order, anything not
// a line the page wrote is ignored, a full storage drops the oldest lines, the
// cap holds, and forgetting leaves nothing.
// Run: node --test tests/browser/keep.test.mjs
import assert from 'node:assert/strict';
import { beforeEach, test } from 'node:test';

/** sessionStorage with a byte budget (UTF-16 code units, as browsers count). */
class Storage {
    constructor(budget = Infinity) {
        this.map = new Map();
        this.budget = budget;
    }
    getItem(k) {
        return this.map.has(k) ? this.map.get(k) : null;
    }
    setItem(k, v) {
        const used = [...this.map].reduce((n, [key, val]) => n + (key === k ? 0 : key.length + val.length), 0);
        if (used + k.length + v.length > this.budget) throw new Error('QuotaExceededError');
        this.map.set(k, String(v));
    }
    removeItem(k) {
        this.map.delete(k);
    }
}

const K = await import('../../web/js/young-keep.js');
const KEY = 'lotse.conversation';

beforeEach(() => {
    globalThis.sessionStorage = new Storage();
});

test('lines come back in the order kept; forgetting leaves nothing', () => {
    K.keepLine({ k: 'system', key: 'chat.hello', vars: { name: 'Anna' }, at: 1 });
    K.keepLine({ k: 'mine', text: 'Hallo <b>', at: 2 });
    K.keepLine({ k: 'theirs', text: 'Ich bin da.', at: 3 });
    assert.deepEqual(K.keptLines().map((l) => l.text ?? l.key), ['chat.hello', 'Hallo <b>', 'Ich bin da.']);
    assert.deepEqual(K.keptLines()[0].vars, { name: 'Anna' });
    K.forgetConversation();
    assert.deepEqual(K.keptLines(), []);
    assert.equal(sessionStorage.getItem(KEY), null);
});

test('what the page did not write is ignored: broken JSON, other shapes, lines without a time', () => {
    sessionStorage.setItem(KEY, '{not json');
    assert.deepEqual(K.keptLines(), []);
    sessionStorage.setItem(KEY, JSON.stringify({ k: 'mine', text: 'x', at: 1 }));
    assert.deepEqual(K.keptLines(), []);
    sessionStorage.setItem(KEY, JSON.stringify([
        { k: 'mine', text: 'ok', at: 1 }, { k: 'mine', text: 5, at: 2 }, { k: 'html', text: '<img>', at: 3 },
        { k: 'theirs', text: 'no time' }, { k: 'system', key: 7, at: 4 }, null, 'x',
    ]));
    assert.deepEqual(K.keptLines(), [{ k: 'mine', text: 'ok', at: 1 }]);
});

test('a full storage drops the oldest lines, never the newest', () => {
    globalThis.sessionStorage = new Storage(3000);
    for (let i = 0; i < 60; i++) K.keepLine({ k: i % 2 ? 'mine' : 'theirs', text: `Nachricht ${i} ${'x'.repeat(60)}`, at: i });
    const kept = K.keptLines();
    assert.ok(kept.length > 5 && kept.length < 60, `${kept.length} lines kept`);
    assert.equal(kept.at(-1).at, 59);
    assert.deepEqual(kept.map((l) => l.at), [...Array(kept.length).keys()].map((i) => 60 - kept.length + i));
});

test('at most 400 lines: a long chat keeps its newest', () => {
    for (let i = 0; i < 450; i++) K.keepLine({ k: 'mine', text: String(i), at: i });
    const kept = K.keptLines();
    assert.equal(kept.length, 400);
    assert.equal(kept[0].text, '50');
    assert.equal(kept.at(-1).text, '449');
});
