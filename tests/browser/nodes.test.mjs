// The client's choice of node (web/js/ws.js, PROTOCOL.md §5.4) without a
// browser: a stand-in WebSocket records the URLs and plays the server. The
// page remembers the node of welcome/resumed/login_ok, goes to /n/<node>/ws
// after `moved` (its close reported as 4010 whatever the proxy passed on),
// waits 1–3 s on the generic /ws when no node serves, and after a drop tries
// the node's path twice before the generic /ws.
// Run: node --test tests/browser/nodes.test.mjs
import assert from 'node:assert/strict';
import { beforeEach, test } from 'node:test';

/** A WebSocket stand-in: every instance is kept; the test opens, speaks and closes. */
class FakeSocket {
    static OPEN = 1;
    static all = [];
    constructor(url, proto) {
        this.url = url;
        this.proto = proto;
        this.readyState = 0;
        this.sent = [];
        this.listeners = {};
        FakeSocket.all.push(this);
    }
    addEventListener(type, fn) {
        (this.listeners[type] ||= []).push(fn);
    }
    emit(type, ev = {}) {
        for (const fn of this.listeners[type] || []) fn(ev);
    }
    send(x) {
        this.sent.push(x);
    }
    close() {
        this.closedByClient = true;
    }
    // the server side
    open() {
        this.readyState = 1;
        this.emit('open');
    }
    say(obj) {
        this.emit('message', { data: JSON.stringify(obj) });
    }
    end(code) {
        this.readyState = 3;
        this.emit('close', { code });
    }
    /** The proxy could not reach the node: closed without ever opening. */
    refuse() {
        this.end(1006);
    }
}

globalThis.WebSocket = FakeSocket;
globalThis.location = { protocol: 'https:', host: 'chat.example' };
const { CLOSE_MOVED, NodeRoute, connect, nodeOf } = await import('../../web/js/ws.js');

/** One connection of a page: what it got. */
function open(route) {
    const got = { messages: [], closes: [], moved: [] };
    connect({
        route,
        onMessage: (m) => got.messages.push(m),
        onClose: (code) => got.closes.push(code),
        onMoved: (m) => got.moved.push(m),
    });
    got.sock = FakeSocket.all.at(-1);
    return got;
}

beforeEach(() => {
    FakeSocket.all = [];
});

test('single node: no "node" anywhere, every connection goes to /ws as before', () => {
    const route = new NodeRoute();
    const c = open(route);
    assert.equal(c.sock.url, 'wss://chat.example/ws');
    c.sock.open();
    c.sock.say({ t: 'welcome', sid: '00', resume: 'x' });
    assert.equal(c.messages.length, 1);
    c.sock.end(1006);
    assert.deepEqual(c.closes, [1006]);
    assert.equal(open(route).sock.url, 'wss://chat.example/ws');
    assert.equal(open().sock.url, 'wss://chat.example/ws', 'without a route');
});

test('the node of welcome, resumed and login_ok is remembered; malformed names are not', () => {
    for (const t of ['welcome', 'resumed', 'login_ok']) {
        const route = new NodeRoute();
        const c = open(route);
        c.sock.open();
        c.sock.say({ t, node: 'a' });
        assert.equal(route.path(), '/n/a/ws', t);
        assert.equal(c.messages[0].t, t, 'the page still gets the message');
    }
    assert.equal(nodeOf({ node: '../x' }), null);
    assert.equal(nodeOf({ node: 'A' }), null);
    assert.equal(nodeOf({ node: 'abcdefghijklmnopq' }), null, '17 characters');
    assert.equal(nodeOf({ node: 7 }), null);
    assert.equal(nodeOf({ node: 'b2' }), 'b2');
    const route = new NodeRoute();
    route.learn({ t: 'welcome', node: 'a' });
    route.learn({ t: 'resumed', node: '../../admin' });
    assert.equal(route.path(), '/n/a/ws');
});

test('moved: not a message for the page; the close is 4010; the next connection goes to the new node at once', () => {
    const route = new NodeRoute();
    const c = open(route);
    c.sock.open();
    c.sock.say({ t: 'welcome', node: 'a' });
    c.sock.say({ t: 'moved', node: 'b' });
    assert.equal(c.sock.closedByClient, true, 'the client closes at once');
    c.sock.say({ t: 'queue', pos: 1 }); // nothing after moved counts
    c.sock.end(1000); // the proxy may pass on another code than 4010
    assert.deepEqual(c.messages.map((m) => m.t), ['welcome']);
    assert.deepEqual(c.moved, [{ t: 'moved', node: 'b' }]);
    assert.deepEqual(c.closes, [CLOSE_MOVED]);
    assert.equal(CLOSE_MOVED, 4010);
    assert.equal(route.takeWait(), 0);
    const d = open(route);
    assert.equal(d.sock.url, 'wss://chat.example/n/b/ws');
    d.sock.open();
    d.sock.say({ t: 'resumed', node: 'b' });
    assert.equal(route.path(), '/n/b/ws');
});

test('moved with node null: the generic /ws after 1 to 3 s', () => {
    for (const r of [0, 0.5, 0.9999]) {
        const route = new NodeRoute(() => r);
        const c = open(route);
        c.sock.open();
        c.sock.say({ t: 'welcome', node: 'a' });
        c.sock.say({ t: 'moved', node: null });
        c.sock.end(4010);
        assert.deepEqual(c.closes, [4010]);
        const wait = route.takeWait();
        assert.ok(wait >= 1000 && wait <= 3000, `wait ${wait}`);
        assert.equal(route.takeWait(), 0, 'once');
        assert.equal(open(route).sock.url, 'wss://chat.example/ws');
    }
});

test('a drop: the node path twice, then the generic /ws, where a standby sends the page on', () => {
    const route = new NodeRoute();
    const c = open(route);
    c.sock.open();
    c.sock.say({ t: 'login_ok', node: 'a' });
    c.sock.end(1006); // node a killed
    assert.deepEqual(c.closes, [1006]);
    const urls = [];
    for (let i = 0; i < 2; i++) {
        const d = open(route);
        urls.push(d.sock.url);
        d.sock.refuse(); // nginx: a is down
        assert.deepEqual(d.closes, [1006]);
    }
    const g = open(route);
    urls.push(g.sock.url);
    assert.deepEqual(urls, ['wss://chat.example/n/a/ws', 'wss://chat.example/n/a/ws', 'wss://chat.example/ws']);
    // the generic /ws reached b, which holds the lease now: it answers moved b
    g.sock.open();
    g.sock.say({ t: 'moved', node: 'b' });
    g.sock.end(4010);
    assert.deepEqual(g.closes, [4010]);
    const b = open(route);
    assert.equal(b.sock.url, 'wss://chat.example/n/b/ws');
    b.sock.open();
    b.sock.say({ t: 'resumed', node: 'b' });
    b.sock.end(1006); // b dropped, still up: its path again
    assert.equal(open(route).sock.url, 'wss://chat.example/n/b/ws');
});

test('a connection that opens on the node path resets the count of failures', () => {
    const route = new NodeRoute();
    route.learn({ t: 'welcome', node: 'a' });
    open(route).sock.refuse();
    const c = open(route);
    assert.equal(c.sock.url, 'wss://chat.example/n/a/ws');
    c.sock.open(); // up again (a short network gap)
    c.sock.end(1006);
    open(route).sock.refuse();
    assert.equal(open(route).sock.url, 'wss://chat.example/n/a/ws', 'one failure since it opened');
});

test('the generic /ws failing does not count against a node learnt later', () => {
    const route = new NodeRoute();
    open(route).sock.refuse();
    open(route).sock.refuse();
    route.learn({ t: 'welcome', node: 'b' });
    assert.equal(route.path(), '/n/b/ws');
});
